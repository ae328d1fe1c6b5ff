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
