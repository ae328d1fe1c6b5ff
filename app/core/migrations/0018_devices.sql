-- Linked devices (docs/protocol.md section 8).
-- Links this profile takes part in: 'show' on the first device (it showed the code and
-- answers the request), 'add' on the new device (it sent the request, waits for the
-- bundle). The secret derives the link mailbox and key; it lives only in this database.
CREATE TABLE device_links (
    link_secret BLOB    PRIMARY KEY,
    side        TEXT    NOT NULL CHECK (side IN ('show', 'add')),
    relay_url   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    cursor      INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0
);
-- Devices this profile's identity key certified (the first device only).
CREATE TABLE devices (
    device_pk  BLOB    PRIMARY KEY,
    cert       BLOB    NOT NULL,
    added_at   INTEGER NOT NULL,
    removed_at INTEGER
);
-- Set on a linked device: its certificate by the member's identity key, and the member.
CREATE TABLE device_self (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    cert        BLOB    NOT NULL,
    member_name TEXT    NOT NULL
);
-- Ballots voted on another device of this member (docs/protocol.md 8.5): a vote under
-- our key image that is not in our own ballot outbox. Shown as "you voted"; a second
-- vote from this device is refused before anything is sent.
CREATE TABLE ballot_voted_elsewhere (
    group_id  BLOB    NOT NULL,
    ballot_id BLOB    NOT NULL,
    revision  INTEGER NOT NULL,
    PRIMARY KEY (group_id, ballot_id)
);
