"""Running the relay app on uvicorn: settings, socket binding and graceful stop.

Shared by the CLI (``relay/__main__.py``) and ``EmbeddedRelay``.  We bind the socket
ourselves so port 0 yields a known port before serving, and we subclass uvicorn's server
only to (a) answer pending long-polls at once when a stop begins and (b) handle
SIGTERM/SIGINT without re-raising them after the graceful stop.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from types import FrameType
from typing import Any

import uvicorn

from relay.config import RelayConfig
from relay.connections import ConnectionLimits, guarded_protocol, have_httptools
from relay.http import RelayApp

__all__ = ["RelayServer", "bind_socket", "display_url", "server_config", "uvicorn_config"]

ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def uvicorn_config(app: RelayApp, *, fast_loop: bool = True) -> uvicorn.Config:
    """uvicorn settings for the relay app (``server_config`` with its own configuration)."""
    return server_config(app, app.relay.config, fast_loop=fast_loop)


def server_config(app: ASGIApp, config: RelayConfig, *, fast_loop: bool = True) -> uvicorn.Config:
    """uvicorn settings: uvloop + httptools when installed (6x faster), no access log.

    ``fast_loop=False`` keeps the stdlib asyncio loop, for embedding in a process whose
    own event loop must not be touched.  The connection limits of protocol 6.2 need
    httptools (a dependency of ``uvicorn[standard]``); on plain h11 only uvicorn's own
    keep-alive timeout and concurrency cap (plain-text 503) apply.  WebSocket is off:
    an upgrade request reaches the app as HTTP and gets a 400.  Any ASGI ``app`` may be
    served so (``bench/relay_bench.py`` serves its baseline app with these settings).
    """
    guarded = have_httptools()
    limits = ConnectionLimits(
        config.head_timeout_s,
        config.max_connections,
        body_idle_s=config.body_idle_timeout_s,
        body_timeout_s=config.body_timeout_s,
    )
    return uvicorn.Config(
        app,
        loop="uvloop" if fast_loop and _have("uvloop") else "asyncio",
        http=guarded_protocol(limits) if guarded else "h11",
        ws="none",
        timeout_keep_alive=config.keep_alive_s,
        limit_concurrency=None if guarded else config.max_connections,
        lifespan="on",
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=5,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket (IPv4 or IPv6 as ``host`` says); uvicorn listens on it."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def display_url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RelayServer(uvicorn.Server):
    """uvicorn's server with a listening callback and a stop that does not wait on polls."""

    def __init__(
        self, config: uvicorn.Config, app: RelayApp, on_listening: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self._relay_app = app
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_listening()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._relay_app.relay.begin_shutdown()
        await super().shutdown(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._stop_on_signal) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop_on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True
