-- Key recovery and wedged groups (docs/protocol.md sections 4.4, 7.2 and 7.4.1).

-- A commit of the live epoch whose entry we validated but whose key box for us was bad:
-- the cursor stays before it until a key answer arrives. At most one per group.
CREATE TABLE stuck_commits (
    group_id   BLOB    PRIMARY KEY,
    epoch      INTEGER NOT NULL,          -- the entry whose secret we lack
    entry_hash BLOB    NOT NULL,
    relay_seq  INTEGER NOT NULL,          -- where the commit sits in the mailbox
    reason     INTEGER NOT NULL,          -- crypto.key_request.RequestReason
    request    BLOB,                      -- our signed key request, made at the first post
    posted_at  INTEGER                    -- when we last posted it; NULL before the first post
);

-- A commit at the live position whose entry broke the rules: the mailbox is wedged
-- until an organizer moves the group.
CREATE TABLE wedged_groups (
    group_id  BLOB    PRIMARY KEY,
    position  INTEGER NOT NULL,           -- log position of the rejected entry
    author    BLOB    NOT NULL,           -- as the entry claims it
    reason    TEXT    NOT NULL,
    relay_seq INTEGER NOT NULL
);

-- How far each group's help mailbox has been read, and when it was last read. Items up
-- to `cursor` are done with; up to `seen_upto` handled once (a group move we could not
-- judge yet holds `cursor` before it and is read again).
CREATE TABLE help_cursors (
    group_id   BLOB    PRIMARY KEY,
    cursor     INTEGER NOT NULL DEFAULT 0,
    seen_upto  INTEGER NOT NULL DEFAULT 0,
    checked_at INTEGER NOT NULL DEFAULT 0
);

-- Key requests of others we have warned about (once each).
CREATE TABLE seen_key_requests (
    group_id   BLOB NOT NULL,
    request_id BLOB NOT NULL,
    PRIMARY KEY (group_id, request_id)
);
