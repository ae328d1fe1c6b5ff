"""Every SQL statement on ``device_links``, ``devices`` and ``device_self`` (linked
devices, migrations/0018_devices.sql), and the history rows a link hands on.
Write functions join the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.database import Database

__all__ = [
    "LinkRow",
    "add_device",
    "device_self",
    "devices",
    "done_links",
    "insert_link",
    "mark_removed",
    "open_links",
    "set_cursor",
    "set_done",
    "set_self",
]


@dataclass(frozen=True)
class LinkRow:
    secret: bytes = field(repr=False)
    side: str
    relay_url: str
    created_at: int
    cursor: int


@dataclass(frozen=True)
class DeviceRow:
    device_pk: bytes
    cert: bytes
    added_at: int
    removed_at: int | None


def insert_link(db: Database, secret: bytes, side: str, relay_url: str, now: int) -> None:
    db.execute(
        "INSERT INTO device_links (link_secret, side, relay_url, created_at) VALUES (?, ?, ?, ?)",
        (secret, side, relay_url, now),
    )


def open_links(db: Database, side: str) -> list[LinkRow]:
    return [
        LinkRow(bytes(r[0]), r[1], r[2], r[3], r[4])
        for r in db.all(
            "SELECT link_secret, side, relay_url, created_at, cursor FROM device_links"
            " WHERE side = ? AND done = 0 ORDER BY created_at",
            (side,),
        )
    ]


def done_links(db: Database, side: str) -> list[LinkRow]:
    """Links of ``side`` that ended (answered, installed or expired), oldest first."""
    return [
        LinkRow(bytes(r[0]), r[1], r[2], r[3], r[4])
        for r in db.all(
            "SELECT link_secret, side, relay_url, created_at, cursor FROM device_links"
            " WHERE side = ? AND done = 1 ORDER BY created_at",
            (side,),
        )
    ]


def set_cursor(db: Database, secret: bytes, cursor: int) -> None:
    db.execute("UPDATE device_links SET cursor = ? WHERE link_secret = ?", (cursor, secret))


def set_done(db: Database, secret: bytes) -> None:
    db.execute("UPDATE device_links SET done = 1 WHERE link_secret = ?", (secret,))


def add_device(db: Database, device_pk: bytes, cert: bytes, now: int) -> None:
    db.execute(
        "INSERT OR REPLACE INTO devices (device_pk, cert, added_at) VALUES (?, ?, ?)",
        (device_pk, cert, now),
    )


def devices(db: Database) -> list[DeviceRow]:
    return [
        DeviceRow(bytes(r[0]), bytes(r[1]), r[2], r[3])
        for r in db.all("SELECT device_pk, cert, added_at, removed_at FROM devices ORDER BY rowid")
    ]


def mark_removed(db: Database, device_pk: bytes, now: int) -> None:
    db.execute("UPDATE devices SET removed_at = ? WHERE device_pk = ?", (now, device_pk))


def set_self(db: Database, cert: bytes, member_name: str) -> None:
    db.execute(
        "INSERT INTO device_self (id, cert, member_name) VALUES (1, ?, ?)", (cert, member_name)
    )
    db.execute("UPDATE profile SET name = ? WHERE id = 1", (member_name,))


def device_self(db: Database) -> tuple[bytes, str] | None:
    """Our device certificate and member name, on a linked device."""
    row = db.one("SELECT cert, member_name FROM device_self WHERE id = 1")
    return None if row is None else (bytes(row[0]), row[1])
