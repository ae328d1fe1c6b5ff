"""Which members' keys this person has verified, and whether a verified key changed.

Kept in the profile database (``verified_keys``) while a profile is unlocked, so a mark
survives a restart. A member is identified by their identity key;
"changed" means someone with a verified member's name now shows up under another key,
which is what a person would notice when a colleague re-installs or is impersonated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

from app.core.database import Database
from app.core.verified_keys import set_verified, verified_keys
from app.core.views import MemberView

__all__ = ["Trust", "VerificationStore"]


class Trust(Enum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    CHANGED = "changed"  # same name as a verified member, different key


@dataclass(frozen=True)
class _Record:
    identity_pk: bytes
    name: str


def _now_ms() -> int:
    return int(time.time() * 1000)


class VerificationStore:
    """Verified identity keys of this profile (one store per unlocked session)."""

    def __init__(self) -> None:
        self._verified: dict[bytes, _Record] = {}
        self._db: Database | None = None

    def attach(self, db: Database | None) -> None:
        """Load the marks of the unlocked profile (``None`` on lock forgets them)."""
        self._db = db
        self._verified = (
            {pk: _Record(pk, name) for pk, name in verified_keys(db).items()} if db else {}
        )

    def mark_verified(self, member: MemberView) -> None:
        self._verified[member.identity_pk] = _Record(member.identity_pk, member.name)
        if self._db is not None:
            set_verified(self._db, member.identity_pk, member.name, True, _now_ms())

    def clear(self, member: MemberView) -> None:
        self._verified.pop(member.identity_pk, None)
        if self._db is not None:
            set_verified(self._db, member.identity_pk, member.name, False, _now_ms())

    def trust(self, member: MemberView) -> Trust:
        if member.identity_pk in self._verified:
            return Trust.VERIFIED
        if any(r.name == member.name for r in self._verified.values()):
            return Trust.CHANGED
        return Trust.UNVERIFIED
