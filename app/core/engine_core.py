"""The engine's shared core: the profile, relays, group sessions, listeners, the sync of
one group mailbox and compare-and-set commits. ``Engine`` (engine.py) adds group
operations and the run loop; ``Outbox`` and ``Admission`` add sending and invites.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import httpx

from app.core.database import Database
from app.core.errors import (
    ClientError,
    NotFound,
    NotPermittedHere,
    RelayError,
    RelayRejected,
    RelayUnavailable,
)
from app.core.events import (
    ConnectionChanged,
    ConnectionState,
    Event,
    GroupChanged,
    Listener,
    MessageAdded,
    RemovedFromGroup,
    SyncProgress,
)
from app.core.group_session import GroupSession, Outcome
from app.core.ports import CommitMaker, Context, EventSink, RelayPool
from app.core.queries import Queries
from app.core.relay_client import DEFAULT_TIMEOUTS, RelayClient, RelayTimeouts
from app.core.sync_pass import SyncPass
from crypto.commit import seal_commit
from crypto.group_log import (
    GroupState,
    LogEntry,
    Role,
    author_entry,
)
from crypto.identity import Identity
from crypto.key_schedule import EpochKeys, cap_hash

__all__ = ["COMMIT_ATTEMPTS", "Clock", "EngineCore", "Rng", "wall_clock_ms"]

Rng = Callable[[int], bytes]
Clock = Callable[[], int]

COMMIT_ATTEMPTS = 6


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class EngineCore(Queries):
    """One unlocked profile. Not thread-safe: use it from one asyncio loop."""

    def __init__(
        self,
        db: Database,
        *,
        rng: Rng = os.urandom,
        clock_ms: Clock = wall_clock_ms,
        transport: httpx.AsyncBaseTransport | None = None,
        timeouts: RelayTimeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        row = db.one(
            "SELECT name, relay_url, signing_seed, delivery_secret, delivery_cert FROM profile"
        )
        if row is None:
            raise ClientError("the profile database holds no profile")
        db.claim_engine()  # one engine per profile: its group state lives in memory
        identity = Identity.from_secret_bytes(row[2], row[3], row[4])
        super().__init__(db, identity.public_key)
        self.identity = identity
        self.name: str = row[0]
        self.relay_url: str = row[1]
        self._rng = rng
        self._now = clock_ms
        self._transport = transport
        self.relay_timeouts = timeouts
        self._sessions: dict[bytes, GroupSession] = {}
        self._connection: dict[str, ConnectionState] = {}
        self.context = Context(
            db=db,
            identity=identity,
            rng=rng,
            now=clock_ms,
            relays=RelayPool(transport, timeouts),
            events=EventSink(db, clock_ms),
        )
        # While ``run`` is active an unreachable relay is being retried: RECONNECTING.
        self._running = False
        # The last failure reported per sync step, so a step failing the same way on
        # every tick of ``run`` stores one warning, not one per tick.
        self._failing: dict[str, str] = {}
        # One sender per group at a time keeps the outbox in row order (section 7.3).
        self._send_locks: dict[bytes, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}

    async def close(self) -> None:
        await self.context.relays.aclose()
        self.db.close()

    # -- listeners ----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.context.events.subscribe(listener)

    def _emit(self, event: Event) -> None:
        self.context.events.emit(event)

    def _warn(self, group_id: bytes | None, kind: str, detail: str) -> None:
        self.context.events.warn(group_id, kind, detail)

    # -- relays -------------------------------------------------------------------------

    def relay(self, url: str) -> RelayClient:
        return self.context.relays.get(url)

    def _connection_state(self, url: str, state: ConnectionState) -> None:
        url = url.rstrip("/")
        if self._connection.get(url) != state:
            self._connection[url] = state
            self._emit(ConnectionChanged(url, state))

    def _relay_down(self, url: str) -> None:
        """The relay at ``url`` did not answer (after the client's retries)."""
        state = ConnectionState.RECONNECTING if self._running else ConnectionState.OFFLINE
        self._connection_state(url, state)

    def _is_down(self, url: str) -> bool:
        state = self._connection.get(url.rstrip("/"))
        return state in (ConnectionState.OFFLINE, ConnectionState.RECONNECTING)

    # -- sync steps ----------------------------------------------------------------------

    def _step_failed(
        self,
        sync: SyncPass,
        scope: str,
        group_id: bytes | None,
        relay_url: str,
        what: str,
        exc: Exception,
    ) -> None:
        """One step of a sync pass failed: report it and let the other steps go on.

        An unreachable relay is marked down for the rest of the pass and shown through
        its connection state; any other failure is also stored as a warning, once for as
        long as ``scope`` keeps failing the same way.
        """
        detail = f"{what}: {exc}"
        sync.warnings.append(detail)
        if isinstance(exc, RelayUnavailable):
            sync.down.add(relay_url.rstrip("/"))
            self._relay_down(relay_url)
            return
        if self._failing.get(scope) != detail:
            self._failing[scope] = detail
            self._warn(group_id, "sync-failed", detail)

    def _step_done(self, scope: str) -> None:
        self._failing.pop(scope, None)

    def _send_lock(self, group_id: bytes) -> asyncio.Lock:
        """The lock held while delivering a group's outbox (one per group and loop: tests
        and the CLI run a fresh loop per call)."""
        loop = asyncio.get_running_loop()
        entry = self._send_locks.get(group_id)
        if entry is None or entry[0] is not loop:
            entry = (loop, asyncio.Lock())
            self._send_locks[group_id] = entry
        return entry[1]

    def session(self, group_id: bytes) -> GroupSession:
        session = self._sessions.get(group_id)
        if session is None:
            try:
                session = GroupSession.load(self.db, group_id)
            except KeyError:
                raise NotFound("no such group") from None
            self._sessions[group_id] = session
        return session

    def group_state(self, group_id: bytes) -> tuple[GroupState, str]:
        session = self.session(group_id)
        return session.state, session.status

    def require_active(self, group_id: bytes) -> GroupSession:
        """The group's session, or ``NotPermittedHere`` once we are no longer a member."""
        session = self.session(group_id)
        if not session.active:
            raise NotPermittedHere(f"you are no longer a member of {session.state.name!r}")
        return session

    # -- commits -------------------------------------------------------------------------

    _require_active = require_active

    async def commit(self, group_id: bytes, make: CommitMaker) -> tuple[LogEntry, bytes, int]:
        """Author, seal and append one log entry with compare-and-set, retrying races.

        ``make`` sees the freshly synced state and returns the entry's kind and body, or
        raises ``ClientError`` when the change no longer makes sense.
        Returns the entry, its epoch secret and its relay sequence number.
        """
        for _ in range(COMMIT_ATTEMPTS):
            await self.sync_group(group_id)
            session = self._require_active(group_id)
            if session.keys is None:
                raise NotPermittedHere("the group has no live epoch")
            kind, body = make(session.state)
            entry, secret, new_state = author_entry(
                session.state, self.identity, kind, body, self._now(), self._rng
            )
            item = seal_commit(session.keys, entry, new_state, secret, self._rng)
            new_keys = EpochKeys.derive(group_id, entry.seq, secret)
            try:
                seq = await self.relay(session.relay_url).post_commit(
                    session.mailbox_id,
                    session.keys.mailbox_cap,
                    session.state.head,
                    entry.hash,
                    cap_hash(new_keys.mailbox_cap),
                    item,
                )
            except RelayRejected as exc:
                if exc.code not in ("head_mismatch", "stale_epoch"):
                    raise
                # Someone else committed first, or our own earlier attempt landed and its
                # answer was lost: catch up and look for our entry before trying again.
                await self.sync_group(group_id)
                landed = self._landed(group_id, entry)
                if landed is not None:
                    return entry, secret, landed
                continue
            await self.sync_group(group_id)
            return entry, secret, seq
        raise RelayError("the group changed too often while committing; try again")

    _commit = commit

    def _landed(self, group_id: bytes, entry: LogEntry) -> int | None:
        row = self.db.one(
            "SELECT entry, relay_seq FROM log_entries WHERE group_id = ? AND seq = ?",
            (group_id, entry.seq),
        )
        if row is not None and row[0] == entry.encode():
            return int(row[1]) if row[1] is not None else None
        return None

    def _require_organizer(self, state: GroupState) -> None:
        if state.role_of(self.identity.public_key) != Role.ORGANIZER:
            raise NotPermittedHere("only organizers can do that")

    async def sync_group(
        self, group_id: bytes, *, wait: float = 0, warnings: list[str] | None = None
    ) -> tuple[int, int]:
        """Process the group mailbox up to its end; returns (messages, commits)."""
        messages = commits = 0
        first = True
        while True:
            session = self.session(group_id)
            if not session.active or session.keys is None:
                break
            relay = self.relay(session.relay_url)
            try:
                result = await relay.fetch(
                    session.mailbox_id,
                    session.keys.mailbox_cap,
                    session.cursor,
                    wait=wait if first else 0,
                )
            except RelayUnavailable:
                self._relay_down(session.relay_url)
                raise
            except RelayRejected as exc:
                if exc.code == "epoch_ended":
                    detail = "the relay closed our epoch but withheld the commit that closed it"
                    self._warn(group_id, "withheld-commit", detail)
                    if warnings is not None:
                        warnings.append(detail)
                    break
                raise
            self._connection_state(session.relay_url, ConnectionState.ONLINE)
            first = False
            # Another task may have processed some of these while we waited on the relay.
            session = self.session(group_id)
            fresh = [(seq, item) for seq, item in result.items if seq > session.cursor]
            if not fresh:
                if result.empty and result.last > session.cursor:
                    detail = (
                        f"the relay reports items up to {result.last} but delivered none "
                        f"after {session.cursor}: it may be withholding a commit"
                    )
                    self._warn(group_id, "withheld-items", detail)
                    if warnings is not None:
                        warnings.append(detail)
                if result.empty or not session.active:
                    break
                continue
            events: list[Event] = []
            try:
                with self.db.transaction():
                    for seq, item in fresh:
                        outcome = session.process(self.db, self.identity, seq, item, self._now())
                        if outcome.warning is not None:
                            self._warn(group_id, outcome.outcome.value, outcome.warning)
                            if warnings is not None:
                                warnings.append(outcome.warning)
                        if outcome.message is not None:
                            messages += 1
                            events.append(MessageAdded(outcome.message))
                        if outcome.outcome is Outcome.COMMIT:
                            commits += 1
                            events.append(GroupChanged(group_id))
                        elif outcome.outcome is Outcome.REMOVED:
                            commits += 1
                            events.append(RemovedFromGroup(group_id))
                    session.flush(self.db)
            except BaseException:
                # The transaction rolled back: drop the in-memory copy, reload from disk.
                self._sessions.pop(group_id, None)
                raise
            for event in events:
                self._emit(event)
            self._emit(SyncProgress(group_id, messages))
        return messages, commits

    def active_group_ids(self) -> list[bytes]:
        return [
            row[0] for row in self.db.all("SELECT group_id FROM groups WHERE status = 'active'")
        ]
