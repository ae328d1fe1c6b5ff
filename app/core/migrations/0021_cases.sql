-- Dispute cases (docs/union-tools.md, "Dispute cases"). A case is its own group; this row
-- says which parent group it belongs to and what its status is, as this client applied
-- the case group's records in mailbox order. A member who is neither the opener nor an
-- organizer of the parent never has a row here.
CREATE TABLE cases (
    case_group_id   BLOB    PRIMARY KEY,
    parent_group_id BLOB    NOT NULL,
    title           TEXT    NOT NULL,
    opener_pk       BLOB    NOT NULL,
    status          INTEGER NOT NULL,
    status_applied  INTEGER NOT NULL DEFAULT 0,  -- 1 once a status change came through the case group
    sharing         INTEGER NOT NULL DEFAULT 0,  -- crypto/case.py Sharing
    line_status     INTEGER NOT NULL DEFAULT 0,  -- a status line this client is to post (0: none)
    record_members  INTEGER NOT NULL DEFAULT 0,  -- the opener: case roster size at its last record
    opened_at       INTEGER NOT NULL
);
CREATE INDEX cases_by_parent ON cases (parent_group_id);
-- An organizer's own inbox for case invitations, one per relay (the auth seed reads it).
CREATE TABLE case_inboxes (
    relay_url  TEXT    PRIMARY KEY,
    inbox_id   BLOB    NOT NULL,
    auth_seed  BLOB    NOT NULL,
    registered INTEGER NOT NULL DEFAULT 0,
    cursor     INTEGER NOT NULL DEFAULT 0
);
-- Where each organizer of a group receives case invitations (content type 56).
CREATE TABLE case_inbox_directory (
    group_id     BLOB NOT NULL,
    organizer_pk BLOB NOT NULL,
    inbox_id     BLOB NOT NULL,
    PRIMARY KEY (group_id, organizer_pk)
);
-- As an organizer: our last case inbox announcement in each group, and the roster it
-- went to (a member who joined later did not see it, so it is sent again).
CREATE TABLE case_announcements (
    group_id      BLOB PRIMARY KEY,
    inbox_id      BLOB NOT NULL,
    roster_digest BLOB NOT NULL
);
-- The opener: which organizers it has sent an invitation to, per case.
CREATE TABLE case_invitations_sent (
    case_group_id BLOB NOT NULL,
    organizer_pk  BLOB NOT NULL,
    sent_at       INTEGER NOT NULL,
    PRIMARY KEY (case_group_id, organizer_pk)
);
