"""Every SQL statement on ``delivery_keys`` (migrations/0012_delivery_keys.sql): the
profile's delivery private keys, one row per key, so each one is deleted on its own once
nothing can be sealed to it any more (docs/protocol.md 3.2).

A row belongs to one group (``group_id``), or to a pending join (``join_code``) until its
welcome arrives, or (``KeyOrigin.PROFILE``) is the key an older profile used everywhere.
``live_since`` is the log position of the entry that put the key in its group's roster;
a rotation key without it is pending (its entry has not been seen landing yet).
The desktop app's read-only connection never calls these. Write functions join the
caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.core.database import Database

__all__ = [
    "DeliveryKeyRow",
    "KeyOrigin",
    "delete_group_keys",
    "delete_join_keys",
    "delete_key",
    "group_keys",
    "insert_key",
    "join_keys",
    "join_keys_like",
    "load_key",
    "profile_keys",
    "public_keys",
    "set_live",
]


class KeyOrigin(StrEnum):
    """Why a delivery key was made."""

    PROFILE = "profile"  # the single key of a profile before 0012, in every group
    CREATE = "create"  # the key of a group we created
    JOIN = "join"  # sent in a join request; the welcome and the ADD use it
    ROTATION = "rotation"  # certified by our own DELIVERY_KEY entry


@dataclass(frozen=True)
class DeliveryKeyRow:
    public_key: bytes
    secret: bytes
    cert: bytes
    origin: KeyOrigin
    group_id: bytes | None
    join_code: str | None
    live_since: int | None
    created_at: int

    def __repr__(self) -> str:  # never put key material (or an invite code) in a log
        return f"DeliveryKeyRow(public_key={self.public_key.hex()}, origin={self.origin})"


_SELECT = (
    "SELECT public_key, secret, cert, origin, group_id, join_code, live_since, created_at"
    " FROM delivery_keys"
)


def _row(raw: Any) -> DeliveryKeyRow:
    return DeliveryKeyRow(
        public_key=bytes(raw[0]),
        secret=bytes(raw[1]),
        cert=bytes(raw[2]),
        origin=KeyOrigin(raw[3]),
        group_id=bytes(raw[4]) if raw[4] is not None else None,
        join_code=str(raw[5]) if raw[5] is not None else None,
        live_since=int(raw[6]) if raw[6] is not None else None,
        created_at=int(raw[7]),
    )


def insert_key(db: Database, row: DeliveryKeyRow) -> None:
    db.execute(
        "INSERT INTO delivery_keys (public_key, secret, cert, origin, group_id, join_code,"
        " live_since, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.public_key,
            row.secret,
            row.cert,
            row.origin.value,
            row.group_id,
            row.join_code,
            row.live_since,
            row.created_at,
        ),
    )


def load_key(db: Database, public_key: bytes) -> DeliveryKeyRow | None:
    raw = db.one(_SELECT + " WHERE public_key = ?", (public_key,))
    return _row(raw) if raw is not None else None


def group_keys(db: Database, group_id: bytes) -> list[DeliveryKeyRow]:
    return [_row(raw) for raw in db.all(_SELECT + " WHERE group_id = ?", (group_id,))]


def join_keys(db: Database, join_code: str) -> list[DeliveryKeyRow]:
    """The keys sent in join requests for ``join_code``, newest first."""
    return [
        _row(raw)
        for raw in db.all(
            _SELECT + " WHERE join_code = ? ORDER BY rowid DESC",
            (join_code,),
        )
    ]


def join_keys_like(db: Database, prefix: str) -> list[DeliveryKeyRow]:
    """Keys whose join code starts with ``prefix`` (a linked device's spare keys), oldest
    first."""
    return [
        _row(raw)
        for raw in db.all(
            _SELECT + " WHERE substr(join_code, 1, ?) = ? ORDER BY rowid",
            (len(prefix), prefix),
        )
    ]


def profile_keys(db: Database) -> list[DeliveryKeyRow]:
    """The single delivery key of a profile made before 0012, while it is still kept."""
    return [_row(raw) for raw in db.all(_SELECT + " WHERE origin = ?", (KeyOrigin.PROFILE.value,))]


def public_keys(db: Database) -> set[bytes]:
    """The public halves of every key held, for tests and the seizure report."""
    return {bytes(row[0]) for row in db.all("SELECT public_key FROM delivery_keys")}


def set_live(db: Database, public_key: bytes, group_id: bytes, since: int) -> None:
    """The key is now the one ``group_id``'s roster lists for us, since entry ``since``."""
    db.execute(
        "UPDATE delivery_keys SET group_id = ?, join_code = NULL, live_since = ?"
        " WHERE public_key = ?",
        (group_id, since, public_key),
    )


def delete_key(db: Database, public_key: bytes) -> None:
    db.execute("DELETE FROM delivery_keys WHERE public_key = ?", (public_key,))
    db.secret_deleted()


def delete_group_keys(db: Database, group_id: bytes) -> None:
    """Every key of a group we are no longer in."""
    db.execute("DELETE FROM delivery_keys WHERE group_id = ?", (group_id,))
    db.secret_deleted()


def delete_join_keys(db: Database, join_code: str) -> None:
    """The keys of a join that will not be welcomed (or was, with another of them)."""
    db.execute("DELETE FROM delivery_keys WHERE join_code = ?", (join_code,))
    db.secret_deleted()
