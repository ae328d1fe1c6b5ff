-- Caucus relay schema 1: queues (group mailboxes and personal inboxes), their items,
-- the epochs of each mailbox, and blobs stored as numbered chunks.
-- Times are seconds since the Unix epoch rounded down to the hour.

-- One row per mailbox (kind 1) or inbox (kind 2).  last_seq is the highest sequence
-- number ever assigned (items start at 1); bytes_used counts stored item bytes.
-- Mailboxes also hold their head, the current epoch's capability hash and first_seq;
-- inboxes hold the owner's Ed25519 auth key.
CREATE TABLE queues (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL CHECK (kind IN (1, 2)),
    qid BLOB NOT NULL CHECK (length(qid) = 16),
    last_seq INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    created_hour INTEGER NOT NULL,
    head BLOB,
    cap_hash BLOB,
    epoch_first INTEGER,
    auth_key BLOB,
    CHECK (kind = 2 OR (coalesce(length(head), 0) = 32 AND coalesce(length(cap_hash), 0) = 32
                     AND coalesce(epoch_first, 0) >= 1)),
    CHECK (kind = 1 OR coalesce(length(auth_key), 0) = 32),
    UNIQUE (kind, qid)
);

-- Every epoch of a mailbox, the current one included (last_seq NULL).
CREATE TABLE epochs (
    queue INTEGER NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    cap_hash BLOB NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER,
    PRIMARY KEY (queue, cap_hash)
) WITHOUT ROWID;

CREATE TABLE items (
    queue INTEGER NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (queue, seq)
);
CREATE INDEX items_by_hour ON items (hour);

CREATE TABLE blobs (
    id INTEGER PRIMARY KEY,
    bid BLOB NOT NULL UNIQUE CHECK (length(bid) = 16),
    cap_hash BLOB NOT NULL CHECK (length(cap_hash) = 32),
    size INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    created_hour INTEGER NOT NULL
);
CREATE INDEX blobs_by_hour ON blobs (created_hour);

CREATE TABLE chunks (
    blob INTEGER NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (blob, idx)
);
