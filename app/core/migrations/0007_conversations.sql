-- Replies, edits, deletions for everyone and reactions (issue #12, protocol 4.1.1).
-- A reply names the message it answers; an edit replaces a message's text (its author's
-- only) and records when; a deletion empties a message's text and body and keeps the row
-- so replies to it still say what they answered ("deleted"); reactions are one row per
-- member, message and emoji.
ALTER TABLE messages ADD COLUMN reply_to BLOB;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
CREATE TABLE reactions (
    group_id     BLOB    NOT NULL,
    message_id   BLOB    NOT NULL,
    reactor_pk   BLOB    NOT NULL,
    reactor_name TEXT    NOT NULL,
    emoji        TEXT    NOT NULL,
    relay_seq    INTEGER,
    PRIMARY KEY (group_id, message_id, reactor_pk, emoji)
);
