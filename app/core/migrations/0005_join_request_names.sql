-- Who asked to join, as the engine read it from the sealed request, so the desktop app's
-- read-only connection lists requests without the invite secret that opens them.
-- Filled when a request arrives; rows from before this version are filled by the engine
-- when it next opens the profile (app/core/engine.py).
ALTER TABLE join_requests ADD COLUMN name TEXT;
ALTER TABLE join_requests ADD COLUMN identity_pk BLOB;
