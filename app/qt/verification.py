"""Which members' keys this person has verified, and whether a verified key changed.

Kept in the profile database (``verified_keys``) while a profile is unlocked, so a mark
survives a restart. A member is identified by their identity key; a mark covers the
identity key and the member's linked devices as they were when the numbers were compared.
"Changed" means the safety number is no longer the one compared: the verified member's
devices changed (a device added or removed), or someone with a verified member's name now
shows up under another key (a colleague re-installed, or is impersonated).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from app.core.api import MemberView, SetVerified, VerifiedMark

__all__ = ["Trust", "VerificationStore"]


class Trust(Enum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    CHANGED = "changed"  # other devices than verified, or a verified name with another key


class VerificationStore:
    """Verified identity keys of this profile (one store per unlocked session)."""

    def __init__(self) -> None:
        self._verified: dict[bytes, VerifiedMark] = {}
        self._save: Callable[[SetVerified], None] | None = None

    def attach(
        self, marks: dict[bytes, VerifiedMark] | None, save: Callable[[SetVerified], None] | None
    ) -> None:
        """Take the marks of the unlocked profile and how to store a change (the engine
        writes it); ``None`` on lock forgets them."""
        self._save = save
        self._verified = dict(marks or {})

    def mark_verified(self, member: MemberView) -> None:
        """The person compared the number shown for ``member``: its key and devices."""
        self._verified[member.identity_pk] = VerifiedMark(member.name, member.devices)
        if self._save is not None:
            self._save(SetVerified(member.identity_pk, member.name, True, member.devices))

    def clear(self, member: MemberView) -> None:
        self._verified.pop(member.identity_pk, None)
        if self._save is not None:
            self._save(SetVerified(member.identity_pk, member.name, False))

    def trust(self, member: MemberView) -> Trust:
        mark = self._verified.get(member.identity_pk)
        if mark is not None:
            return Trust.VERIFIED if mark.covers(member.devices) else Trust.CHANGED
        if any(r.name == member.name for r in self._verified.values()):
            return Trust.CHANGED
        return Trust.UNVERIFIED
