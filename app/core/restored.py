"""No key or nonce used twice after a restore (docs/protocol.md section 9.4).

A profile restored from a backup holds its groups' send chains as they were at backup
time, and the original copy may have sent with the very next counters since (and may
still be running). So before the first message it seals in a restored group this profile
syncs to the end and commits a DELIVERY_KEY entry to a fresh key only it holds: the entry
opens a new epoch (every chain starts over from a new epoch secret, so no (sender, epoch,
counter) can repeat), its key box for us goes to the new key (the original copy cannot
open that epoch, so it can never send in it), and our previous-message link is taken from
the last message of ours the relay showed (so receivers see no gap). Until then the group's
queue is held (``SendHeld``): a restored member whose delivery key the original replaced
after the backup cannot follow the group's commits any more (they are sealed to a key the
backup does not hold) and stays held until an organizer removes and re-invites it.

It wraps the outbox's other gate (freshness) as a ``SendGate``.
"""

from __future__ import annotations

from collections.abc import Collection

from app.core import delivery_keys
from app.core.errors import ClientError, RelayError
from app.core.key_rotation import KeyRotation
from app.core.ports import Context, Groups
from app.core.send_gate import SendGate, SendHeld
from app.core.store import backups as store
from app.core.store import groups as group_store
from app.core.store import recovery as recovery_store
from crypto.errors import RemoteError

__all__ = ["RestoredGate"]

_STUCK = (
    "this profile was restored from a backup older than its last delivery key change in"
    " this group: it cannot open the group's new epochs, and sends nothing there; an"
    " organizer must remove and re-invite it"
)


class RestoredGate:
    """Enter an epoch of our own in a restored group before anything is sealed there."""

    def __init__(
        self, ctx: Context, groups: Groups, rotation: KeyRotation, inner: SendGate | None
    ) -> None:
        self._ctx = ctx
        self._groups = groups
        self._rotation = rotation
        self._inner = inner

    def waiting(self, group_id: bytes) -> bool:
        return store.is_restored(self._ctx.db, group_id)

    async def check(self, group_id: bytes, content_types: Collection[int]) -> None:
        if self.waiting(group_id):
            await self.reenter(group_id)
        if self._inner is not None:
            await self._inner.check(group_id, content_types)

    def _cut_off(self, group_id: bytes) -> bool:
        """A commit of the group went to a delivery key of ours that the backup lacks."""
        db = self._ctx.db
        return store.saw_foreign_key_commit(db, group_id) or (
            recovery_store.load_stuck(db, group_id) is not None
        )

    async def reenter(self, group_id: bytes) -> None:
        """Sync, commit our fresh delivery key and take our message link from the relay;
        ``SendHeld`` (the queue waits) when that cannot be done now."""
        db = self._ctx.db
        me = self._ctx.identity
        session = self._groups.require_active(group_id)
        if self._cut_off(group_id):
            raise SendHeld(_STUCK)
        before = session.state.member(me.public_key).delivery_cert.delivery_pk
        try:
            await self._rotation.rotate(group_id)
        except (ClientError, RelayError, RemoteError) as exc:
            if self._cut_off(group_id):
                raise SendHeld(_STUCK) from None
            raise SendHeld(
                f"restored from a backup: waiting to enter a new epoch of our own ({exc})"
            ) from None
        session = self._groups.require_active(group_id)
        cert = session.state.member(me.public_key).delivery_cert
        if cert.delivery_pk == before or session.keys is None:
            raise SendHeld("restored from a backup: our new epoch has not arrived yet")
        delivery_keys.identity_for(db, me, cert)  # we hold the key the epoch was sealed to
        head = session.sender_heads.get(me.public_key)
        with db.transaction():
            if head is not None:
                group_store.set_last_sent(db, group_id, head)
            store.clear_restored(db, group_id)
