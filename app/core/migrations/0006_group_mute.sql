-- Per-group notification mute, kept in the encrypted profile (issue #12): which groups a
-- member silenced says something about them, so it does not go in the desktop's plain
-- settings file. A muted group still counts unread messages in its own badge; it raises
-- no notification and does not count in the window title.
ALTER TABLE groups ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
