"""Linked devices (docs/protocol.md section 8): link, add, list and remove.

The first device (holding the identity key) shows a link code and, on a later sync, reads
the new device's request from the link mailbox, certifies its key, commits DEVICE_ADD in
every active group and posts the link bundle (welcomes, ballot secrets, and the key of
the records blob holding history and group records: ``device_records.py``) sealed to the
new device.  The new device posts the request and, on a later sync, installs the
bundle: it enters every group as a slot of its member.  Groups the member enters later
reach the device through the standing device channel (``app.core.device_channel``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nacl.public

from app.core import delivery_keys, device_records
from app.core.database import Database
from app.core.device_add import commit_device_add
from app.core.device_channel import DeviceChannels, enter_welcomed_group
from app.core.errors import AlreadyExists, ClientError, NotFound, NotPermittedHere, RelayError
from app.core.events import GroupChanged, GroupJoined
from app.core.group_sync import GroupSync
from app.core.link_blob import delete_records, upload_records
from app.core.ports import Context
from app.core.store import ballots as ballot_store
from app.core.store import delivery_keys as key_store
from app.core.store import device_channels as channel_store
from app.core.store import devices as store
from app.core.store import groups as group_store
from app.core.store.ballots import BallotKeyRow
from app.core.store.delivery_keys import KeyOrigin
from app.core.sync_pass import STEP_ERRORS, SyncPass
from crypto.ballot.keys import BallotKeyPair
from crypto.device import (
    DeviceAddBody,
    DeviceCert,
    device_id,
    device_remove_body,
)
from crypto.device_channel import channel_secrets
from crypto.device_link import (
    LINK_KEYS,
    MAX_LINK_GROUPS,
    BallotSecret,
    LinkBundle,
    LinkCode,
    LinkKind,
    LinkRequest,
    LinkSecrets,
    open_link_item,
    seal_link_item,
)
from crypto.errors import RemoteError
from crypto.group_log import EntryKind, GroupState
from crypto.identity import DeliveryCert, Identity
from crypto.key_schedule import cap_hash
from crypto.welcome import VerifiedWelcome, open_device_welcome

__all__ = ["LINK_TTL_MS", "DeviceView", "Devices", "member_of"]

LINK_TTL_MS = 10 * 60 * 1000
"""A link code is answered only within this time of being shown."""


@dataclass(frozen=True)
class DeviceView:
    """One of this member's devices, as ``caucus device list --json`` shows it."""

    device_id: str
    name: str
    is_identity: bool  # the first device, holding the identity key
    is_this_device: bool


def member_of(db: Database, identity: Identity) -> bytes:
    """The member a profile acts for: its identity, or a linked device's owner."""
    row = store.device_self(db)
    return identity.public_key if row is None else DeviceCert.decode(row[0]).owner_pk


def _join_code(link_id: bytes, index: int) -> str:
    return f"link:{link_id.hex()}:{index}"


