-- Caucus profile database, schema 1. Every table lives inside SQLCipher.

CREATE TABLE profile (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    name            TEXT    NOT NULL,
    relay_url       TEXT    NOT NULL,
    signing_seed    BLOB    NOT NULL,
    delivery_secret BLOB    NOT NULL,
    delivery_cert   BLOB    NOT NULL,
    created_at      INTEGER NOT NULL
);

-- One personal inbox per relay we use (welcomes arrive there).
CREATE TABLE inboxes (
    relay_url  TEXT    PRIMARY KEY,
    inbox_id   BLOB    NOT NULL,
    auth_seed  BLOB    NOT NULL,
    registered INTEGER NOT NULL DEFAULT 0,
    cursor     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE groups (
    group_id   BLOB    PRIMARY KEY,
    relay_url  TEXT    NOT NULL,
    mailbox_id BLOB    NOT NULL,
    cursor     INTEGER NOT NULL,          -- last relay sequence number processed
    status     TEXT    NOT NULL DEFAULT 'active',  -- active | removed | left
    last_sent  BLOB    NOT NULL DEFAULT x'0000000000000000000000000000000000000000000000000000000000000000',
    read_upto  INTEGER NOT NULL DEFAULT 0,         -- messages.id of the last message seen
    joined_at  INTEGER NOT NULL
);

CREATE TABLE log_entries (
    group_id BLOB    NOT NULL,
    seq      INTEGER NOT NULL,
    entry    BLOB    NOT NULL,
    relay_seq INTEGER,                      -- where the commit sat in the mailbox
    PRIMARY KEY (group_id, seq)
);

-- The live epoch secret of each group; older ones are deleted (forward secrecy).
CREATE TABLE epochs (
    group_id BLOB    PRIMARY KEY,
    epoch    INTEGER NOT NULL,
    secret   BLOB    NOT NULL
);

CREATE TABLE send_chains (
    group_id BLOB PRIMARY KEY,
    chain    BLOB NOT NULL
);

CREATE TABLE recv_chains (
    group_id     BLOB    NOT NULL,
    sender_index INTEGER NOT NULL,
    chain        BLOB    NOT NULL,
    PRIMARY KEY (group_id, sender_index)
);

-- Last message hash seen from each sender (drop/reorder detection across epochs).
CREATE TABLE sender_heads (
    group_id  BLOB NOT NULL,
    sender_pk BLOB NOT NULL,
    last_hash BLOB NOT NULL,
    PRIMARY KEY (group_id, sender_pk)
);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    group_id     BLOB    NOT NULL,
    channel_id   BLOB    NOT NULL,
    message_id   BLOB    UNIQUE,           -- NULL while still in the outbox
    sender_pk    BLOB    NOT NULL,
    sender_name  TEXT    NOT NULL,
    sent_at      INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    content_type INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    text         TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL,         -- pending | sent | failed | received
    item         BLOB,                     -- sealed item kept until the relay acknowledges it
    prev_sent    BLOB,                     -- our previous message hash when this one was sealed
    relay_seq    INTEGER,
    warning      TEXT
);
CREATE INDEX messages_by_group ON messages (group_id, channel_id, id);
CREATE INDEX messages_pending ON messages (status) WHERE status = 'pending';

CREATE VIRTUAL TABLE messages_fts USING fts5 (text, content='messages', content_rowid='id');
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

-- Invites this profile created (it alone holds their secrets).
CREATE TABLE invites (
    invite_id BLOB    PRIMARY KEY,
    group_id  BLOB    NOT NULL,
    secret    BLOB    NOT NULL,
    code      TEXT    NOT NULL,
    cursor    INTEGER NOT NULL DEFAULT 0,
    status    TEXT    NOT NULL DEFAULT 'open'   -- open | spent
);

-- Join requests waiting for an organizer's approval, or being admitted.
CREATE TABLE join_requests (
    id         INTEGER PRIMARY KEY,
    invite_id  BLOB    NOT NULL,
    group_id   BLOB    NOT NULL,
    request    BLOB    NOT NULL,
    status     TEXT    NOT NULL,   -- pending | admitted | rejected
    received_at INTEGER NOT NULL
);

-- Joins this profile asked for and the welcome it waits for.
CREATE TABLE pending_joins (
    code       TEXT    PRIMARY KEY,
    relay_url  TEXT    NOT NULL,
    requested_at INTEGER NOT NULL
);

-- Integrity findings shown to the user (gaps, forks, rejected items).
CREATE TABLE warnings (
    id       INTEGER PRIMARY KEY,
    group_id BLOB,
    kind     TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    at       INTEGER NOT NULL
);
