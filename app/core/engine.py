"""The headless client: groups, invites, joins, messages and sync over the relay.

The engine owns the unlocked profile database and the relays it talks to. Every change
it makes is committed to the database before it is announced to listeners; every
network step can be retried without losing or duplicating anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from app.core.admission import Admission
from app.core.ballots import BallotService
from app.core.documents import DocumentService
from app.core.engine_core import wall_clock_ms
from app.core.errors import (
    ClientError,
    RelayError,
    RelayUnavailable,
)
from app.core.events import (
    ConnectionState,
    GroupChanged,
    GroupJoined,
)
from app.core.outbox import Outbox
from app.core.profile import unlock, validate_group_name
from crypto.errors import RemoteError
from crypto.group_log import (
    EntryKind,
    GroupState,
    LogEntry,
    Role,
    channel_body,
    create_group,
    remove_body,
    role_body,
)
from crypto.key_schedule import EpochKeys, cap_hash

__all__ = ["Engine", "SyncReport", "wall_clock_ms"]

REKEY_INTERVAL_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class SyncReport:
    """What one ``sync`` did, for the CLI and tests."""

    messages: int
    commits: int
    joined: tuple[bytes, ...]
    admitted: int
    warnings: tuple[str, ...]
    unsent: int


class Engine(Admission, Outbox):
    """One unlocked profile: every feature of the headless client."""

    @property
    def ballots(self) -> BallotService:
        """Anonymous ballots of this profile (a part wired to this engine once)."""
        service = self.__dict__.get("_ballots")
        if service is None:
            service = BallotService(self.context, self, self, self)
            self.__dict__["_ballots"] = service
        return service

    @property
    def documents(self) -> DocumentService:
        """Signed documents of this profile (a part wired to this engine once)."""
        service = self.__dict__.get("_documents")
        if service is None:
            service = DocumentService(self.context, self, self)
            self.__dict__["_documents"] = service
        return service

    @classmethod
    def open(cls, home: Path, passphrase: str, **kwargs: object) -> Engine:
        return cls(unlock(home, passphrase), **kwargs)  # type: ignore[arg-type]

    async def create_group(self, name: str) -> bytes:
        """Create a group with us as its only organizer; returns its id."""
        name = validate_group_name(name)
        group_id, mailbox_id = self._rng(16), self._rng(16)
        state, entry, secret = create_group(
            self.identity, self.name, name, group_id, self._now(), self._rng
        )
        keys = EpochKeys.derive(group_id, 0, secret)
        await self.relay(self.relay_url).create_mailbox(
            mailbox_id, cap_hash(keys.mailbox_cap), entry.hash
        )
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO groups (group_id, relay_url, mailbox_id, cursor, joined_at)"
                " VALUES (?, ?, ?, 0, ?)",
                (group_id, self.relay_url, mailbox_id, self._now()),
            )
            self.db.execute(
                "INSERT INTO log_entries (group_id, seq, entry, relay_seq) VALUES (?, 0, ?, 0)",
                (group_id, entry.encode()),
            )
            self.db.execute(
                "INSERT INTO epochs (group_id, epoch, secret) VALUES (?, 0, ?)", (group_id, secret)
            )
        self._sessions.pop(group_id, None)
        self._emit(GroupJoined(group_id, state.name))
        return group_id

    async def remove_member(self, group_id: bytes, member_fingerprint: str) -> None:
        self._require_active(group_id)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._require_organizer(state)
            target = self.member_by_fingerprint(state, member_fingerprint)
            return EntryKind.REMOVE, remove_body(target)

        await self._commit(group_id, make)
        self._emit(GroupChanged(group_id))

    async def set_role(self, group_id: bytes, member_fingerprint: str, role: Role) -> None:
        self._require_active(group_id)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._require_organizer(state)
            target = self.member_by_fingerprint(state, member_fingerprint)
            return EntryKind.ROLE, role_body(target, role)

        await self._commit(group_id, make)
        self._emit(GroupChanged(group_id))

    async def create_channel(self, group_id: bytes, name: str, *, announce_only: bool) -> bytes:
        channel_id = self._rng(16)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._require_organizer(state)
            return EntryKind.CHANNEL, channel_body(channel_id, name, announce_only)

        await self._commit(group_id, make)
        self._emit(GroupChanged(group_id))
        return channel_id

    async def leave(self, group_id: bytes) -> None:
        await self._commit(group_id, lambda state: (EntryKind.LEAVE, b""))
        self._emit(GroupChanged(group_id))

    async def rekey(self, group_id: bytes) -> None:
        await self._commit(group_id, lambda state: (EntryKind.REKEY, b""))

    async def sync(self, *, wait: float = 0) -> SyncReport:
        """Fetch and process everything pending on every relay, then send the outbox."""
        warnings: list[str] = []
        joined = await self._sync_inboxes(warnings)
        admitted = await self._sync_invites(warnings)
        messages = commits = 0
        for group_id in self.active_group_ids():
            counts = await self.sync_group(group_id, wait=wait, warnings=warnings)
            messages += counts[0]
            commits += counts[1]
            await self._maintain(group_id)
        unsent = await self.flush_outbox()
        return SyncReport(messages, commits, tuple(joined), admitted, tuple(warnings), unsent)

    async def _maintain(self, group_id: bytes) -> None:
        """Re-key when someone left (their epoch secret must not stay in use) or when the
        epoch is old (the first organizer in roster order does the periodic one); pass our
        current documents on to members who joined since they were sent; keep our ballot
        key registered and our votes posted."""
        session = self.session(group_id)
        if not session.active:
            return
        state = session.state
        (raw,) = self.db.one(
            "SELECT entry FROM log_entries WHERE group_id = ? AND seq = ?", (group_id, state.seq)
        )
        due = self._now() - LogEntry.decode(raw).timestamp > REKEY_INTERVAL_MS
        organizers = state.organizers()
        first_organizer = organizers[0].identity_pk if organizers else None
        if state.needs_rekey or (due and first_organizer == self.identity.public_key):
            try:
                await self.rekey(group_id)
            except (RelayError, ClientError) as exc:
                self._warn(group_id, "rekey-failed", str(exc))
        if self.session(group_id).active:
            try:
                await self.documents.share_current(group_id, catch_up=False)
            except (RelayError, ClientError) as exc:
                self._warn(group_id, "document-share-failed", str(exc))
        await self.ballots.maintain_quietly(group_id)

    async def run(self, stop: asyncio.Event, *, poll: float = 25.0, tick: float = 2.0) -> None:
        """Stay in sync until ``stop`` is set: one long-poll loop per group (so a message
        reaches a waiting client as soon as the relay has it), and a slower loop for
        invites, welcomes and the outbox. The desktop app runs this."""
        group_tasks: dict[bytes, asyncio.Task[None]] = {}
        # Say at once whether the relay answers, not only when a long poll returns.
        reachable = await self.relay(self.relay_url).health()
        self._connection_state(
            self.relay_url, ConnectionState.ONLINE if reachable else ConnectionState.RECONNECTING
        )
        try:
            while not stop.is_set():
                for group_id in self.active_group_ids():
                    task = group_tasks.get(group_id)
                    if task is None or task.done():
                        group_tasks[group_id] = asyncio.create_task(
                            self._follow_group(group_id, stop, poll)
                        )
                try:
                    warnings: list[str] = []
                    await self._sync_inboxes(warnings)
                    await self._sync_invites(warnings)
                    await self.flush_outbox()
                    for group_id in self.active_group_ids():
                        await self._maintain(group_id)
                except RelayUnavailable:
                    self._connection_state(self.relay_url, ConnectionState.RECONNECTING)
                except (ClientError, RemoteError) as exc:
                    self._warn(None, "sync-failed", str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=tick)
        finally:
            for task in group_tasks.values():
                task.cancel()
            await asyncio.gather(*group_tasks.values(), return_exceptions=True)

    async def _follow_group(self, group_id: bytes, stop: asyncio.Event, poll: float) -> None:
        backoff = 0.5
        while not stop.is_set() and self.session(group_id).active:
            try:
                await self.sync_group(group_id, wait=poll)
                backoff = 0.5
            except RelayUnavailable:
                self._connection_state(
                    self.session(group_id).relay_url, ConnectionState.RECONNECTING
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 30.0)
            except (ClientError, RemoteError) as exc:
                self._warn(group_id, "sync-failed", str(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
