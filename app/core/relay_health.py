"""What the engine knows of each relay's reachability, and how a failed sync step is
reported (docs/protocol.md section 7.2): the connection state per relay URL, told to
listeners when it changes, and one stored warning per step for as long as that step keeps
failing the same way."""

from __future__ import annotations

from app.core.errors import RelayUnavailable
from app.core.events import ConnectionChanged, ConnectionState
from app.core.ports import EventSink
from app.core.sync_pass import SyncPass

__all__ = ["RelayHealth"]


class RelayHealth:
    def __init__(self, events: EventSink) -> None:
        self._events = events
        self._state: dict[str, ConnectionState] = {}
        # The last failure reported per sync step, so a step failing the same way on
        # every tick of ``run`` stores one warning, not one per tick.
        self._failing: dict[str, str] = {}
        # While ``Engine.run`` is active an unreachable relay is being retried.
        self.running = False

    def state(self, url: str) -> ConnectionState | None:
        return self._state.get(url.rstrip("/"))

    def set(self, url: str, state: ConnectionState) -> None:
        url = url.rstrip("/")
        if self._state.get(url) != state:
            self._state[url] = state
            self._events.emit(ConnectionChanged(url, state))

    def online(self, url: str) -> None:
        self.set(url, ConnectionState.ONLINE)

    def down(self, url: str) -> None:
        """The relay at ``url`` did not answer (after the client's retries)."""
        self.set(url, ConnectionState.RECONNECTING if self.running else ConnectionState.OFFLINE)

    def is_down(self, url: str) -> bool:
        return self.state(url) in (ConnectionState.OFFLINE, ConnectionState.RECONNECTING)

    def step_failed(
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
            self.down(relay_url)
            return
        if self._failing.get(scope) != detail:
            self._failing[scope] = detail
            self._events.warn(group_id, "sync-failed", detail)

    def step_done(self, scope: str) -> None:
        self._failing.pop(scope, None)
