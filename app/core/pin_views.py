"""The pinned messages of a group as view values (``caucus pins``, the desktop's pins
bar); read-only, so the desktop app's reader connection may use it."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.database import Database
from app.core.store import pins as store

__all__ = ["PinView", "load_pins"]


@dataclass(frozen=True)
class PinView:
    """A pinned message as the pins bar and ``caucus pins`` show it."""

    message_id: bytes
    row_id: int
    sender_name: str
    text: str  # empty for a message with files only
    pinned_by: str
    pinned_at: int


def load_pins(db: Database, group_id: bytes) -> list[PinView]:
    """First pinned first."""
    return [
        PinView(p.message_id, p.row_id, p.sender_name, p.text, p.pinned_by, p.pinned_at)
        for p in store.load_pins(db, group_id)
    ]
