"""Adding one of the member's devices to one group (docs/protocol.md 8.4): the DEVICE_ADD
commit and the welcome sealed to the device's delivery key for that group. Used when a
device is linked (``devices``) and for groups entered later (``device_channel``)."""

from __future__ import annotations

from app.core.errors import AlreadyExists
from app.core.group_sync import GroupSync
from app.core.ports import Context
from app.core.store import groups as group_store
from crypto.device import DeviceCert, device_add_body
from crypto.group_log import EntryKind, GroupState
from crypto.identity import DeliveryCert
from crypto.welcome import Welcome

__all__ = ["commit_device_add"]


async def commit_device_add(
    ctx: Context, groups: GroupSync, cert: DeviceCert, key: DeliveryCert, group_id: bytes
) -> bytes | None:
    """Commit DEVICE_ADD of ``cert``'s device with ``key`` in ``group_id`` and return the
    sealed welcome for it (the log up to that entry and the entry's epoch secret, sealed
    to ``key``); None when the device is in the group already."""
    body = device_add_body(cert, key)

    def make(state: GroupState) -> tuple[EntryKind, bytes]:
        if state.is_member(cert.device_pk):
            raise AlreadyExists("the device is in this group already")
        return EntryKind.DEVICE_ADD, body

    try:
        entry, secret, seq = await groups.commit(group_id, make)
    except AlreadyExists:
        return None
    session = groups.session(group_id)
    return Welcome.seal(
        ctx.identity,
        key,
        relay_url=session.relay_url,
        mailbox_id=session.mailbox_id,
        start_after=seq,
        entries=group_store.load_log(ctx.db, group_id, upto=entry.seq),
        epoch_secret=secret,
        rng=ctx.rng,
    )
