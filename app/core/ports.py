"""What a feature part of the engine may ask of the rest: a small context and three
narrow interfaces.

Ballots and documents are parts beside the group machinery, not extensions of it: they
receive a ``Context`` (database, identity, clock, randomness, relays, event sink) and the
three interfaces below, and never reach into another part's private state. The engine
wires them together once (``app.core.engine``); tests may wire them to anything that
keeps the same contracts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from app.core.database import Database
from app.core.events import Event, IntegrityWarning, Listener
from app.core.group_session import GroupSession
from app.core.relay_client import DEFAULT_TIMEOUTS, RelayClient, RelayTimeouts
from app.core.store import groups
from app.core.store.ballots import OutboxRow
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.group_log import EntryKind, GroupState, LogEntry
from crypto.identity import Identity

__all__ = [
    "Clock",
    "CommitMaker",
    "Commits",
    "Context",
    "EventSink",
    "Groups",
    "RelayPool",
    "Rng",
    "Sending",
]

Rng = Callable[[int], bytes]
Clock = Callable[[], int]
CommitMaker = Callable[[GroupState], tuple[EntryKind, bytes]]


class EventSink:
    """Listeners of one engine, and the warnings log they are told about."""

    def __init__(self, db: Database, now: Clock) -> None:
        self._db = db
        self._now = now
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def warn(self, group_id: bytes | None, kind: str, detail: str) -> None:
        """Record a warning in the profile, then tell the listeners."""
        groups.insert_warning(self._db, group_id, kind, detail, self._now())
        self.emit(IntegrityWarning(group_id, kind, detail))


class RelayPool:
    """One keep-alive client per relay URL, plus fresh one-off clients (for anonymous
    items that must not share the connection this profile syncs over)."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        timeouts: RelayTimeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        self._transport = transport
        self._timeouts = timeouts
        self._clients: dict[str, RelayClient] = {}

    def get(self, url: str) -> RelayClient:
        url = url.rstrip("/")
        client = self._clients.get(url)
        if client is None:
            client = RelayClient(url, transport=self._transport, timeouts=self._timeouts)
            self._clients[url] = client
        return client

    def fresh(self, url: str) -> RelayClient:
        """A client on a connection of its own; the caller closes it."""
        return RelayClient(url.rstrip("/"), transport=self._transport, timeouts=self._timeouts)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


@dataclass(frozen=True)
class Context:
    """The shared, immutable wiring of one unlocked profile."""

    db: Database
    identity: Identity
    rng: Rng
    now: Clock
    relays: RelayPool
    events: EventSink


class Groups(Protocol):
    """Group sessions and their mailbox sync."""

    def session(self, group_id: bytes) -> GroupSession: ...

    def require_active(self, group_id: bytes) -> GroupSession: ...

    def active_group_ids(self) -> list[bytes]: ...

    async def sync_group(
        self, group_id: bytes, *, wait: float = 0, warnings: list[str] | None = None
    ) -> tuple[int, int]: ...


class Commits(Protocol):
    """Compare-and-set appends to a group log."""

    async def commit(self, group_id: bytes, make: CommitMaker) -> tuple[LogEntry, bytes, int]: ...


class Sending(Protocol):
    """The one durable outbox: signed group messages and anonymous votes."""

    async def send_content(
        self,
        group_id: bytes,
        content_type: int,
        body: bytes,
        shown: str,
        channel_id: bytes = DEFAULT_CHANNEL,
    ) -> MessageView: ...

    def message(self, row_id: int) -> MessageView: ...

    async def queue_vote(self, vote: OutboxRow) -> bool: ...
