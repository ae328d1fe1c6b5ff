"""Later groups for linked devices (docs/protocol.md 8.4, "Later groups").

Linking leaves both devices holding the link secret; it derives the *device channel*, a
mailbox that lives as long as the device is linked.  On every sync:

- a linked device reads its channel for ``DeviceWelcome`` items (a group its member
  entered after linking), checks and enters each one, and keeps the first device
  supplied with fresh delivery keys (``DeviceKeys``), each for one later group only;
- the first device reads the keys its devices sent and, for every group it is in that a
  linked, not removed device is missing from, commits DEVICE_ADD with one of that
  device's keys and posts the welcome and the member's ballot secret to the channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import nacl.public

from app.core import delivery_keys
from app.core.database import Database
from app.core.device_add import commit_device_add
from app.core.epoch_entry import enter_epoch
from app.core.errors import RelayRejected
from app.core.events import GroupChanged, GroupJoined
from app.core.group_session import UNKNOWN_HEAD
from app.core.group_sync import GroupSync
from app.core.ports import Context
from app.core.relay_client import FetchResult
from app.core.store import ballots as ballot_store
from app.core.store import delivery_keys as key_store
from app.core.store import device_channels as store
from app.core.store import devices as device_store
from app.core.store import groups as group_store
from app.core.store.ballots import BallotKeyRow
from app.core.store.delivery_keys import KeyOrigin
from app.core.sync_pass import STEP_ERRORS, SyncPass
from crypto.ballot.keys import BallotKeyPair
from crypto.device import DeviceCert, DeviceRemoveBody, device_id
from crypto.device_channel import MAX_CHANNEL_KEYS, DeviceKeys, DeviceWelcome, channel_secrets
from crypto.device_link import LinkKind, LinkSecrets, open_link_item, seal_link_item
from crypto.errors import RemoteError
from crypto.group_log import EntryKind, LogEntry
from crypto.identity import DeliveryCert
from crypto.key_schedule import cap_hash
from crypto.welcome import VerifiedWelcome

__all__ = [
    "ASK_EVERY_MS",
    "KEYS_LOW",
    "KEYS_MAX",
    "KEYS_REFILL",
    "DeviceChannels",
    "enter_welcomed_group",
    "spare_join_code",
]

KEYS_LOW = 8
"""A linked device sends more keys once it holds fewer spare keys than this."""
KEYS_REFILL = 16
"""How many fresh keys it makes then."""
KEYS_MAX = 64
"""A linked device asked for keys makes more only while it holds fewer than this."""
ASK_EVERY_MS = 24 * 3600 * 1000
"""The first device asks a device for keys at most this often."""
_SPARE_PREFIX = "device-spare:"


def spare_join_code(delivery_pk: bytes) -> str:
    """How a linked device names a spare key in ``delivery_keys`` (one name per key, so
    settling one group's key deletes no other spare)."""
    return _SPARE_PREFIX + delivery_pk.hex()


def enter_welcomed_group(db: Database, welcome: VerifiedWelcome, me_pk: bytes, now: int) -> bool:
    """Store a checked device welcome as a group of ours (in the caller's transaction);
    False when the profile has that group already."""
    group_id = welcome.state.group_id
    if group_store.load_group(db, group_id) is not None:
        return False
    group_store.insert_group(
        db, group_id, welcome.relay_url, welcome.mailbox_id, welcome.start_after, now
    )
    for entry in welcome.entries:
        group_store.insert_log_entry(db, group_id, entry, None)
    enter_epoch(db, welcome.state, welcome.epoch_secret, me_pk)
    delivery_keys.settle(db, welcome.state, me_pk)
    return True


async def _fetch(
    ctx: Context, channel: store.ChannelRow, secrets: LinkSecrets
) -> tuple[FetchResult, int]:
    """The channel's items after our cursor, and the cursor they follow.  A relay restored
    from a backup (a new generation id) hands sequence numbers out again, so then the
    whole channel is read again from the start: every item is safe to read twice (a
    repeated welcome or key is skipped)."""
    relay = ctx.relays.get(channel.relay_url)
    result = await relay.fetch(secrets.mailbox_id, secrets.capability, channel.cursor)
    cursor = channel.cursor
    generation = result.generation
    if generation is not None and generation != channel.generation:
        if channel.generation is not None and cursor > 0:
            cursor = 0
            result = await relay.fetch(secrets.mailbox_id, secrets.capability, cursor)
        with ctx.db.transaction():
            store.set_generation(ctx.db, channel.device_pk, generation)
            store.set_cursor(ctx.db, channel.device_pk, cursor)
    return result, cursor


def _link(link: device_store.LinkRow) -> tuple[bytes, str]:
    return link.secret, link.relay_url


def _lost_items(cursor: int, first_seq: int | None, last: int) -> bool:
    """Whether items after ``cursor`` are gone from the relay (expired after its retention
    before we read them): sequence numbers of one mailbox have no holes otherwise."""
    if first_seq is not None:
        return first_seq > cursor + 1
    return last > cursor


class DeviceChannels:
    """Both sides of the device channel; ``Devices`` owns one."""

    def __init__(
        self,
        ctx: Context,
        groups: GroupSync,
        ensure_ballot_key: Callable[[bytes], Awaitable[bool]],
    ) -> None:
        self._ctx = ctx
        self._groups = groups
        self._ensure_ballot_key = ensure_ballot_key

    # -- opening ------------------------------------------------------------------------

    def open_device(self, link_secret: bytes, relay_url: str) -> None:
        """Linked device, installing the bundle (in the caller's transaction)."""
        me = self._ctx.identity.public_key
        store.insert_channel(self._ctx.db, me, "device", link_secret, relay_url)

    # -- devices linked before migration 0024 -------------------------------------------

    async def adopt_device(self) -> None:
        """A linked device without a channel (linked before 0024): open one from the link
        it was linked with; its keys then tell the first device which link it was."""
        db = self._ctx.db
        if store.channels(db, "device"):
            return
        links = device_store.done_links(db, "add")
        if not links:
            return
        link = links[-1]  # the link whose bundle was installed
        secrets = channel_secrets(link.secret)
        try:
            await self._ctx.relays.get(link.relay_url).create_mailbox(
                secrets.mailbox_id, cap_hash(secrets.capability), bytes(32)
            )
        except RelayRejected as exc:
            if exc.code != "exists":
                raise
        with db.transaction():
            store.insert_channel(db, self._ctx.identity.public_key, "device", *_link(link))

    async def adopt_owner(self, sync: SyncPass) -> None:
        """First device: for a linked device without a channel (linked before 0024), look
        in the channels of our ended links for keys signed by that device."""
        db = self._ctx.db
        known = store.channels(db, "owner")
        secrets_known = {c.secret for c in known}
        waiting = {
            r.device_pk
            for r in device_store.devices(db)
            if r.removed_at is None and r.device_pk not in {c.device_pk for c in known}
        }
        for link in device_store.done_links(db, "show"):
            if not waiting:
                return
            if link.secret in secrets_known or sync.is_down(link.relay_url):
                continue
            secrets = channel_secrets(link.secret)
            try:
                result = await self._ctx.relays.get(link.relay_url).fetch(
                    secrets.mailbox_id, secrets.capability, 0
                )
            except RelayRejected as exc:
                if exc.code in ("not_found", "forbidden"):
                    continue  # no device opened this link's channel (yet)
                sync.warnings.append(f"device channel: {type(exc).__name__}: {exc}")
                continue
            except STEP_ERRORS as exc:
                sync.warnings.append(f"device channel: {type(exc).__name__}: {exc}")
                continue
            for _, item in result.items:
                try:
                    kind, body = open_link_item(secrets, item)
                    if kind != LinkKind.KEYS:
                        continue
                    device_pk = DeviceKeys.decode(body).device_pk
                except RemoteError:
                    continue
                if device_pk in waiting:
                    with db.transaction():
                        store.insert_channel(db, device_pk, "owner", *_link(link))
                    waiting.discard(device_pk)
                    break

    # -- the linked device --------------------------------------------------------------

    async def sync_device(self, sync: SyncPass, owner_pk: bytes) -> list[bytes]:
        """Enter the later groups posted to this device; send keys when running low."""
        joined: list[bytes] = []
        for channel in store.channels(self._ctx.db, "device"):
            if channel.closed or sync.is_down(channel.relay_url):
                continue
            try:
                joined += await self._device_step(channel, owner_pk, sync.warnings)
            except RelayRejected as exc:
                if exc.code == "not_found":
                    with self._ctx.db.transaction():
                        store.close(self._ctx.db, channel.device_pk)
                        for row in key_store.join_keys_like(self._ctx.db, _SPARE_PREFIX):
                            key_store.delete_key(self._ctx.db, row.public_key)
                    sync.warnings.append(
                        "your first device closed this device's channel (was it removed?):"
                        " groups joined later will not reach this device"
                    )
                else:
                    sync.warnings.append(f"device channel: {type(exc).__name__}: {exc}")
            except STEP_ERRORS as exc:
                sync.warnings.append(f"device channel: {type(exc).__name__}: {exc}")
        return joined

    async def _device_step(
        self, channel: store.ChannelRow, owner_pk: bytes, warnings: list[str]
    ) -> list[bytes]:
        db = self._ctx.db
        secrets = channel_secrets(channel.secret)
        result, cursor = await _fetch(self._ctx, channel, secrets)
        first = result.items[0][0] if result.items else None
        if _lost_items(cursor, first, result.last):
            warnings.append(
                "items for this device expired on the relay before it read them: a group"
                " your first device added it to meanwhile may be missing here; if so,"
                " remove this device on the first device and link this computer again"
            )
        joined: list[bytes] = []
        wanted = False
        for seq, item in result.items:
            with db.transaction():
                store.set_cursor(db, channel.device_pk, seq)
            try:
                kind, body = open_link_item(secrets, item)
                wanted = wanted or kind == LinkKind.KEYS_WANTED
                if kind != LinkKind.WELCOME:
                    continue
                group_id = self._enter(body, owner_pk)
            except RemoteError as exc:
                warnings.append(f"refused a welcome on the device channel: {exc}")
                continue
            if group_id is not None:
                joined.append(group_id)
        if not result.items and result.last > cursor:
            with db.transaction():
                store.set_cursor(db, channel.device_pk, result.last)
        await self._send_keys(channel, secrets, wanted)
        return joined

    def _enter(self, body: bytes, owner_pk: bytes) -> bytes | None:
        """Check and enter one later welcome; the group, or None for one we have."""
        db, me = self._ctx.db, self._ctx.identity
        key_pk = DeviceWelcome.key_of(body)
        row = key_store.load_key(db, key_pk)
        if row is None or row.join_code != spare_join_code(key_pk):
            return None  # a repeat of a welcome entered already (its key is no spare now)
        holder = me.with_delivery_key(
            nacl.public.PrivateKey(row.secret), DeliveryCert.decode(row.cert)
        )
        opened = DeviceWelcome.open(body, holder, owner_pk)
        welcome = opened.welcome
        group_id = welcome.state.group_id
        with db.transaction():
            if not enter_welcomed_group(db, welcome, me.public_key, self._ctx.now()):
                key_store.delete_key(db, key_pk)  # spent on a group this profile has
                return None
            group_store.save_sender_heads(  # earlier messages are not ours to see (as 7.5)
                db,
                group_id,
                {
                    m.identity_pk: UNKNOWN_HEAD
                    for m in welcome.state.roster()
                    if m.identity_pk != me.public_key
                },
            )
            pair = BallotKeyPair.from_secret(opened.ballot_secret)
            ballot_store.insert_ballot_key(
                db, BallotKeyRow(group_id, opened.ballot_secret, pair.public, self._ctx.now())
            )
        self._groups.forget(group_id)
        self._ctx.events.emit(GroupJoined(group_id, self._groups.session(group_id).state.name))
        return group_id

    def _spare_certs(self) -> list[DeliveryCert]:
        return [
            DeliveryCert.decode(row.cert)
            for row in key_store.join_keys_like(self._ctx.db, _SPARE_PREFIX)
        ]

    async def _send_keys(
        self, channel: store.ChannelRow, secrets: LinkSecrets, wanted: bool
    ) -> None:
        """When fewer than ``KEYS_LOW`` spare keys are left, or the first device asked
        (and fewer than ``KEYS_MAX`` are held), make ``KEYS_REFILL`` more and post the
        newest 32 held; an item the relay did not take is posted again next sync."""
        db, me, now = self._ctx.db, self._ctx.identity, self._ctx.now()
        item = channel.keys_item
        spares = self._spare_certs()
        if item is None and (len(spares) < KEYS_LOW or (wanted and len(spares) < KEYS_MAX)):
            with db.transaction():
                for _ in range(KEYS_REFILL):
                    fresh = me.with_new_delivery_key(self._ctx.rng, now)
                    delivery_keys.keep_key(
                        db,
                        fresh,
                        KeyOrigin.JOIN,
                        now,
                        join_code=spare_join_code(fresh.delivery_cert.delivery_pk),
                    )
                    spares.append(fresh.delivery_cert)
                body = DeviceKeys.create(me, spares[-MAX_CHANNEL_KEYS:]).encode()
                item = seal_link_item(secrets, LinkKind.KEYS, body, self._ctx.rng)
                store.set_keys_item(db, channel.device_pk, item)
        if item is not None:
            await self._ctx.relays.get(channel.relay_url).post_item(
                secrets.mailbox_id, secrets.capability, item
            )
            with db.transaction():
                store.set_keys_item(db, channel.device_pk, None)

    # -- the first device ---------------------------------------------------------------

    async def sync_owner(self, sync: SyncPass) -> None:
        """Read the keys of every linked device; add each missing one to our groups."""
        await self.adopt_owner(sync)
        for channel in store.channels(self._ctx.db, "owner"):
            if channel.closed or sync.is_down(channel.relay_url):
                continue
            try:
                await self._owner_step(channel, sync.warnings)
            except STEP_ERRORS as exc:
                what = device_id(channel.device_pk)
                sync.warnings.append(f"device {what}: {type(exc).__name__}: {exc}")

    def _marked_removed(self, device_pk: bytes) -> bool:
        """Whether this device removed it (``caucus device remove``)."""
        row = next(
            (r for r in device_store.devices(self._ctx.db) if r.device_pk == device_pk), None
        )
        return row is None or row.removed_at is not None

    def _removed_in_a_log(self, device_pk: bytes) -> bool:
        """Whether a DEVICE_REMOVE of it is in any group's log (another linked device of
        the member removed it); marked removed here then.  Asked right before adding it
        to a group, so the scan runs once per add, not on every sync."""
        db = self._ctx.db
        for raw in store.entries_naming(db, device_pk):
            entry = LogEntry.decode(raw)
            if (
                entry.kind == EntryKind.DEVICE_REMOVE
                and DeviceRemoveBody.decode(entry.body).device_pk == device_pk
            ):
                with db.transaction():
                    device_store.mark_removed(db, device_pk, self._ctx.now())
                return True
        return False

    async def _close(self, channel: store.ChannelRow) -> None:
        """A removed device's channel: deleted on the relay, never read again."""
        secrets = channel_secrets(channel.secret)
        try:
            await self._ctx.relays.get(channel.relay_url).delete_mailbox(
                secrets.mailbox_id, secrets.capability
            )
        except RelayRejected as exc:
            if exc.code not in ("not_found", "forbidden"):
                raise
        with self._ctx.db.transaction():
            store.close(self._ctx.db, channel.device_pk)

    async def _owner_step(self, channel: store.ChannelRow, warnings: list[str]) -> None:
        db = self._ctx.db
        device_pk = channel.device_pk
        if self._marked_removed(device_pk):
            await self._close(channel)
            return
        secrets = channel_secrets(channel.secret)
        relay = self._ctx.relays.get(channel.relay_url)
        result, cursor = await _fetch(self._ctx, channel, secrets)
        first = result.items[0][0] if result.items else None
        if _lost_items(cursor, first, result.last):
            warnings.append(
                f"items of device {device_id(device_pk)}'s channel expired on the relay"
                " before this device read them: keys it sent are lost, and it is asked"
                " for new ones when a group needs one"
            )
        for seq, item in result.items:
            with db.transaction():
                store.set_cursor(db, device_pk, seq)
            try:
                kind, body = open_link_item(secrets, item)
                if kind != LinkKind.KEYS:
                    continue
                keys = DeviceKeys.decode(body)
                if keys.device_pk != device_pk:
                    warnings.append(f"device {device_id(device_pk)} sent keys of another key")
                    continue
            except RemoteError as exc:
                warnings.append(f"refused keys on device {device_id(device_pk)}'s channel: {exc}")
                continue
            with db.transaction():
                for cert in keys.keys:
                    store.add_spare_key(
                        db, cert.delivery_pk, device_pk, cert.encode(), self._ctx.now()
                    )
        if not result.items and result.last > cursor:
            with db.transaction():
                store.set_cursor(db, device_pk, result.last)
        for delivery_pk, item in store.unposted_welcomes(db, device_pk):
            await relay.post_item(secrets.mailbox_id, secrets.capability, item)
            with db.transaction():
                store.set_welcome_item(db, delivery_pk, None)
        await self._add_where_missing(channel, secrets, warnings)

    async def _add_where_missing(
        self, channel: store.ChannelRow, secrets: LinkSecrets, warnings: list[str]
    ) -> None:
        db, me = self._ctx.db, self._ctx.identity
        device_pk = channel.device_pk
        row = next(r for r in device_store.devices(db) if r.device_pk == device_pk)
        cert = DeviceCert.decode(row.cert)
        for group_id in self._groups.active_group_ids():
            session = self._groups.session(group_id)
            if not session.active or session.state.is_member(device_pk):
                continue
            if not session.state.is_member(me.public_key):
                continue
            spare = store.spare_key_for(db, device_pk, group_id)
            if spare is None:
                free = store.free_spare_keys(db, device_pk)
                if not free:
                    await self._ask_for_keys(channel, secrets)
                    warnings.append(
                        f"device {device_id(device_pk)} has no unused keys here: it"
                        " enters your newer groups after it syncs"
                    )
                    return
                spare = free[0]
            if self._removed_in_a_log(device_pk):
                await self._close(channel)
                return
            if spare.group_id is None:
                with db.transaction():
                    store.use_spare_key(db, spare.delivery_pk, group_id)
            await self._add(channel, secrets, cert, DeliveryCert.decode(spare.cert), group_id)

    async def _ask_for_keys(self, channel: store.ChannelRow, secrets: LinkSecrets) -> None:
        """Post a keys-wanted item, at most once per ``ASK_EVERY_MS`` (a device whose
        keys expired unread, or were spent on commits that never landed, makes more)."""
        now = self._ctx.now()
        if channel.keys_wanted_at is not None and now - channel.keys_wanted_at < ASK_EVERY_MS:
            return
        item = seal_link_item(secrets, LinkKind.KEYS_WANTED, bytes([1]), self._ctx.rng)
        await self._ctx.relays.get(channel.relay_url).post_item(
            secrets.mailbox_id, secrets.capability, item
        )
        with self._ctx.db.transaction():
            store.set_keys_wanted(self._ctx.db, channel.device_pk, now)

    async def _add(
        self,
        channel: store.ChannelRow,
        secrets: LinkSecrets,
        cert: DeviceCert,
        key: DeliveryCert,
        group_id: bytes,
    ) -> None:
        """DEVICE_ADD in ``group_id`` with ``key``, then the welcome to the channel."""
        db, me = self._ctx.db, self._ctx.identity
        await self._ensure_ballot_key(group_id)
        ballot_secret = ballot_store.ballot_key_secret(db, group_id)
        if ballot_secret is None:
            return  # registered on a later sync; the device is added then
        welcome = await commit_device_add(self._ctx, self._groups, cert, key, group_id)
        if welcome is None:
            return
        sealed = DeviceWelcome.seal(me, key, welcome, group_id, ballot_secret, self._ctx.rng)
        item = seal_link_item(secrets, LinkKind.WELCOME, sealed, self._ctx.rng)
        with db.transaction():
            store.set_welcome_item(db, key.delivery_pk, item)
        self._ctx.events.emit(GroupChanged(group_id))
        await self._ctx.relays.get(channel.relay_url).post_item(
            secrets.mailbox_id, secrets.capability, item
        )
        with db.transaction():
            store.set_welcome_item(db, key.delivery_pk, None)
