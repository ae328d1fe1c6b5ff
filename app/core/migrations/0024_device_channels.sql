-- The standing channel between a member's first device and each linked device
-- (docs/protocol.md 8.4, "Later groups"): a mailbox derived from the link secret.
-- On the first device one row per device it linked (role 'owner'); on a linked device
-- one row for itself (role 'device'). The secret lives only in this database.
CREATE TABLE device_channels (
    device_pk      BLOB    PRIMARY KEY,
    role           TEXT    NOT NULL CHECK (role IN ('owner', 'device')),
    link_secret    BLOB    NOT NULL,
    relay_url      TEXT    NOT NULL,
    cursor         INTEGER NOT NULL DEFAULT 0,
    generation     TEXT,             -- the relay's generation id at the cursor
    keys_item      BLOB,             -- device: a DEVICE_KEYS item the relay has not taken yet
    keys_wanted_at INTEGER,          -- owner: when it last asked the device for keys
    closed         INTEGER NOT NULL DEFAULT 0  -- owner: the device was removed
);
-- First device: delivery keys a linked device sent for later groups. Each is used for
-- one group at most (group_id set before the DEVICE_ADD is committed, never cleared);
-- item is the sealed DEVICE_WELCOME until the relay took it.
CREATE TABLE device_spare_keys (
    delivery_pk BLOB    PRIMARY KEY,
    device_pk   BLOB    NOT NULL,
    cert        BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    group_id    BLOB,
    item        BLOB
);
CREATE INDEX device_spare_keys_by_device ON device_spare_keys (device_pk, group_id);
