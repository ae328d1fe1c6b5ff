-- Caucus relay schema 2: the relay's generation id.
-- One row: a random id (32 lowercase hex digits) written when the database is created and
-- replaced by `caucus-relay restore`.  Fetches and /health return it, so a client notices a
-- relay restored from an older backup (which hands out sequence numbers again).
-- The relay inserts the row itself (relay/generation.py), so this file stays portable SQL.
CREATE TABLE generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value TEXT NOT NULL CHECK (length(value) = 32)
);
