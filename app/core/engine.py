"""The headless client's facade: one unlocked profile and every feature on it.

``Engine`` wires the parts together once and is what the command line, the desktop
app's commands (``app.core.commands``) and tests use. The parts talk through explicit
calls and the narrow interfaces of ``app.core.ports``; none reaches into another:

- ``RelayHealth`` (relay_health.py): each relay's connection state, failed sync steps;
- ``GroupSync`` (group_sync.py): live group sessions, mailbox sync, compare-and-set commits;
- ``Outbox`` (outbox.py): the one durable outbox, for signed messages (in order) and
  anonymous votes (after their delay);
- ``Admission`` (admission.py): invites, join requests, approvals and welcomes;
- ``BallotService`` and ``DocumentService``: anonymous ballots and signed documents.

The read side (groups, members, messages, search) is ``Queries``, which the facade
extends with the live group sessions. Every change is committed to the database before
listeners hear of it; every network step can be retried without losing or duplicating
anything. Not thread-safe: use one engine from one asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.core.admission import DEFAULT_INVITE_TTL_MS, Admission
from app.core.attachments import Attachments
from app.core.ballots import BallotService
from app.core.cases import CaseService
from app.core.client_reports import ClientReports
from app.core.conversation import Conversation
from app.core.database import Database
from app.core.delivery_keys import KeyPolicy, keep_key
from app.core.devices import LINK_TTL_MS, Devices, member_of
from app.core.documents import DocumentService
from app.core.epoch_entry import enter_epoch
from app.core.errors import (
    ClientError,
    RelayError,
    RelayUnavailable,
)
from app.core.events import (
    DeviceLinked,
    GroupChanged,
    GroupJoined,
    Listener,
)
from app.core.freshness import Freshness
from app.core.group_description import Description
from app.core.group_session import GroupSession
from app.core.group_sync import GroupSync
from app.core.key_recovery import HELP_IDLE_MS, KeyRecovery
from app.core.key_rotation import KeyRotation
from app.core.key_upgrade import upgrade_key_storage
from app.core.outbox import Outbox
from app.core.pins import Pins
from app.core.ports import Clock, CommitMaker, Context, EventSink, RelayPool, Rng
from app.core.previews import Previews
from app.core.profile import unlock, validate_group_name
from app.core.queries import Queries
from app.core.rates import RatesService
from app.core.relay_client import DEFAULT_TIMEOUTS, RelayClient, RelayTimeouts
from app.core.relay_health import RelayHealth
from app.core.restored import RestoredGate
from app.core.signature_checks import SignatureChecker
from app.core.store import devices as device_store
from app.core.store import groups
from app.core.store import invites as invite_store
from app.core.store import profile as profile_store
from app.core.store.delivery_keys import KeyOrigin
from app.core.sync_pass import STEP_ERRORS, SyncPass
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.errors import RemoteError
from crypto.group_log import (
    EntryKind,
    GroupState,
    LogEntry,
    Role,
    channel_body,
    create_group,
    remove_body,
    rename_body,
    role_body,
)
from crypto.identity import Identity
from crypto.invite import InviteSecrets, JoinRequest
from crypto.key_schedule import EpochKeys, cap_hash

__all__ = ["Engine", "SyncReport", "wall_clock_ms"]

REKEY_INTERVAL_MS = 7 * 24 * 3600 * 1000
_STALE_LINK_EVERY_MS = 60_000  # run reads a link request older than its TTL this often


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class SyncReport:
    """What one ``sync`` did, for the CLI and tests."""

    messages: int
    commits: int
    joined: tuple[bytes, ...]
    admitted: int
    warnings: tuple[str, ...]
    unsent: int


class Engine(Queries):
    """One unlocked profile: every feature of the headless client."""

    def __init__(
        self,
        db: Database,
        *,
        rng: Rng = os.urandom,
        clock_ms: Clock = wall_clock_ms,
        transport: httpx.AsyncBaseTransport | None = None,
        timeouts: RelayTimeouts = DEFAULT_TIMEOUTS,
        key_policy: KeyPolicy | None = None,
        signatures: SignatureChecker | None = None,
    ) -> None:
        row = profile_store.profile_secrets(db)
        if row is None:
            raise ClientError("the profile database holds no profile")
        db.claim_engine()  # one engine per profile: its group state lives in memory
        identity = Identity.from_secret_bytes(
            row.signing_seed, row.delivery_secret, row.delivery_cert
        )
        identity = upgrade_key_storage(db, identity, rng, clock_ms())
        super().__init__(db, member_of(db, identity))
        self.identity = identity
        self.name: str = row.name
        self.relay_url: str = row.relay_url
        self.context = Context(
            db=db,
            identity=identity,
            rng=rng,
            now=clock_ms,
            relays=RelayPool(transport, timeouts),
            events=EventSink(db, clock_ms),
        )
        self._health = RelayHealth(self.context.events)
        self._groups = GroupSync(self.context, self._health, signatures)
        self.freshness = Freshness(self.context, self._groups)
        self.delivery_keys = KeyRotation(
            self.context, self._groups, self._groups, key_policy or KeyPolicy()
        )
        # a restored profile enters an epoch of its own before sealing (app/core/restored.py)
        self.restored = RestoredGate(self.context, self._groups, self.delivery_keys, self.freshness)
        self._outbox = Outbox(
            self.context, self._groups, self._health, self, self.name, gate=self.restored
        )
        self._admission = Admission(self.context, self._groups, self._health, self.name)
        self._recovery = KeyRecovery(self.context, self._groups)
        self.ballots = BallotService(self.context, self._groups, self._groups, self._outbox)
        self.documents = DocumentService(self.context, self._groups, self._outbox)
        self.conversation = Conversation(self.context, self._groups, self._outbox, self.name)
        self.attachments = Attachments(self.context, self._groups, self._outbox)
        self.devices = Devices(
            self.context,
            self._groups,
            self.name,
            self.ballots.ensure_ballot_key,
            self.documents.put_back,
        )
        self.rates = RatesService(self.context, self._groups, self._outbox)
        self.client_reports = ClientReports(self.context, self._groups)
        self.pins = Pins(self.context, self._groups, self._outbox, self.name)
        self.description = Description(self.context, self._groups, self._groups)
        self.previews = Previews(self.context, self._groups)
        self.cases = CaseService(self.context, self._groups, self._outbox, self, self)
        self._stale_links_read_at = 0  # when run last read links older than their TTL
        self._name_old_join_requests()

    def _name_old_join_requests(self) -> None:
        """Record who sent join requests stored before version 0.2 (migration 0005), so
        the desktop app lists them without opening them with the invite secret."""
        rows = invite_store.unnamed_join_requests(self.db)
        if not rows:
            return
        with self.db.transaction():
            for row in rows:
                try:
                    request = JoinRequest.open(InviteSecrets.derive(row.invite_secret), row.request)
                except RemoteError:
                    continue  # stays unlisted, as a request that does not open
                invite_store.name_join_request(
                    self.db, row.request_id, request.name, request.identity_pk
                )

    @classmethod
    def open(cls, home: Path, passphrase: str, **kwargs: object) -> Engine:
        return cls(unlock(home, passphrase), **kwargs)  # type: ignore[arg-type]

    async def close(self) -> None:
        await self.context.relays.aclose()
        self._groups.close()
        self.db.close()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.context.events.subscribe(listener)

    def relay(self, url: str) -> RelayClient:
        return self.context.relays.get(url)

    # -- groups (GroupSync) -------------------------------------------------------------

    def session(self, group_id: bytes) -> GroupSession:
        return self._groups.session(group_id)

    def group_state(self, group_id: bytes) -> tuple[GroupState, str]:
        return self._groups.group_state(group_id)

    def require_active(self, group_id: bytes) -> GroupSession:
        return self._groups.require_active(group_id)

    def active_group_ids(self) -> list[bytes]:
        return self._groups.active_group_ids()

    async def sync_group(
        self, group_id: bytes, *, wait: float = 0, warnings: list[str] | None = None
    ) -> tuple[int, int]:
        """Process the group mailbox up to its end; returns (messages, commits)."""
        return await self._groups.sync_group(group_id, wait=wait, warnings=warnings)

    async def commit(self, group_id: bytes, make: CommitMaker) -> tuple[LogEntry, bytes, int]:
        return await self._groups.commit(group_id, make)

    # -- sending (Outbox) ---------------------------------------------------------------

    async def send_text(
        self, group_id: bytes, text: str, channel_id: bytes = DEFAULT_CHANNEL
    ) -> MessageView:
        return await self._outbox.send_text(group_id, text, channel_id)

    async def send_content(
        self,
        group_id: bytes,
        content_type: int,
        body: bytes,
        shown: str,
        channel_id: bytes = DEFAULT_CHANNEL,
    ) -> MessageView:
        return await self._outbox.send_content(group_id, content_type, body, shown, channel_id)

    async def flush_outbox(self, sync: SyncPass | None = None) -> int:
        return await self._outbox.flush_outbox(sync)

    async def retry(self, row_id: int) -> None:
        await self._outbox.retry(row_id)

    # -- invites and joining (Admission) ------------------------------------------------

    async def create_invite(
        self,
        group_id: bytes,
        *,
        role: Role = Role.MEMBER,
        ttl_ms: int = DEFAULT_INVITE_TTL_MS,
        max_uses: int = 1,
        needs_approval: bool = False,
    ) -> str:
        return await self._admission.create_invite(
            group_id, role=role, ttl_ms=ttl_ms, max_uses=max_uses, needs_approval=needs_approval
        )

    async def join(self, code_text: str) -> None:
        await self._admission.join(code_text)

    async def approve(self, request_id: int) -> None:
        await self._admission.approve(request_id)

    async def reject(self, request_id: int) -> None:
        await self._admission.reject(request_id)

    # -- group operations ---------------------------------------------------------------

    async def create_group(self, name: str) -> bytes:
        """Create a group with us as its only organizer; returns its id."""
        name = validate_group_name(name)
        group_id, mailbox_id = self.context.rng(16), self.context.rng(16)
        # The group gets its own delivery key (docs/protocol.md 3.2).
        creator = self.identity.with_new_delivery_key(self.context.rng, self.context.now())
        state, entry, secret = create_group(
            creator, self.name, name, group_id, self.context.now(), self.context.rng
        )
        keys = EpochKeys.derive(group_id, 0, secret)
        await self.relay(self.relay_url).create_mailbox(
            mailbox_id, cap_hash(keys.mailbox_cap), entry.hash
        )
        with self.db.transaction():
            groups.insert_group(
                self.db, group_id, self.relay_url, mailbox_id, 0, self.context.now()
            )
            groups.insert_log_entry(self.db, group_id, entry, 0)
            keep_key(
                self.db,
                creator,
                KeyOrigin.CREATE,
                self.context.now(),
                group_id=group_id,
                live_since=0,
            )
            enter_epoch(self.db, state, secret, self.identity.public_key)
        self._groups.forget(group_id)
        self.context.events.emit(GroupJoined(group_id, state.name, created=True))
        return group_id

    async def remove_member(self, group_id: bytes, member_fingerprint: str) -> None:
        self._groups.require_active(group_id)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._groups.require_organizer(state)
            target = self.member_by_fingerprint(state, member_fingerprint)
            return EntryKind.REMOVE, remove_body(target)

        await self._groups.commit(group_id, make)
        self.context.events.emit(GroupChanged(group_id))
        with contextlib.suppress(RelayError):  # best effort: the next pass publishes too
            await self.freshness.publish(group_id)

    async def set_role(self, group_id: bytes, member_fingerprint: str, role: Role) -> None:
        self._groups.require_active(group_id)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._groups.require_organizer(state)
            target = self.member_by_fingerprint(state, member_fingerprint)
            return EntryKind.ROLE, role_body(target, role)

        await self._groups.commit(group_id, make)
        self.context.events.emit(GroupChanged(group_id))

    async def create_channel(self, group_id: bytes, name: str, *, announce_only: bool) -> bytes:
        channel_id = self.context.rng(16)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._groups.require_organizer(state)
            return EntryKind.CHANNEL, channel_body(channel_id, name, announce_only)

        await self._groups.commit(group_id, make)
        self.context.events.emit(GroupChanged(group_id))
        return channel_id

    async def rename_group(self, group_id: bytes, name: str) -> None:
        """Organizers rename the group (a RENAME entry: every member sees the new name)."""
        self._groups.require_active(group_id)
        name = validate_group_name(name)
        body = rename_body(name)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._groups.require_organizer(state)
            if state.name == name:
                raise ClientError(f"the group is already called {name}")
            return EntryKind.RENAME, body

        await self._groups.commit(group_id, make)
        self.context.events.emit(GroupChanged(group_id))

    async def leave(self, group_id: bytes) -> None:
        await self._groups.commit(group_id, lambda state: (EntryKind.LEAVE, b""))
        self.context.events.emit(GroupChanged(group_id))

    async def link_device(self) -> str:
        """Show a link code for a new device of ours (docs/protocol.md 8.4)."""
        return await self.devices.start_link(self.relay_url)

    async def rotate_delivery_key(self, group_id: bytes) -> None:
        """Replace our delivery key in the group now (docs/protocol.md 3.2)."""
        await self.delivery_keys.rotate(group_id)

    async def rekey(self, group_id: bytes) -> None:
        await self._groups.commit(group_id, lambda state: (EntryKind.REKEY, b""))

    async def recover_group(self, group_id: bytes, remove_fingerprint: str | None = None) -> None:
        """Move a group whose mailbox a rule-breaking commit wedged to a new mailbox, as an
        organizer, optionally removing a member (docs/protocol.md 7.4.1)."""
        session = self._groups.require_active(group_id)
        remove = None
        if remove_fingerprint is not None:
            remove = self.member_by_fingerprint(session.state, remove_fingerprint)
        await self._recovery.recover(group_id, remove)
        await self.sync_group(group_id)
        self.context.events.emit(GroupChanged(group_id))

    async def sync(self, *, wait: float = 0) -> SyncReport:
        """Fetch and process everything pending on every relay, then send the outbox.

        Each relay's inbox, each invite, each group and each group's outbox is one step:
        a step that fails (relay unreachable or refusing, bad data, a state we cannot act
        on) becomes a warning in the report and the other steps go on; a relay found
        unreachable is not asked again in the same sync (docs/protocol.md section 7.2).
        """
        sync = SyncPass()
        joined = await self._admission.sync_inboxes(sync)
        joined += await self._sync_devices(sync)
        admitted = await self._admission.sync_invites(sync)
        messages = commits = 0
        for group_id in self.active_group_ids():
            counts = await self._sync_group_step(group_id, sync, wait=wait)
            if counts is None:
                continue
            messages += counts[0]
            commits += counts[1]
            await self._maintain_step(group_id, sync)
        await self.devices.sync_later_groups(sync)
        unsent = await self._outbox.flush_outbox(sync)
        self.db.scrub()  # deleted keys leave the write-ahead log (docs/protocol.md 3.2)
        return SyncReport(messages, commits, tuple(joined), admitted, tuple(sync.warnings), unsent)

    async def _sync_devices(self, sync: SyncPass, *, links: bool = True) -> list[bytes]:
        """Answer shown link codes and install a received link bundle (8.4); when the
        bundle made this profile a linked device, say so (``DeviceLinked``): the member's
        identity and name it now acts under reach an engine only when it is opened."""
        unlinked = self.devices.own_cert() is None
        joined = await self.devices.sync(sync, links=links)
        if unlinked and self.devices.own_cert() is not None:
            self.context.events.emit(DeviceLinked(len(joined)))
        return joined

    def _links_due(self) -> bool:
        """Whether ``run``'s tick reads link mailboxes: every tick while a link is
        younger than its 10 minutes, then once a minute (an old request may still find
        its bundle, say after a week offline, but need not ask the relay every tick)."""
        links = device_store.open_links(self.db, "show") + device_store.open_links(self.db, "add")
        if not links:
            return False
        now = self.context.now()
        if any(now - link.created_at <= LINK_TTL_MS for link in links):
            return True
        if now - self._stale_links_read_at < _STALE_LINK_EVERY_MS:
            return False
        self._stale_links_read_at = now
        return True

    async def _sync_group_step(
        self, group_id: bytes, sync: SyncPass, *, wait: float
    ) -> tuple[int, int] | None:
        """``sync_group`` as one isolated step; None when it failed or was skipped."""
        session = self.session(group_id)
        if sync.is_down(session.relay_url):
            return None
        scope = f"group:{group_id.hex()}"
        try:
            counts = await self.sync_group(group_id, wait=wait, warnings=sync.warnings)
        except STEP_ERRORS as exc:
            what = f"group {session.state.name!r}"
            self._health.step_failed(sync, scope, group_id, session.relay_url, what, exc)
            return None
        self._health.step_done(scope)
        return counts

    async def _maintain_step(self, group_id: bytes, sync: SyncPass, *, idle_ms: int = 0) -> None:
        """``_maintain`` as one isolated step, skipped while the group's relay is down;
        the group's help mailbox first (key requests, answers, moves: a quiet one at most
        every ``idle_ms``), and the mailbox again if that changed the group."""
        session = self.session(group_id)
        if not session.active or sync.is_down(session.relay_url):
            return
        scope = f"maintain:{group_id.hex()}"
        was_down = self._health.is_down(session.relay_url)
        try:
            if await self._recovery.sync(group_id, sync.warnings, idle_ms=idle_ms):
                await self.sync_group(group_id, warnings=sync.warnings)
            await self._maintain(group_id)
        except STEP_ERRORS as exc:
            what = f"upkeep of {session.state.name!r}"
            self._health.step_failed(sync, scope, group_id, session.relay_url, what, exc)
        else:
            self._health.step_done(scope)
        if not was_down and self._health.is_down(session.relay_url):
            # Upkeep reports its own failures (ballots stay quiet offline); a relay it
            # found unreachable is still not asked again in this pass.
            sync.down.add(session.relay_url.rstrip("/"))

    async def _maintain(self, group_id: bytes) -> None:
        """Re-key when someone left (their epoch secret must not stay in use) or when the
        epoch is old (the first organizer in roster order does the periodic one); pass our
        current documents on to members who joined since they were sent; keep our ballot
        key registered (our votes go out with the outbox's flush)."""
        session = self.session(group_id)
        if not session.active:
            return
        state = session.state
        newest = groups.logged_entry(self.db, group_id, state.seq)
        if newest is None:
            raise ClientError("the group's newest log entry is missing from the profile")
        due = self.context.now() - LogEntry.decode(newest.entry).timestamp > REKEY_INTERVAL_MS
        organizers = state.organizers()
        first_organizer = organizers[0].identity_pk if organizers else None
        if state.needs_rekey or (due and first_organizer == self.identity.public_key):
            try:
                await self.rekey(group_id)
            except RelayUnavailable:
                # Shown by the relay's connection state; the rest needs the relay too.
                self._health.down(session.relay_url)
                return
            except (RelayError, ClientError) as exc:
                self.context.events.warn(group_id, "rekey-failed", str(exc))
        if self.session(group_id).active:
            try:
                await self.delivery_keys.maintain(group_id)
            except RelayUnavailable:
                self._health.down(session.relay_url)
                return
            except (RelayError, ClientError) as exc:
                self.context.events.warn(group_id, "delivery-key-rotation-failed", str(exc))
        if self.session(group_id).active:
            try:
                await self.documents.share_current(group_id, catch_up=False)
            except RelayUnavailable:
                self._health.down(session.relay_url)
                return
            except (RelayError, ClientError) as exc:
                self.context.events.warn(group_id, "document-share-failed", str(exc))
        await self.ballots.maintain_quietly(group_id)
        await self.rates.flush_quietly(group_id)  # our queued rate and client reports
        if self.session(group_id).active:
            try:
                await self.freshness.maintain(group_id)  # heads, holds, exposure reports
            except RelayUnavailable:
                self._health.down(session.relay_url)
        if self.session(group_id).active:
            try:
                await self.cases.maintain(group_id)  # case inboxes, invitations, lines
            except RelayUnavailable:
                self._health.down(session.relay_url)
            except (RelayError, ClientError) as exc:
                self.context.events.warn(group_id, "case-upkeep-failed", str(exc))

    async def run(self, stop: asyncio.Event, *, poll: float = 25.0, tick: float = 2.0) -> None:
        """Stay in sync until ``stop`` is set: one long-poll loop per group (so a message
        reaches a waiting client as soon as the relay has it), and a slower loop for
        invites, welcomes, linked devices, upkeep and the outbox, whose steps fail one at
        a time as in ``sync``. The desktop app runs this."""
        group_tasks: dict[bytes, asyncio.Task[None]] = {}
        self._health.running = True
        try:
            await self._announce_connections()
            while not stop.is_set():
                for group_id in self.active_group_ids():
                    task = group_tasks.get(group_id)
                    if task is None or task.done():
                        group_tasks[group_id] = asyncio.create_task(
                            self._follow_group(group_id, stop, poll)
                        )
                sync = SyncPass()
                await self._admission.sync_inboxes(sync)
                # A shown code is answered within a tick; a linked device reads its
                # channel for later groups every tick.
                await self._sync_devices(sync, links=self._links_due())
                await self._admission.sync_invites(sync)
                for group_id in self.active_group_ids():
                    await self._maintain_step(group_id, sync, idle_ms=HELP_IDLE_MS)
                await self.devices.sync_later_groups(sync)  # first device: add devices
                await self._outbox.flush_outbox(sync)
                self.db.scrub()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=tick)
        finally:
            self._health.running = False
            for task in group_tasks.values():
                task.cancel()
            await asyncio.gather(*group_tasks.values(), return_exceptions=True)

    async def _announce_connections(self) -> None:
        """Say at once whether each relay we use answers, not only when a long poll
        returns; the relays are asked together, so a frozen one delays nothing else."""
        urls = {self.relay_url.rstrip("/")}
        urls |= {self.session(g).relay_url.rstrip("/") for g in self.active_group_ids()}
        urls |= {row.relay_url.rstrip("/") for row in invite_store.pending_joins(self.db)}
        ordered = sorted(urls)
        answers = await asyncio.gather(*(self.relay(url).health() for url in ordered))
        for url, reachable in zip(ordered, answers, strict=True):
            if reachable:
                self._health.online(url)
            else:
                self._health.down(url)

    async def _follow_group(self, group_id: bytes, stop: asyncio.Event, poll: float) -> None:
        backoff = 0.5
        scope = f"group:{group_id.hex()}"
        while not stop.is_set() and self.session(group_id).active:
            if self._recovery.paused(group_id):
                # Nothing to read until the help mailbox brings a key or a move (the
                # slower loop reads it); do not spin on an answer we already have.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
                continue
            try:
                await self.sync_group(group_id, wait=poll)
                self._health.step_done(scope)
                backoff = 0.5
                continue
            except RelayUnavailable:
                self._health.down(self.session(group_id).relay_url)
            except STEP_ERRORS as exc:
                session = self.session(group_id)
                what = f"group {session.state.name!r}"
                self._health.step_failed(SyncPass(), scope, group_id, session.relay_url, what, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, 30.0)
