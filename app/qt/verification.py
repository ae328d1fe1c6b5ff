"""Which members' keys this person has verified, and whether a verified key changed.

Kept in the profile database (``verified_keys``) while a profile is unlocked, so a mark
survives a restart. A member is identified by their identity key;
"changed" means someone with a verified member's name now shows up under another key,
which is what a person would notice when a colleague re-installs or is impersonated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from app.core.api import MemberView, SetVerified

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
        self._save: Callable[[SetVerified], None] | None = None

    def attach(
        self, marks: dict[bytes, str] | None, save: Callable[[SetVerified], None] | None
    ) -> None:
        """Take the marks of the unlocked profile and how to store a change (the engine
        writes it); ``None`` on lock forgets them."""
        self._save = save
        self._verified = {pk: _Record(pk, name) for pk, name in (marks or {}).items()}

    def mark_verified(self, member: MemberView) -> None:
        self._verified[member.identity_pk] = _Record(member.identity_pk, member.name)
        if self._save is not None:
            self._save(SetVerified(member.identity_pk, member.name, True))

    def clear(self, member: MemberView) -> None:
        self._verified.pop(member.identity_pk, None)
        if self._save is not None:
            self._save(SetVerified(member.identity_pk, member.name, False))

    def trust(self, member: MemberView) -> Trust:
        if member.identity_pk in self._verified:
            return Trust.VERIFIED
        if any(r.name == member.name for r in self._verified.values()):
            return Trust.CHANGED
        return Trust.UNVERIFIED
