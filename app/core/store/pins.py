"""Every SQL statement on ``pins`` (migrations/0022_pins.sql). Write functions join the
caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.database import Database

__all__ = ["PinRow", "count_pins", "is_pinned", "load_pins", "set_pin"]


@dataclass(frozen=True)
class PinRow:
    """A pinned message, with what the pins bar shows of it."""

    message_id: bytes
    row_id: int
    sender_name: str
    text: str
    pinned_by: str
    pinned_at: int


def set_pin(
    db: Database,
    group_id: bytes,
    message_id: bytes,
    by_pk: bytes,
    by_name: str,
    at: int,
    on: bool,
) -> None:
    if on:
        db.execute(
            "INSERT OR IGNORE INTO pins (group_id, message_id, pinned_by_pk, pinned_by,"
            " pinned_at) VALUES (?, ?, ?, ?, ?)",
            (group_id, message_id, by_pk, by_name, at),
        )
    else:
        db.execute("DELETE FROM pins WHERE group_id = ? AND message_id = ?", (group_id, message_id))


def is_pinned(db: Database, group_id: bytes, message_id: bytes) -> bool:
    row = db.one("SELECT 1 FROM pins WHERE group_id = ? AND message_id = ?", (group_id, message_id))
    return row is not None


def count_pins(db: Database, group_id: bytes) -> int:
    row = db.one("SELECT count(*) FROM pins WHERE group_id = ?", (group_id,))
    return int(row[0])


def load_pins(db: Database, group_id: bytes) -> list[PinRow]:
    """The group's pinned messages, first pinned first."""
    rows = db.all(
        "SELECT p.message_id, m.id, m.sender_name, m.text, p.pinned_by, p.pinned_at"
        " FROM pins p JOIN messages m ON m.group_id = p.group_id AND m.message_id = p.message_id"
        " WHERE p.group_id = ? ORDER BY p.rowid",
        (group_id,),
    )
    return [
        PinRow(bytes(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5])) for r in rows
    ]
