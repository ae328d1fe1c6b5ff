-- Forward secrecy that survives seizure (docs/protocol.md 3.1, 3.2).
--
-- Delivery private keys, one row per key, so each one can be deleted once nothing can be
-- sealed to it any more. Every group and every join gets its own key; the profile's own
-- key (profile.delivery_secret) is copied here as the key every group of an older profile
-- lists, and the engine replaces the profile's copy with a fresh, never published key
-- when it next opens the profile (app/core/delivery_keys.py). Deleted rows are
-- overwritten (PRAGMA secure_delete, app/core/database.py).
CREATE TABLE delivery_keys (
    public_key BLOB    PRIMARY KEY,
    secret     BLOB    NOT NULL,
    cert       BLOB    NOT NULL,
    origin     TEXT    NOT NULL,   -- profile | create | join | rotation
    group_id   BLOB,               -- the one group whose roster lists it, or will
    join_code  TEXT,               -- the pending join whose welcome will be sealed to it
    live_since INTEGER,            -- seq of the entry that put it in the group's roster
    created_at INTEGER NOT NULL
);
CREATE INDEX delivery_keys_by_group ON delivery_keys (group_id);

INSERT INTO delivery_keys (public_key, secret, cert, origin, created_at)
    SELECT substr(delivery_cert, 34, 32), delivery_secret, delivery_cert, 'profile', created_at
    FROM profile;

-- A group's live epoch without its secret: the keys derived from it (the stored form of
-- crypto/key_schedule.py). Every sender's chain is in recv_chains from the epoch's start,
-- so E_k itself is not kept. Rows of the older table epochs (the bare secret) are
-- converted and deleted by the engine when it next opens the profile.
CREATE TABLE epoch_keys (
    group_id BLOB    PRIMARY KEY,
    epoch    INTEGER NOT NULL,
    keys     BLOB    NOT NULL
);
