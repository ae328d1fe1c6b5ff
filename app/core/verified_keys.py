"""The identity keys this profile has verified (safety numbers compared), kept inside the
encrypted database so the mark survives a restart and a changed key can be flagged."""

from __future__ import annotations

from app.core.database import Database
from app.core.store import profile as store

__all__ = ["set_verified", "verified_keys"]


def verified_keys(db: Database) -> dict[bytes, str]:
    """Verified identity key -> the member's name when it was verified."""
    return {row.identity_pk: row.name for row in store.verified_keys(db)}


def set_verified(db: Database, identity_pk: bytes, name: str, verified: bool, now: int) -> None:
    """Mark or unmark one identity key as verified."""
    if len(identity_pk) != 32:
        raise ValueError("identity key must be 32 bytes")
    with db.transaction():
        if verified:
            store.save_verified(db, identity_pk, name, now)
        else:
            store.delete_verified(db, identity_pk)
