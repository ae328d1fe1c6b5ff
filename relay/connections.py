"""Connection-level limits under uvicorn: request-head timeout, connection cap, open files.

uvicorn only times out a connection after it has answered a request (``timeout_keep_alive``):
a socket that connects and sends nothing, or sends its request head one byte at a time
(slowloris), is kept forever, and enough of them leave no file descriptor for anyone else.
``guarded_protocol`` subclasses uvicorn's httptools protocol to

- close a connection that has not sent a complete request head within ``head_timeout_s``
  of connecting or of its previous answer (408 with a JSON body if it had started one),
- answer 408 and close when a request body pauses longer than ``body_idle_s`` between
  two reads or takes longer than ``body_timeout_s`` in all (a slow-body attack),
- answer 503 ``busy`` (JSON, ``Retry-After: 1``, then close) to every request on a
  connection accepted while ``max_connections`` were already open; such a connection gets
  only ``busy_timeout_s`` to send its head, so refused sockets do not pile up.

The body timer is armed only while a body is incomplete after a read, so a request that
arrives in one piece costs one attribute check (an ``asyncio.timeout`` around every body
read in the app cost more than the rest of the limits together).  The hooks used here
(``connection_made``, ``data_received``, ``on_headers_complete``, ``on_response_complete``,
``connection_lost``, ``self.app``) are the parser callbacks uvicorn's own keep-alive
timer is built on.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import itertools
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from relay import codec

__all__ = [
    "CONNECTION_SCOPE_KEY",
    "DISCONNECT_SCOPE_KEY",
    "ONE_WRITE_MAX",
    "SEND_WHOLE_SCOPE_KEY",
    "ConnectionLimits",
    "guarded_protocol",
    "have_httptools",
    "raise_open_files_limit",
]

CONNECTION_SCOPE_KEY = "caucus.connection"
"""Scope key holding a per-connection number (8 bytes), for the per-connection buckets."""

DISCONNECT_SCOPE_KEY = "caucus.on_disconnect"
"""Scope key holding ``watch(callback) -> stop``: ``callback()`` runs once the client's
connection is lost (a long-poll ends early without a task reading ``receive``)."""

SEND_WHOLE_SCOPE_KEY = "caucus.send_whole"
"""Scope key holding ``send_whole(response) -> bool``: writes a complete HTTP/1.1
response (status line, headers and body, already encoded and valid) in one write and
completes the request as the two ASGI sends would, without uvicorn re-parsing the
headers; False, having done nothing, when the connection is to close after the answer,
its write buffer is full or the response has begun: then answer with the ASGI sends.  Not
offered for HEAD requests."""

ONE_WRITE_MAX = 65536
"""Bodies up to this size are sent in one write with their head (copied behind it); a
larger body is written on its own after the head."""


def _nothing() -> None:
    return None


log = logging.getLogger("caucus.relay")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_BUSY_BODY = codec.json_bytes(
    {"error": "busy", "detail": "too many open connections; retry shortly"}
)


def _request_timeout(detail: str) -> bytes:
    body = codec.json_bytes({"error": "timeout", "detail": detail})
    head = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    )
    return head + body


_HEAD_TIMEOUT = _request_timeout("request head not received in time")
_BODY_TIMEOUT = _request_timeout("request body not received in time")


@dataclass(frozen=True)
class ConnectionLimits:
    head_timeout_s: float
    max_connections: int
    body_idle_s: float = 20.0
    body_timeout_s: float = 120.0
    busy_timeout_s: float = 1.0


def have_httptools() -> bool:
    return importlib.util.find_spec("httptools") is not None


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the limits above (needs ``httptools``)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    numbers = itertools.count()

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._relay_app = self.app
            self.app = self._admit
            self._head_timer: asyncio.TimerHandle | None = None
            self._body_timer: asyncio.TimerHandle | None = None
            self._body_deadline = 0.0
            self._busy = False
            self._got_bytes = False
            self._number = next(numbers).to_bytes(8, "big")
            self._on_lost: list[Callable[[], None]] = []

        # -- uvicorn callbacks -------------------------------------------------------

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._busy = len(self.connections) > limits.max_connections
            self._arm(limits.busy_timeout_s if self._busy else limits.head_timeout_s)

        def data_received(self, data: bytes) -> None:
            self._got_bytes = True
            super().data_received(data)
            cycle = self.cycle
            if cycle is not None and cycle.more_body and not cycle.response_complete:
                self._arm_body()
            elif self._body_timer is not None:
                self._disarm_body()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.scope[CONNECTION_SCOPE_KEY] = self._number  # type: ignore[literal-required]
            self.scope[DISCONNECT_SCOPE_KEY] = self._watch_lost  # type: ignore[literal-required]

        def on_headers_complete(self) -> None:
            self._disarm()
            self._body_deadline = self.loop.time() + limits.body_timeout_s
            super().on_headers_complete()
            cycle = self.cycle
            if cycle is not None and self.scope["method"] != "HEAD":  # HEAD writes no body
                cycle.transport = _HeadWithBody(self.transport, cycle)  # type: ignore[assignment]
                if not self.server_state.default_headers:  # the relay sets none
                    self.scope[SEND_WHOLE_SCOPE_KEY] = functools.partial(  # type: ignore[literal-required]
                        self._send_whole, cycle
                    )

        def on_message_complete(self) -> None:
            self._disarm_body()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._got_bytes = False
                self._arm(limits.head_timeout_s)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            self._disarm_body()
            super().connection_lost(exc)
            callbacks, self._on_lost = self._on_lost, []
            for callback in callbacks:
                callback()

        def _unsupported_upgrade_warning(self) -> None:
            """uvicorn logs two warnings per WebSocket upgrade; the app answers 400 instead,
            and a client should not be able to fill the log."""

        # -- ours --------------------------------------------------------------------

        def _send_whole(self, cycle: Any, response: bytes) -> bool:
            if (
                cycle.response_started
                or cycle.disconnected
                or not cycle.keep_alive
                or cycle.flow.write_paused
            ):
                return False
            cycle.response_started = cycle.response_complete = True
            cycle.waiting_for_100_continue = False
            self.transport.write(response)
            cycle.message_event.set()
            cycle.on_response()
            return True

        def _watch_lost(self, callback: Callable[[], None]) -> Callable[[], None]:
            if self.transport.is_closing():
                self.loop.call_soon(callback)
                return _nothing
            self._on_lost.append(callback)
            return lambda: self._unwatch_lost(callback)

        def _unwatch_lost(self, callback: Callable[[], None]) -> None:
            if callback in self._on_lost:
                self._on_lost.remove(callback)

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(seconds, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            if self._got_bytes:
                self.transport.write(_HEAD_TIMEOUT)
            self.transport.close()

        def _arm_body(self) -> None:
            self._disarm_body()
            when = min(self.loop.time() + limits.body_idle_s, self._body_deadline)
            self._body_timer = self.loop.call_at(when, self._body_timed_out)

        def _disarm_body(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

        def _body_timed_out(self) -> None:
            """The app is waiting in ``receive``; it gets a disconnect and answers nothing."""
            self._body_timer = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_started:
                self.transport.write(_BODY_TIMEOUT)
            self.transport.close()

        async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and self._busy:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"%d" % len(_BUSY_BODY)),
                            (b"retry-after", b"1"),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": _BUSY_BODY})
                return
            await self._relay_app(scope, receive, send)

    return GuardedHttpToolsProtocol


class _HeadWithBody:
    """The transport as one response cycle sees it: the response head is held until the
    body's first write, so head and body leave in one ``send`` (uvicorn writes them with
    two calls; on uvloop each is a system call and often a TCP segment of its own).  The
    ``100 Continue`` line, written before the response starts, passes straight through."""

    __slots__ = ("_cycle", "_head", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._held = False

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if len(data) > ONE_WRITE_MAX:  # not worth copying a large body
                self._transport.write(head)
                self._transport.write(data)
            else:
                self._transport.write(head + data)
        elif not self._held and self._cycle.response_started:
            self._held = True
            self._head = data
        else:
            self._transport.write(data)

    def close(self) -> None:
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def raise_open_files_limit() -> int | None:
    """Raise ``RLIMIT_NOFILE``'s soft limit to the hard limit; return the new soft limit.

    Each connection holds a descriptor; the usual soft limit (1,024) is far below what
    ``max_connections`` allows.  ``None`` where the platform has no such limit.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):
            log.warning("could not raise the open-files limit above %d", soft)
            return soft
        return target
    return soft
