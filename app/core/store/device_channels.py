"""Every SQL statement on ``device_channels`` and ``device_spare_keys`` (the standing
channel to linked devices, migrations/0024_device_channels.sql).  Write functions join
the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.database import Database

__all__ = [
    "RESTORE_SPENT",
    "ChannelRow",
    "SpareKey",
    "add_spare_key",
    "channels",
    "close",
    "entries_naming",
    "free_spare_keys",
    "insert_channel",
    "set_cursor",
    "set_generation",
    "set_keys_item",
    "set_keys_wanted",
    "set_welcome_item",
    "spare_key_for",
    "spend_spares_after_restore",
    "unposted_welcomes",
    "use_spare_key",
]


@dataclass(frozen=True)
class ChannelRow:
    device_pk: bytes
    role: str  # 'owner' on the first device, 'device' on a linked device
    secret: bytes = field(repr=False)
    relay_url: str
    cursor: int
    generation: str | None
    keys_item: bytes | None = field(repr=False)
    keys_wanted_at: int | None
    closed: bool


@dataclass(frozen=True)
class SpareKey:
    delivery_pk: bytes
    device_pk: bytes
    cert: bytes
    group_id: bytes | None


def insert_channel(
    db: Database, device_pk: bytes, role: str, secret: bytes, relay_url: str
) -> None:
    db.execute(
        "INSERT OR IGNORE INTO device_channels (device_pk, role, link_secret, relay_url)"
        " VALUES (?, ?, ?, ?)",
        (device_pk, role, secret, relay_url),
    )


def channels(db: Database, role: str) -> list[ChannelRow]:
    return [
        ChannelRow(
            bytes(r[0]),
            r[1],
            bytes(r[2]),
            r[3],
            r[4],
            r[5],
            None if r[6] is None else bytes(r[6]),
            r[7],
            bool(r[8]),
        )
        for r in db.all(
            "SELECT device_pk, role, link_secret, relay_url, cursor, generation, keys_item,"
            " keys_wanted_at, closed FROM device_channels WHERE role = ? ORDER BY rowid",
            (role,),
        )
    ]


def set_cursor(db: Database, device_pk: bytes, cursor: int) -> None:
    db.execute("UPDATE device_channels SET cursor = ? WHERE device_pk = ?", (cursor, device_pk))


def set_generation(db: Database, device_pk: bytes, generation: str) -> None:
    db.execute(
        "UPDATE device_channels SET generation = ? WHERE device_pk = ?", (generation, device_pk)
    )


def set_keys_item(db: Database, device_pk: bytes, item: bytes | None) -> None:
    db.execute("UPDATE device_channels SET keys_item = ? WHERE device_pk = ?", (item, device_pk))


def set_keys_wanted(db: Database, device_pk: bytes, now: int) -> None:
    db.execute(
        "UPDATE device_channels SET keys_wanted_at = ? WHERE device_pk = ?", (now, device_pk)
    )


def close(db: Database, device_pk: bytes) -> None:
    db.execute("UPDATE device_channels SET closed = 1 WHERE device_pk = ?", (device_pk,))


def add_spare_key(
    db: Database, delivery_pk: bytes, device_pk: bytes, cert: bytes, now: int
) -> None:
    """A key the device sent; a key seen before (a repeated item) keeps its use."""
    db.execute(
        "INSERT OR IGNORE INTO device_spare_keys (delivery_pk, device_pk, cert, received_at)"
        " VALUES (?, ?, ?, ?)",
        (delivery_pk, device_pk, cert, now),
    )


def free_spare_keys(db: Database, device_pk: bytes) -> list[SpareKey]:
    """The device's keys not used for any group yet, oldest first."""
    return [
        SpareKey(bytes(r[0]), bytes(r[1]), bytes(r[2]), None)
        for r in db.all(
            "SELECT delivery_pk, device_pk, cert FROM device_spare_keys"
            " WHERE device_pk = ? AND group_id IS NULL ORDER BY received_at, rowid",
            (device_pk,),
        )
    ]


def spare_key_for(db: Database, device_pk: bytes, group_id: bytes) -> SpareKey | None:
    """The key already given to ``group_id`` for this device (a DEVICE_ADD in flight)."""
    row = db.one(
        "SELECT delivery_pk, device_pk, cert, group_id FROM device_spare_keys"
        " WHERE device_pk = ? AND group_id = ?",
        (device_pk, group_id),
    )
    return None if row is None else SpareKey(bytes(row[0]), bytes(row[1]), bytes(row[2]), group_id)


def use_spare_key(db: Database, delivery_pk: bytes, group_id: bytes) -> None:
    """Spend a key on ``group_id``: it is never offered for another group."""
    db.execute(
        "UPDATE device_spare_keys SET group_id = ? WHERE delivery_pk = ? AND group_id IS NULL",
        (group_id, delivery_pk),
    )


def set_welcome_item(db: Database, delivery_pk: bytes, item: bytes | None) -> None:
    db.execute("UPDATE device_spare_keys SET item = ? WHERE delivery_pk = ?", (item, delivery_pk))


def unposted_welcomes(db: Database, device_pk: bytes) -> list[tuple[bytes, bytes]]:
    """(delivery_pk, item) of welcomes the relay has not taken yet."""
    return [
        (bytes(r[0]), bytes(r[1]))
        for r in db.all(
            "SELECT delivery_pk, item FROM device_spare_keys"
            " WHERE device_pk = ? AND item IS NOT NULL ORDER BY rowid",
            (device_pk,),
        )
    ]


def entries_naming(db: Database, device_pk: bytes) -> list[bytes]:
    """Encoded log entries that contain ``device_pk``'s bytes (a cheap prefilter for a
    DEVICE_REMOVE of it; the caller decodes)."""
    return [
        bytes(r[0])
        for r in db.all("SELECT entry FROM log_entries WHERE instr(entry, ?) > 0", (device_pk,))
    ]


RESTORE_SPENT = bytes(16)
"""``group_id`` of a spare key a restore made unusable (no group has this id in use)."""


def spend_spares_after_restore(db: Database) -> None:
    """A restored profile cannot know which spare keys its original copy spent after the
    backup: on a first device every unused one counts as spent (never offered again, so
    no key serves two groups); a linked device deletes the private halves it holds (a
    welcome sealed to one after the backup was its original's).  Fresh keys follow."""
    db.execute("UPDATE device_spare_keys SET group_id = ? WHERE group_id IS NULL", (RESTORE_SPENT,))
    db.execute("DELETE FROM delivery_keys WHERE substr(join_code, 1, 13) = 'device-spare:'")
    db.secret_deleted()
