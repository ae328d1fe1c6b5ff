"""Every SQL statement on what a group last saw of its relay, and on the sealed items of
our sent messages kept for a re-post after a rewind (migrations/0010_relay_marks.sql).

``groups.relay_generation`` / ``groups.relay_last`` hold the relay's generation id and the
highest ``X-Caucus-Last`` it reported for the group's mailbox. ``messages.item`` of our
own ``sent`` rows is kept (not dropped on the acknowledgement) for as long as the epoch
they were sealed in is live, so a relay restored from an older copy can be given the same
bytes again. Write functions join the caller's transaction; nothing here is read by the
desktop app's read-only connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.database import Database
from app.core.status import MESSAGE_TRANSITIONS, MessageStatus, move

__all__ = [
    "RelayMark",
    "SentItem",
    "forget_sent_items",
    "load_mark",
    "requeue",
    "save_mark",
    "sent_items",
]

# A sent message whose sealed bytes the restored relay lost goes back to the outbox.
_REQUEUE_FROM = MessageStatus.SENT
_REQUEUE_TO = move(MESSAGE_TRANSITIONS, _REQUEUE_FROM, MessageStatus.PENDING)
_RETIRED = move(MESSAGE_TRANSITIONS, _REQUEUE_TO, _REQUEUE_FROM)


@dataclass(frozen=True)
class RelayMark:
    """What a group last saw of its relay: generation id (None: never told) and last seq;
    ``reread`` while a re-read after a rewind has not reached the end."""

    generation: str | None
    last: int
    reread: bool = False


@dataclass(frozen=True)
class SentItem:
    """One of our sent messages with its sealed item still kept."""

    row_id: int
    item: bytes


def load_mark(db: Database, group_id: bytes) -> RelayMark:
    row = db.one(
        "SELECT relay_generation, relay_last, relay_reread FROM groups WHERE group_id = ?",
        (group_id,),
    )
    if row is None:
        return RelayMark(None, 0)
    return RelayMark(str(row[0]) if row[0] is not None else None, int(row[1]), bool(row[2]))


def save_mark(db: Database, group_id: bytes, mark: RelayMark) -> None:
    db.execute(
        "UPDATE groups SET relay_generation = ?, relay_last = ?, relay_reread = ?"
        " WHERE group_id = ?",
        (mark.generation, mark.last, int(mark.reread), group_id),
    )


def sent_items(db: Database, group_id: bytes) -> list[SentItem]:
    """Our sent messages in the group whose sealed item is kept, in row order."""
    return [
        SentItem(int(row[0]), bytes(row[1]))
        for row in db.all(
            "SELECT id, item FROM messages WHERE group_id = ? AND status = ?"
            " AND item IS NOT NULL ORDER BY id",
            (group_id, MessageStatus.SENT.value),
        )
    ]


def requeue(db: Database, row_id: int) -> bool:
    """A sent message goes back to ``pending`` with its sealed item, to be posted again."""
    cursor = db.execute(
        "UPDATE messages SET status = ? WHERE id = ? AND status = ? AND item IS NOT NULL",
        (_REQUEUE_TO.value, row_id, _REQUEUE_FROM.value),
    )
    return bool(cursor.rowcount)


def forget_sent_items(db: Database, group_id: bytes) -> None:
    """Our group entered a new epoch: drop the kept items of our sent messages (no re-post
    of them can land now), and a re-queued one still waiting counts as sent again (it
    must not be sealed a second time: members who had it would show it twice). A
    re-queued row is told from a fresh one by its empty ``prev_sent`` (cleared when it
    was first acknowledged; a sealed fresh row always has one)."""
    db.execute(
        "UPDATE messages SET status = ?, item = NULL WHERE group_id = ? AND status = ?"
        " AND item IS NOT NULL AND prev_sent IS NULL",
        (_RETIRED.value, group_id, _REQUEUE_TO.value),
    )
    db.execute(
        "UPDATE messages SET item = NULL WHERE group_id = ? AND status = ? AND item IS NOT NULL",
        (group_id, MessageStatus.SENT.value),
    )
