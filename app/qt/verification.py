"""Which members' keys this person has verified, and whether a verified key changed.

Kept in memory for now: the profile database has no table for it yet (the migration is
requested in the desktop app's report). A member is identified by their identity key;
"changed" means someone with a verified member's name now shows up under another key,
which is what a person would notice when a colleague re-installs or is impersonated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

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


class VerificationStore:
    """Verified identity keys of this profile (one store per unlocked session)."""

    def __init__(self) -> None:
        self._verified: dict[bytes, _Record] = {}

    def mark_verified(self, member: MemberView) -> None:
        self._verified[member.identity_pk] = _Record(member.identity_pk, member.name)

    def clear(self, member: MemberView) -> None:
        self._verified.pop(member.identity_pk, None)

    def trust(self, member: MemberView) -> Trust:
        if member.identity_pk in self._verified:
            return Trust.VERIFIED
        if any(r.name == member.name for r in self._verified.values()):
            return Trust.CHANGED
        return Trust.UNVERIFIED
