"""The identity keys this profile has verified (safety numbers compared), kept inside the
encrypted database so the mark survives a restart and a changed key can be flagged."""

from __future__ import annotations

from app.core.database import Database

__all__ = ["set_verified", "verified_keys"]


def verified_keys(db: Database) -> dict[bytes, str]:
    """Verified identity key -> the member's name when it was verified."""
    return {
        bytes(pk): str(name) for pk, name in db.all("SELECT identity_pk, name FROM verified_keys")
    }


def set_verified(db: Database, identity_pk: bytes, name: str, verified: bool, now: int) -> None:
    """Mark or unmark one identity key as verified."""
    if len(identity_pk) != 32:
        raise ValueError("identity key must be 32 bytes")
    with db.transaction():
        if verified:
            db.execute(
                "INSERT OR REPLACE INTO verified_keys (identity_pk, name, verified_at)"
                " VALUES (?, ?, ?)",
                (identity_pk, name, now),
            )
        else:
            db.execute("DELETE FROM verified_keys WHERE identity_pk = ?", (identity_pk,))
