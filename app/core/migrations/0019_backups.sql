-- Encrypted backups (docs/protocol.md section 9). The profile keeps only the PUBLIC half
-- of the backup key pair (the recovery key derives the private half and is never stored),
-- so backups can be written at any time and a seized profile opens none of them. The
-- desktop's periodic backups keep their folder, schedule and how many to keep here.
CREATE TABLE backup_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    public_key  BLOB    NOT NULL CHECK (length(public_key) = 32),
    folder      TEXT,
    schedule    TEXT    NOT NULL DEFAULT 'off' CHECK (schedule IN ('off', 'daily', 'weekly')),
    keep        INTEGER NOT NULL DEFAULT 7 CHECK (keep BETWEEN 1 AND 100),
    last_at     INTEGER
);
-- Groups of a profile restored from a backup whose send chain may already have been used
-- by the original copy: nothing is sealed there until this profile has entered an epoch of
-- its own (a DELIVERY_KEY commit to a key only it holds, app/core/restored.py).
CREATE TABLE restored_groups (
    group_id     BLOB    PRIMARY KEY REFERENCES groups(group_id) ON DELETE CASCADE,
    restored_at  INTEGER NOT NULL
);
