"""The members this profile has verified (safety numbers compared), kept inside the
encrypted database so the mark survives a restart and a change can be flagged.

A safety number covers a member's identity key and their linked devices (protocol 8.3),
so a mark records both: it holds only while the member's identity key and device set are
the ones compared. A device added or removed (a stolen link code, say) makes the number
differ, and the mark no longer counts until the numbers are compared again."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from app.core.database import Database
from app.core.store import profile as store

__all__ = ["VerifiedMark", "device_set_digest", "set_verified", "verified_keys"]

_DIGEST_PERSON = b"caucus-devices"


@dataclass(frozen=True)
class VerifiedMark:
    """A verification: the member's name then, and the digest of their device set then."""

    name: str
    devices: bytes

    def covers(self, devices: bytes) -> bool:
        """Whether the member's current device set is the one compared."""
        return self.devices == devices


def device_set_digest(device_keys: Iterable[bytes]) -> bytes:
    """A local digest of a member's linked device keys, order-free; empty for none (so a
    mark made before linked devices existed still covers a member without any)."""
    keys = sorted(device_keys)
    if not keys:
        return b""
    return hashlib.blake2b(b"".join(keys), digest_size=32, person=_DIGEST_PERSON).digest()


def verified_keys(db: Database) -> dict[bytes, VerifiedMark]:
    """Verified identity key -> what was verified."""
    return {row.identity_pk: VerifiedMark(row.name, row.devices) for row in store.verified_keys(db)}


def set_verified(
    db: Database, identity_pk: bytes, name: str, verified: bool, now: int, devices: bytes = b""
) -> None:
    """Mark (with the device-set digest the member showed) or unmark one identity key."""
    if len(identity_pk) != 32:
        raise ValueError("identity key must be 32 bytes")
    if devices and len(devices) != 32:
        raise ValueError("device set digest must be 32 bytes or empty")
    with db.transaction():
        if verified:
            store.save_verified(db, identity_pk, name, now, devices)
        else:
            store.delete_verified(db, identity_pk)
