"""Every SQL statement on ``freshness`` and the exposure columns of ``messages``
(migrations/0014_freshness.sql, docs/protocol.md section 4.4).

One row per group, created on first write. No secret column: the desktop app's
read-only connection may use the reads. Write functions join the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.database import Database

__all__ = [
    "ExposedRow",
    "FreshnessRow",
    "confirm",
    "exposed_messages",
    "load",
    "mark_exposed",
    "pending_content_types",
    "set_held",
    "set_override",
    "set_published",
    "set_scanned",
]


@dataclass(frozen=True)
class FreshnessRow:
    confirmed_at: int
    confirmed_by: bytes | None
    published_at: int
    published_seq: int
    override_until: int
    held_since: int | None
    scanned_seq: int


_EMPTY = FreshnessRow(0, None, 0, -1, 0, None, -1)


@dataclass(frozen=True)
class ExposedRow:
    row_id: int
    sent_at: int
    text: str


def load(db: Database, group_id: bytes) -> FreshnessRow:
    row = db.one(
        "SELECT confirmed_at, confirmed_by, published_at, published_seq, override_until,"
        " held_since, scanned_seq FROM freshness WHERE group_id = ?",
        (group_id,),
    )
    if row is None:
        return _EMPTY
    return FreshnessRow(
        int(row[0]),
        bytes(row[1]) if row[1] is not None else None,
        int(row[2]),
        int(row[3]),
        int(row[4]),
        int(row[5]) if row[5] is not None else None,
        int(row[6]),
    )


def _ensure(db: Database, group_id: bytes) -> None:
    db.execute("INSERT OR IGNORE INTO freshness (group_id) VALUES (?)", (group_id,))


def confirm(db: Database, group_id: bytes, at: int, organizer: bytes) -> bool:
    """Record a confirmation at ``at`` if it is newer than the stored one; True if so.
    A newer confirmation ends a hold."""
    _ensure(db, group_id)
    cursor = db.execute(
        "UPDATE freshness SET confirmed_at = ?, confirmed_by = ?, held_since = NULL"
        " WHERE group_id = ? AND confirmed_at < ?",
        (at, organizer, group_id, at),
    )
    return bool(cursor.rowcount)


def set_published(db: Database, group_id: bytes, at: int, seq: int) -> None:
    _ensure(db, group_id)
    db.execute(
        "UPDATE freshness SET published_at = ?, published_seq = ? WHERE group_id = ?",
        (at, seq, group_id),
    )


def set_override(db: Database, group_id: bytes, until: int) -> None:
    _ensure(db, group_id)
    db.execute("UPDATE freshness SET override_until = ? WHERE group_id = ?", (until, group_id))


def set_held(db: Database, group_id: bytes, since: int) -> None:
    _ensure(db, group_id)
    db.execute("UPDATE freshness SET held_since = ? WHERE group_id = ?", (since, group_id))


def set_scanned(db: Database, group_id: bytes, seq: int) -> None:
    _ensure(db, group_id)
    db.execute("UPDATE freshness SET scanned_seq = ? WHERE group_id = ?", (seq, group_id))


def exposed_messages(
    db: Database, group_id: bytes, me: bytes, epoch: int, after: int
) -> list[ExposedRow]:
    """Our messages the relay acknowledged in ``epoch`` that were sent at or after
    ``after`` (ms), oldest first."""
    rows = db.all(
        "SELECT id, sent_at, text FROM messages WHERE group_id = ? AND sender_pk = ?"
        " AND sealed_epoch = ? AND status = 'sent' AND sent_at >= ? ORDER BY id",
        (group_id, me, epoch, after),
    )
    return [ExposedRow(int(r[0]), int(r[1]), str(r[2])) for r in rows]


def mark_exposed(db: Database, row_id: int, warning: str) -> None:
    """Add ``warning`` to a message's integrity warning (kept if it already has one)."""
    db.execute(
        "UPDATE messages SET warning = CASE WHEN warning IS NULL THEN ?"
        " ELSE warning || '; ' || ? END WHERE id = ?",
        (warning, warning, row_id),
    )


def pending_content_types(db: Database, group_id: bytes, upto: int | None) -> frozenset[int]:
    """Content types of the group's pending messages, up to row ``upto`` when given."""
    rows = db.all(
        "SELECT DISTINCT content_type FROM messages WHERE group_id = ? AND status = 'pending'"
        " AND (? IS NULL OR id <= ?)",
        (group_id, upto, upto),
    )
    return frozenset(int(row[0]) for row in rows)
