"""Bringing a profile written before migration 0012 to the stored forms of forward
secrecy after seizure (docs/protocol.md 3.1, 3.2), when the engine opens it.

Migration 0012 copied the profile's single delivery key into ``delivery_keys``; here the
bare epoch secrets are turned into epoch keys and chains, and the profile row's own copy
of the old delivery key is replaced by a fresh one, so the old key lives only in its own
row, which is deleted once every group has rotated away from it.
"""

from __future__ import annotations

from app.core import delivery_keys
from app.core.database import Database
from app.core.epoch_entry import convert_legacy
from app.core.store import groups
from crypto.identity import Identity, Rng

__all__ = ["upgrade_key_storage"]


def upgrade_key_storage(db: Database, me: Identity, rng: Rng, now: int) -> Identity:
    """Convert what an older profile stored; returns the profile's identity as stored now.
    Does nothing (and writes nothing) for a profile already converted."""
    legacy = groups.legacy_epoch_groups(db)
    if not legacy and not delivery_keys.holds_key(db, me.delivery_cert.delivery_pk):
        return me
    with db.transaction():
        for group_id in legacy:
            convert_legacy(db, group_id, me.public_key)
        me = delivery_keys.replace_profile_key(db, me, rng, now)
    db.checkpoint()
    return me
