-- Pinned messages (content type 7, protocol 4.1.3): one row per pinned message of a
-- group, in the order they were pinned. Pins go with the message when its author
-- deletes it for everyone, or when its row goes.
CREATE TABLE pins (
    group_id      BLOB    NOT NULL,
    message_id    BLOB    NOT NULL,
    pinned_by_pk  BLOB    NOT NULL,
    pinned_by     TEXT    NOT NULL,
    pinned_at     INTEGER NOT NULL,
    PRIMARY KEY (group_id, message_id)
);
CREATE TRIGGER pins_deleted AFTER UPDATE OF deleted ON messages WHEN new.deleted = 1
BEGIN
    DELETE FROM pins WHERE group_id = new.group_id AND message_id = new.message_id;
END;
CREATE TRIGGER pins_row_gone AFTER DELETE ON messages
BEGIN
    DELETE FROM pins WHERE group_id = old.group_id AND message_id = old.message_id;
END;
