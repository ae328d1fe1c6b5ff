"""Delivery keys that rotate, and whose private halves are deleted once nothing can be
sealed to them any more (docs/protocol.md 3.2).

Every group and every join gets its own delivery key. In a group, a member replaces its
key with a DELIVERY_KEY entry (kind 11) when the key was sent in a join request, was the
single key of a profile before 0012, or is ``max_age_ms`` old and some commit has been
sealed to it since. Commit boxes go to the key the roster lists after the entry, so once
the rotation entry is applied no later commit can address the old key: the old private
half is deleted right then (``settle``), and the database's write-ahead log is
checkpointed so the deleted row does not linger there.

The functions here decide; ``app.core.store.delivery_keys`` holds the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.public

from app.core.database import Database
from app.core.store import delivery_keys as store
from app.core.store import profile as profile_store
from app.core.store.delivery_keys import DeliveryKeyRow, KeyOrigin
from crypto.errors import DecryptionFailed
from crypto.group_log import GroupState
from crypto.identity import DeliveryCert, Identity, Rng

__all__ = [
    "ROTATE_AFTER_MS",
    "KeyPolicy",
    "begin_rotation",
    "collect_profile_keys",
    "forget_group",
    "forget_join",
    "holds_key",
    "identity_for",
    "join_identities",
    "keep_key",
    "new_key",
    "replace_profile_key",
    "rotation_due",
    "settle",
]

ROTATE_AFTER_MS = 7 * 24 * 3600 * 1000
"""A group delivery key is replaced once this old, if a commit has been sealed to it."""


@dataclass(frozen=True)
class KeyPolicy:
    """When a member replaces its delivery key in a group."""

    max_age_ms: int = ROTATE_AFTER_MS


def _identity(me: Identity, row: DeliveryKeyRow) -> Identity:
    return me.with_delivery_key(nacl.public.PrivateKey(row.secret), DeliveryCert.decode(row.cert))


def identity_for(db: Database, me: Identity, cert: DeliveryCert) -> Identity:
    """``me`` holding the private half of ``cert`` (the key a roster lists for us);
    ``DecryptionFailed`` when the profile no longer holds it."""
    row = store.load_key(db, cert.delivery_pk)
    if row is None:
        raise DecryptionFailed("this profile holds no private key for that delivery key")
    return me.with_delivery_key(nacl.public.PrivateKey(row.secret), cert)


def keep_key(
    db: Database,
    holder: Identity,
    origin: KeyOrigin,
    now: int,
    *,
    group_id: bytes | None = None,
    join_code: str | None = None,
    live_since: int | None = None,
) -> None:
    """Store ``holder``'s delivery key before anyone can seal to it."""
    store.insert_key(
        db,
        DeliveryKeyRow(
            public_key=holder.delivery_cert.delivery_pk,
            secret=bytes(holder.delivery_key),
            cert=holder.delivery_cert.encode(),
            origin=origin,
            group_id=group_id,
            join_code=join_code,
            live_since=live_since,
            created_at=now,
        ),
    )


def new_key(
    db: Database,
    me: Identity,
    rng: Rng,
    now: int,
    origin: KeyOrigin,
    *,
    group_id: bytes | None = None,
    join_code: str | None = None,
) -> Identity:
    """A fresh delivery key, stored; ``me`` holding it."""
    fresh = me.with_new_delivery_key(rng, now)
    keep_key(db, fresh, origin, now, group_id=group_id, join_code=join_code)
    return fresh


def join_identities(db: Database, me: Identity, join_code: str) -> list[Identity]:
    """Every identity a welcome for ``join_code`` may be sealed to: the keys sent with
    its join requests, or a profile's single key for a join asked before 0012."""
    rows = store.join_keys(db, join_code) or store.profile_keys(db)
    return [_identity(me, row) for row in rows]


def settle(db: Database, state: GroupState, me_pk: bytes) -> bool:
    """After ``state`` was entered: the key its roster lists for us is live in this group
    and every other key of the group, but a pending rotation's, is deleted. True when a
    key was deleted."""
    listed = state.member(me_pk).delivery_cert.delivery_pk
    row = store.load_key(db, listed)
    newly_live = row is not None and (row.group_id != state.group_id or row.live_since is None)
    if row is not None and newly_live and row.origin != KeyOrigin.PROFILE:
        store.set_live(db, listed, state.group_id, state.seq)
        if row.join_code is not None:
            store.delete_join_keys(db, row.join_code)
    deleted = False
    for other in store.group_keys(db, state.group_id):
        if other.public_key == listed:
            continue
        if other.origin == KeyOrigin.ROTATION and other.live_since is None:
            continue  # our rotation entry has not been seen landing yet
        store.delete_key(db, other.public_key)
        deleted = True
    return deleted


def begin_rotation(db: Database, me: Identity, group_id: bytes, rng: Rng, now: int) -> Identity:
    """A fresh key for our DELIVERY_KEY entry in ``group_id``, stored as pending; an
    earlier pending one (whose entry never landed, so nothing was sealed to it) goes."""
    for row in store.group_keys(db, group_id):
        if row.origin == KeyOrigin.ROTATION and row.live_since is None:
            store.delete_key(db, row.public_key)
    return new_key(db, me, rng, now, KeyOrigin.ROTATION, group_id=group_id)


def rotation_due(
    db: Database, state: GroupState, me_pk: bytes, now: int, policy: KeyPolicy
) -> bool:
    """Whether we should replace the delivery key ``state``'s roster lists for us."""
    cert = state.member(me_pk).delivery_cert
    row = store.load_key(db, cert.delivery_pk)
    if row is None or row.origin in (KeyOrigin.PROFILE, KeyOrigin.JOIN):
        return True
    since = row.live_since if row.live_since is not None else state.seq
    return state.seq > since and now - cert.created_at >= policy.max_age_ms


def forget_group(db: Database, group_id: bytes) -> None:
    """We are no longer in the group: no commit will ever be sealed to us there."""
    store.delete_group_keys(db, group_id)


def forget_join(db: Database, join_code: str) -> None:
    """The join will not be welcomed."""
    store.delete_join_keys(db, join_code)


def collect_profile_keys(db: Database, listed: set[bytes], pending_codes: list[str]) -> bool:
    """Delete a pre-0012 profile's single key once no active group's roster lists it
    (``listed``) and no join asked with it still waits. True when it was deleted."""
    waiting = any(not store.join_keys(db, code) for code in pending_codes)
    deleted = False
    for row in store.profile_keys(db):
        if row.public_key not in listed and not waiting:
            store.delete_key(db, row.public_key)
            deleted = True
    return deleted


def holds_key(db: Database, public_key: bytes) -> bool:
    return store.load_key(db, public_key) is not None


def replace_profile_key(db: Database, me: Identity, rng: Rng, now: int) -> Identity:
    """If the profile row still holds a key that groups or joins used (copied to
    ``delivery_keys`` by 0012), give the profile a fresh key nobody ever sees, so the
    old one lives only in its own row and is deleted with it. Returns the identity."""
    if store.load_key(db, me.delivery_cert.delivery_pk) is None:
        return me
    fresh = me.with_new_delivery_key(rng, now)
    profile_store.replace_delivery_key(db, bytes(fresh.delivery_key), fresh.delivery_cert.encode())
    return fresh