class Devices:
    """``engine.devices``: linking, listing and removing this member's devices."""

    def __init__(
        self,
        ctx: Context,
        groups: GroupSync,
        name: str,
        ensure_ballot_key: Callable[[bytes], Awaitable[bool]],
        put_back_documents: Callable[[list[bytes], list[str]], Awaitable[int]],
    ) -> None:
        self._ctx = ctx
        self._groups = groups
        self._name = name
        self._ensure_ballot_key = ensure_ballot_key  # the member's key travels at linking
        self.channels = DeviceChannels(ctx, groups, ensure_ballot_key)
        self._put_back_documents = put_back_documents  # so the new device opens them

    # -- who we are ---------------------------------------------------------------------

    def own_cert(self) -> DeviceCert | None:
        """Our certificate when this profile is a linked device, else None."""
        row = store.device_self(self._ctx.db)
        return None if row is None else DeviceCert.decode(row[0])

    def member_pk(self) -> bytes:
        """The member this profile acts for: the identity, or a linked device's owner."""
        return member_of(self._ctx.db, self._ctx.identity)

    # -- the first device ---------------------------------------------------------------

    async def start_link(self, relay_url: str) -> str:
        """Open a link mailbox and return the link code to show (protocol 8.4)."""
        if self.own_cert() is not None:
            raise NotPermittedHere("link new devices from your first device (it holds the key)")
        code = LinkCode.generate(relay_url, self._ctx.rng)
        secrets = code.secrets
        relay = self._ctx.relays.get(relay_url)
        await relay.create_mailbox(secrets.mailbox_id, cap_hash(secrets.capability), bytes(32))
        channel = channel_secrets(code.secret)  # the standing channel, for later groups
        await relay.create_mailbox(channel.mailbox_id, cap_hash(channel.capability), bytes(32))
        with self._ctx.db.transaction():
            store.insert_link(self._ctx.db, code.secret, "show", relay_url, self._ctx.now())
        return code.encode()

    async def _answer(self, link: store.LinkRow, warnings: list[str]) -> int:
        """Read requests in a shown link's mailbox; link the first valid one."""
        secrets = LinkSecrets.derive(link.secret)
        relay = self._ctx.relays.get(link.relay_url)
        if self._ctx.now() - link.created_at > LINK_TTL_MS:
            with self._ctx.db.transaction():
                store.set_done(self._ctx.db, link.secret)
            return 0
        result = await relay.fetch(secrets.mailbox_id, secrets.capability, link.cursor)
        for seq, item in result.items:
            with self._ctx.db.transaction():
                store.set_cursor(self._ctx.db, link.secret, seq)
            try:
                kind, body = open_link_item(secrets, item)
                if kind != LinkKind.REQUEST:
                    continue
                request = LinkRequest.decode(body)
            except RemoteError as exc:
                warnings.append(f"rejected a link request: {exc}")
                continue
            await self._link(link, secrets, request, warnings)
            return 1
        return 0

    async def _link(
        self,
        link: store.LinkRow,
        secrets: LinkSecrets,
        request: LinkRequest,
        warnings: list[str],
    ) -> None:
        db, me, now = self._ctx.db, self._ctx.identity, self._ctx.now()
        known = {row.device_pk for row in store.devices(db)}
        if request.device_pk in known or request.device_pk == me.public_key:
            raise AlreadyExists("that device is linked already")
        cert = DeviceCert.issue(me, request.device_pk, request.device_name, now)
        with db.transaction():
            store.add_device(db, request.device_pk, cert.encode(), now)
            store.set_done(db, link.secret)
            channel_store.insert_channel(
                db, request.device_pk, "owner", link.secret, link.relay_url
            )
        welcomes: list[bytes] = []
        ballots: list[BallotSecret] = []
        group_ids = self._groups.active_group_ids()[:MAX_LINK_GROUPS]
        for index, group_id in enumerate(group_ids, start=1):
            key = request.keys[index]
            await self._ensure_ballot_key(group_id)
            welcome = await commit_device_add(self._ctx, self._groups, cert, key, group_id)
            if welcome is None:
                continue
            welcomes.append(welcome)
            ballot_secret = ballot_store.ballot_key_secret(db, group_id)
            if ballot_secret is not None:
                ballots.append(BallotSecret(group_id, ballot_secret))
            self._ctx.events.emit(GroupChanged(group_id))
        await self._put_back_documents(group_ids, warnings)
        relay = self._ctx.relays.get(link.relay_url)
        records = await upload_records(relay, device_records.collect(db, group_ids), self._ctx.rng)
        bundle = LinkBundle(cert, self._name, tuple(welcomes), tuple(ballots), records)
        item = seal_link_item(
            secrets, LinkKind.BUNDLE, bundle.seal(me, request, self._ctx.rng), self._ctx.rng
        )
        await relay.post_item(secrets.mailbox_id, secrets.capability, item)

    # -- the new device -----------------------------------------------------------------

    async def add(self, code_text: str) -> None:
        """Ask to be linked as a device of the member who showed ``code_text``; the
        bundle arrives through ``sync``.  Only a profile in no group yet can be linked."""
        code = LinkCode.parse(code_text)
        db, me, now = self._ctx.db, self._ctx.identity, self._ctx.now()
        if self._groups.active_group_ids() or self.own_cert() is not None:
            raise NotPermittedHere("only a new profile, in no group yet, can become a device")
        secrets = code.secrets
        certs = []
        with db.transaction():
            for index in range(LINK_KEYS):
                fresh = delivery_keys.new_key(
                    db,
                    me,
                    self._ctx.rng,
                    now,
                    KeyOrigin.JOIN,
                    join_code=_join_code(secrets.link_id, index),
                )
                certs.append(fresh.delivery_cert)
            store.insert_link(db, code.secret, "add", code.relay_url, now)
        request = LinkRequest.create(me, self._name, certs)
        item = seal_link_item(secrets, LinkKind.REQUEST, request.encode(), self._ctx.rng)
        await self._ctx.relays.get(code.relay_url).post_item(
            secrets.mailbox_id, secrets.capability, item
        )

    def _link_keys(self, link_id: bytes) -> list[Identity]:
        """The link's delivery keys still held, in request order (index 0 first)."""
        me = self._ctx.identity
        out = []
        for index in range(LINK_KEYS):
            for row in key_store.join_keys(self._ctx.db, _join_code(link_id, index)):
                private = nacl.public.PrivateKey(row.secret)
                out.append(me.with_delivery_key(private, DeliveryCert.decode(row.cert)))
        return out

    async def _receive(self, link: store.LinkRow, warnings: list[str]) -> list[bytes]:
        secrets = LinkSecrets.derive(link.secret)
        relay = self._ctx.relays.get(link.relay_url)
        result = await relay.fetch(secrets.mailbox_id, secrets.capability, link.cursor)
        previous = link.cursor
        for seq, item in result.items:
            with self._ctx.db.transaction():
                store.set_cursor(self._ctx.db, link.secret, seq)
            try:
                kind, body = open_link_item(secrets, item)
                if kind != LinkKind.BUNDLE:
                    previous = seq
                    continue
                keys = self._link_keys(secrets.link_id)
                if not keys:
                    raise NotFound("the keys of this link are gone")
                bundle = LinkBundle.open(body, keys[0].delivery_key, self._ctx.identity.public_key)
            except RemoteError as exc:
                warnings.append(f"rejected a link bundle: {exc}")
                continue
            try:
                records = await device_records.receive(
                    relay, self._ctx.db, bundle.records, warnings
                )
            except RelayError:
                with self._ctx.db.transaction():  # read this bundle again next time
                    store.set_cursor(self._ctx.db, link.secret, previous)
                raise
            joined = self._install(link, secrets, bundle, keys[1:], records, warnings)
            await delete_records(relay, bundle.records)
            await relay.delete_mailbox(secrets.mailbox_id, secrets.capability)
            return joined
        return []

    def _install(
        self,
        link: store.LinkRow,
        secrets: LinkSecrets,
        bundle: LinkBundle,
        keys: list[Identity],
        records: device_records.Records | None,
        warnings: list[str],
    ) -> list[bytes]:
        db, now = self._ctx.db, self._ctx.now()
        me = self._ctx.identity.public_key
        owner = bundle.cert.owner_pk
        verified: list[VerifiedWelcome] = []
        for sealed in bundle.welcomes:
            opened = None
            for key in keys:
                try:
                    opened = open_device_welcome(sealed, key, owner)
                    break
                except RemoteError:
                    continue
            if opened is None:
                warnings.append("a welcome in the link bundle did not open")
                continue
            verified.append(opened)
        joined = []
        with db.transaction():
            store.set_self(db, bundle.cert.encode(), bundle.member_name)
            self.channels.open_device(link.secret, link.relay_url)
            for welcome in verified:
                if not enter_welcomed_group(db, welcome, me, now):
                    continue
                group_id = welcome.state.group_id
                joined.append(group_id)
            for ballot in bundle.ballot_secrets:
                if ballot.group_id in joined:
                    pair = BallotKeyPair.from_secret(ballot.secret)
                    ballot_store.insert_ballot_key(
                        db, BallotKeyRow(ballot.group_id, ballot.secret, pair.public, now)
                    )
            if records is not None:
                device_records.install(db, records, joined, owner, now)
            else:
                device_records.note(db, joined, owner, now, device_records.REFUSED_HISTORY_LINE)
            for index in range(LINK_KEYS):  # the bundle key and any key no group used
                key_store.delete_join_keys(db, _join_code(secrets.link_id, index))
            store.set_done(db, link.secret)
        for group_id in joined:
            self._groups.forget(group_id)
            self._ctx.events.emit(GroupJoined(group_id, self._groups.session(group_id).state.name))
        return joined

    # -- both sides ---------------------------------------------------------------------

    async def sync(self, sync: SyncPass, *, links: bool = True) -> list[bytes]:
        """Answer shown links and install received bundles (``links``: the desktop loop
        reads old link mailboxes less often), then, on a linked device, read its device
        channel for groups added since; the groups joined."""
        joined: list[bytes] = []
        for side in ("show", "add") if links else ():
            for link in store.open_links(self._ctx.db, side):
                if sync.is_down(link.relay_url):
                    continue
                try:
                    if side == "show":
                        await self._answer(link, sync.warnings)
                    else:
                        joined += await self._receive(link, sync.warnings)
                except STEP_ERRORS as exc:
                    sync.warnings.append(f"device link: {type(exc).__name__}: {exc}")
        cert = self.own_cert()
        if cert is not None:  # later groups reach a linked device on its channel
            try:
                await self.channels.adopt_device()
            except STEP_ERRORS as exc:
                sync.warnings.append(f"device channel: {type(exc).__name__}: {exc}")
            joined += await self.channels.sync_device(sync, cert.owner_pk)
        return joined

    async def sync_later_groups(self, sync: SyncPass) -> None:
        """First device, after its groups synced: add every linked device to each group
        it is missing from (a group joined or created after linking, protocol 8.4)."""
        if self.own_cert() is None:
            await self.channels.sync_owner(sync)

    # -- listing and removing -----------------------------------------------------------

    def list(self) -> list[DeviceView]:
        """This member's devices: the first device and every linked device in one of our
        groups or (on the first device) linked and not removed, though not yet added to
        a group created since (names from their certificates)."""
        member = self.member_pk()
        mine = self._ctx.identity.public_key
        names: dict[bytes, str] = {}
        present: set[bytes] = set()
        for group_id in self._groups.active_group_ids():
            state = self._groups.session(group_id).state
            present.update(state.devices_of(member))
            for entry in group_store.load_log(self._ctx.db, group_id):
                if entry.kind == EntryKind.DEVICE_ADD:
                    cert = DeviceAddBody.decode(entry.body).cert
                    if cert.owner_pk == member:
                        names[cert.device_pk] = cert.device_name
        for row in store.devices(self._ctx.db):
            cert = DeviceCert.decode(row.cert)
            names.setdefault(cert.device_pk, cert.device_name)
            if row.removed_at is None:  # linked: in our groups now or after the next sync
                present.add(cert.device_pk)
            else:
                present.discard(cert.device_pk)
        views = [DeviceView(device_id(member), "First device", True, member == mine)]
        for device_pk in sorted(present):
            views.append(
                DeviceView(
                    device_id(device_pk), names.get(device_pk, "device"), False, device_pk == mine
                )
            )
        return views

    async def remove(self, wanted: str) -> int:
        """Remove a linked device from every group (a DEVICE_REMOVE commit each, so it
        reads nothing sent afterwards); returns how many groups it was removed from."""
        member = self.member_pk()
        matches = [v for v in self.list() if v.device_id.startswith(wanted.strip().lower())]
        if len(wanted.strip()) < 8 or len(matches) != 1:
            raise NotFound("no device with that id (give at least 8 hex digits)")
        view = matches[0]
        if view.is_identity:
            raise NotPermittedHere("the first device holds the identity key and cannot be removed")
        if view.is_this_device:
            raise NotPermittedHere("remove this device from another of your devices")
        removed = 0
        for group_id in self._groups.active_group_ids():
            state = self._groups.session(group_id).state
            targets = [d for d in state.devices_of(member) if device_id(d) == view.device_id]
            if not targets:
                continue
            target = targets[0]

            def make(state: GroupState, target: bytes = target) -> tuple[EntryKind, bytes]:
                if not state.is_member(target):
                    raise AlreadyExists("the device left this group already")
                return EntryKind.DEVICE_REMOVE, device_remove_body(target)

            try:
                await self._groups.commit(group_id, make)
            except AlreadyExists:
                continue
            removed += 1
            self._ctx.events.emit(GroupChanged(group_id))
        with self._ctx.db.transaction():
            for row in store.devices(self._ctx.db):
                if device_id(row.device_pk) == view.device_id:
                    store.mark_removed(self._ctx.db, row.device_pk, self._ctx.now())
        if removed == 0 and not any(
            device_id(r.device_pk) == view.device_id for r in store.devices(self._ctx.db)
        ):
            raise ClientError("that device is in none of your groups")
        return removed
