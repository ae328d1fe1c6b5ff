-- Freshness of each group (docs/protocol.md section 4.4): the newest organizer head this
-- profile could confirm, our own newest published head, the user's "send anyway", and
-- how far the log has been checked for removals that exposed our messages.
CREATE TABLE freshness (
    group_id       BLOB    PRIMARY KEY,
    confirmed_at   INTEGER NOT NULL DEFAULT 0,   -- ms: newest confirmed organizer head
    confirmed_by   BLOB,                         -- its organizer's identity key
    published_at   INTEGER NOT NULL DEFAULT 0,   -- ms: our newest head (organizers)
    published_seq  INTEGER NOT NULL DEFAULT -1,  -- the log seq it named
    override_until INTEGER NOT NULL DEFAULT 0,   -- ms: "send anyway" lasts until then
    held_since     INTEGER,                      -- ms: when sending was held (warned once)
    scanned_seq    INTEGER NOT NULL DEFAULT -1   -- log entries checked for exposure
);

-- The epoch each of our messages was sealed in, so a removal learned late can name the
-- messages it exposed. NULL for others' messages and for ours sealed before version 2.
ALTER TABLE messages ADD COLUMN sealed_epoch INTEGER;
