"""Every SQL statement on the key-recovery tables (migrations/0013_key_recovery.sql):
``stuck_commits``, ``wedged_groups``, ``help_cursors``, ``seen_key_requests``, and the
one move of a group to a new mailbox (docs/protocol.md section 7.4.1).

Write functions join the caller's transaction. None of these tables holds a secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.database import Database

__all__ = [
    "HelpCursor",
    "StuckCommit",
    "WedgedAt",
    "clear_stuck",
    "clear_wedged",
    "help_cursor",
    "load_stuck",
    "load_wedged",
    "mark_request_seen",
    "mark_stuck",
    "mark_wedged",
    "move_mailbox",
    "set_help_checked",
    "set_help_cursor",
    "set_help_seen",
    "set_posted",
]


@dataclass(frozen=True)
class StuckCommit:
    """A commit we validated but could not apply, and our request for its key."""

    epoch: int
    entry_hash: bytes
    relay_seq: int
    reason: int
    request: bytes | None
    posted_at: int | None


@dataclass(frozen=True)
class WedgedAt:
    """Where a rule-breaking commit wedged the group's mailbox."""

    position: int
    author: bytes
    reason: str
    relay_seq: int


@dataclass(frozen=True)
class HelpCursor:
    """Every help item up to ``cursor`` is done with; those up to ``seen_upto`` were
    handled once (a move we could not judge yet holds ``cursor`` before it)."""

    cursor: int
    seen_upto: int
    checked_at: int


def load_stuck(db: Database, group_id: bytes) -> StuckCommit | None:
    row = db.one(
        "SELECT epoch, entry_hash, relay_seq, reason, request, posted_at FROM stuck_commits"
        " WHERE group_id = ?",
        (group_id,),
    )
    if row is None:
        return None
    return StuckCommit(
        epoch=int(row[0]),
        entry_hash=bytes(row[1]),
        relay_seq=int(row[2]),
        reason=int(row[3]),
        request=None if row[4] is None else bytes(row[4]),
        posted_at=None if row[5] is None else int(row[5]),
    )


def mark_stuck(
    db: Database, group_id: bytes, epoch: int, entry_hash: bytes, relay_seq: int, reason: int
) -> bool:
    """Record the commit we are stuck at; False if it was recorded already."""
    stuck = load_stuck(db, group_id)
    if stuck is not None and stuck.entry_hash == entry_hash:
        return False
    db.execute(
        "INSERT OR REPLACE INTO stuck_commits (group_id, epoch, entry_hash, relay_seq, reason)"
        " VALUES (?, ?, ?, ?, ?)",
        (group_id, epoch, entry_hash, relay_seq, reason),
    )
    return True


def set_posted(db: Database, group_id: bytes, request: bytes, at: int) -> None:
    """Our key request as posted (the same one is posted again while we are stuck)."""
    db.execute(
        "UPDATE stuck_commits SET request = ?, posted_at = ? WHERE group_id = ?",
        (request, at, group_id),
    )


def clear_stuck(db: Database, group_id: bytes) -> None:
    db.execute("DELETE FROM stuck_commits WHERE group_id = ?", (group_id,))


def load_wedged(db: Database, group_id: bytes) -> WedgedAt | None:
    row = db.one(
        "SELECT position, author, reason, relay_seq FROM wedged_groups WHERE group_id = ?",
        (group_id,),
    )
    if row is None:
        return None
    return WedgedAt(int(row[0]), bytes(row[1]), str(row[2]), int(row[3]))


def mark_wedged(
    db: Database, group_id: bytes, position: int, author: bytes, reason: str, relay_seq: int
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO wedged_groups (group_id, position, author, reason, relay_seq)"
        " VALUES (?, ?, ?, ?, ?)",
        (group_id, position, author, reason, relay_seq),
    )


def clear_wedged(db: Database, group_id: bytes) -> None:
    db.execute("DELETE FROM wedged_groups WHERE group_id = ?", (group_id,))


def help_cursor(db: Database, group_id: bytes) -> HelpCursor:
    row = db.one(
        "SELECT cursor, seen_upto, checked_at FROM help_cursors WHERE group_id = ?", (group_id,)
    )
    if row is None:
        return HelpCursor(0, 0, 0)
    return HelpCursor(int(row[0]), int(row[1]), int(row[2]))


def set_help_cursor(db: Database, group_id: bytes, cursor: int) -> None:
    db.execute(
        "INSERT INTO help_cursors (group_id, cursor) VALUES (?, ?)"
        " ON CONFLICT (group_id) DO UPDATE SET cursor = excluded.cursor",
        (group_id, cursor),
    )


def set_help_seen(db: Database, group_id: bytes, seq: int) -> None:
    db.execute(
        "INSERT INTO help_cursors (group_id, seen_upto) VALUES (?, ?)"
        " ON CONFLICT (group_id) DO UPDATE SET seen_upto = max(seen_upto, excluded.seen_upto)",
        (group_id, seq),
    )


def set_help_checked(db: Database, group_id: bytes, at: int) -> None:
    db.execute(
        "INSERT INTO help_cursors (group_id, checked_at) VALUES (?, ?)"
        " ON CONFLICT (group_id) DO UPDATE SET checked_at = excluded.checked_at",
        (group_id, at),
    )


def mark_request_seen(db: Database, group_id: bytes, request_id: bytes) -> bool:
    """Record a key request we have warned about; False if it was recorded before."""
    before = db.one(
        "SELECT 1 FROM seen_key_requests WHERE group_id = ? AND request_id = ?",
        (group_id, request_id),
    )
    if before is not None:
        return False
    db.execute(
        "INSERT INTO seen_key_requests (group_id, request_id) VALUES (?, ?)",
        (group_id, request_id),
    )
    return True


def move_mailbox(db: Database, group_id: bytes, mailbox_id: bytes) -> None:
    """Point the group at its new mailbox, read from the start (a group move)."""
    db.execute(
        "UPDATE groups SET mailbox_id = ?, cursor = 0 WHERE group_id = ?", (mailbox_id, group_id)
    )
