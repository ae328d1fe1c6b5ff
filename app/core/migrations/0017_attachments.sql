-- Files attached to messages (content type 6, protocol 4.1.2). One row per file of a
-- message row; the content key opens its relay blob, so like every other key it lives only
-- in this encrypted database. Files are fetched only when a member asks for one.
CREATE TABLE attachments (
    message_row  INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    media_type   TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    content_key  BLOB    NOT NULL,
    sha256       BLOB    NOT NULL,
    PRIMARY KEY (message_row, position)
);
-- A message its author deleted for everyone keeps no trace of its files, keys included;
-- a message row that goes away takes its files with it.
CREATE TRIGGER attachments_deleted AFTER UPDATE OF deleted ON messages WHEN new.deleted = 1
BEGIN
    DELETE FROM attachments WHERE message_row = new.id;
END;
CREATE TRIGGER attachments_row_gone AFTER DELETE ON messages
BEGIN
    DELETE FROM attachments WHERE message_row = old.id;
END;
