"""Every SQL statement of replies, edits, deletions and reactions
(migrations/0007_conversations.sql). Write functions join the caller's transaction.

The full-text index (``messages_fts``, external content) is kept in step by hand: an edit
removes the old text's terms and adds the new one's, a deletion removes them, so a
deleted message is not found by search either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from app.core.database import Database
from crypto.content import ContentType

__all__ = [
    "Target",
    "apply_delete",
    "apply_edit",
    "channel_of",
    "link_queued_reply",
    "reactions_for",
    "set_reaction",
    "set_reply_to",
    "target",
]


@dataclass(frozen=True)
class Target:
    """The message an edit, deletion or reaction names, as far as the rules need it."""

    row_id: int
    sender_pk: bytes
    text: str
    deleted: bool


def target(db: Database, group_id: bytes, message_id: bytes) -> Target | None:
    row = db.one(
        "SELECT id, sender_pk, text, deleted FROM messages WHERE group_id = ? AND message_id = ?",
        (group_id, message_id),
    )
    if row is None:
        return None
    return Target(int(row[0]), bytes(row[1]), str(row[2]), bool(row[3]))


def set_reply_to(db: Database, row_id: int, reply_to: bytes) -> None:
    db.execute("UPDATE messages SET reply_to = ? WHERE id = ?", (reply_to, row_id))


def link_queued_reply(db: Database, group_id: bytes, me: bytes, reply_to: bytes) -> None:
    """Our newest reply in the group (just queued) answers ``reply_to``."""
    db.execute(
        "UPDATE messages SET reply_to = ? WHERE id = (SELECT max(id) FROM messages"
        " WHERE group_id = ? AND sender_pk = ? AND content_type = ?)",
        (reply_to, group_id, me, int(ContentType.REPLY)),
    )


def channel_of(db: Database, row_id: int) -> bytes:
    row = db.one("SELECT channel_id FROM messages WHERE id = ?", (row_id,))
    return bytes(row[0]) if row is not None else bytes(16)


def _unindex(db: Database, row_id: int, text: str) -> None:
    db.execute(
        "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', ?, ?)",
        (row_id, text),
    )


def apply_edit(db: Database, found: Target, text: str, at: int) -> None:
    _unindex(db, found.row_id, found.text)
    db.execute("UPDATE messages SET text = ?, edited_at = ? WHERE id = ?", (text, at, found.row_id))
    db.execute("INSERT INTO messages_fts (rowid, text) VALUES (?, ?)", (found.row_id, text))


def apply_delete(db: Database, found: Target) -> None:
    """The text and the signed body go; the row stays (replies still point at it)."""
    _unindex(db, found.row_id, found.text)
    db.execute(
        "UPDATE messages SET text = '', body = x'', deleted = 1 WHERE id = ?", (found.row_id,)
    )
    # Nobody reacts to a deleted message: its reactions go with it; and its earlier
    # texts go too: the signed edits that carried them are emptied like the message.
    db.execute(
        "DELETE FROM reactions WHERE (group_id, message_id) IN"
        " (SELECT group_id, message_id FROM messages WHERE id = ?)",
        (found.row_id,),
    )
    db.execute(
        "UPDATE messages SET body = x'', text = '' WHERE content_type = ?"
        " AND (group_id, substr(body, 1, 16)) IN"
        " (SELECT group_id, message_id FROM messages WHERE id = ?)",
        (int(ContentType.EDIT), found.row_id),
    )


def set_reaction(
    db: Database,
    group_id: bytes,
    message_id: bytes,
    reactor_pk: bytes,
    reactor_name: str,
    emoji: str,
    on: bool,
    relay_seq: int | None,
) -> None:
    if on:
        db.execute(
            "INSERT OR REPLACE INTO reactions"
            " (group_id, message_id, reactor_pk, reactor_name, emoji, relay_seq)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (group_id, message_id, reactor_pk, reactor_name, emoji, relay_seq),
        )
    else:
        db.execute(
            "DELETE FROM reactions"
            " WHERE group_id = ? AND message_id = ? AND reactor_pk = ? AND emoji = ?",
            (group_id, message_id, reactor_pk, emoji),
        )


def reactions_for(
    db: Database, group_id: bytes, message_ids: list[bytes]
) -> dict[bytes, dict[str, list[str]]]:
    """Per message id: emoji -> names of who reacted, in the order they did."""
    found: dict[bytes, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = db.all(
            "SELECT message_id, emoji, reactor_name FROM reactions"  # noqa: S608 - marks only
            f" WHERE group_id = ? AND message_id IN ({marks}) ORDER BY rowid",
            (group_id, *chunk),
        )
        for message_id, emoji, name in rows:
            found[bytes(message_id)][str(emoji)].append(str(name))
    return {key: dict(value) for key, value in found.items()}
