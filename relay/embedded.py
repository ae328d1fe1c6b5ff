"""A relay on a loopback socket in a background thread, for the desktop app and tests.

``with EmbeddedRelay(path) as relay: ... relay.url ...`` starts uvicorn in its own thread
with its own stdlib asyncio loop (the host process's loop and loop policy are untouched),
returns once the socket is listening, and stops gracefully on exit.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

from relay.config import RelayConfig
from relay.http import RelayApp, create_app
from relay.logic import Clock
from relay.server import RelayServer, bind_socket, display_url, uvicorn_config

__all__ = ["EmbeddedRelay"]


class EmbeddedRelay:
    """One relay process-in-a-thread; ``config`` overrides ``db_path``/``host``/``port``."""

    def __init__(
        self,
        db_path: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config: RelayConfig | None = None,
        clock: Clock | None = None,
        start_timeout_s: float = 10.0,
    ) -> None:
        self.config = config or RelayConfig(db_path=Path(db_path), host=host, port=port)
        self._clock = clock
        self._start_timeout = start_timeout_s
        self._thread: threading.Thread | None = None
        self._server: RelayServer | None = None
        self._app: RelayApp | None = None
        self._listening = threading.Event()
        self._failure: BaseException | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; only valid after ``start``."""
        if self._url is None:
            raise RuntimeError("EmbeddedRelay is not started")
        return self._url

    @property
    def app(self) -> RelayApp:
        if self._app is None:
            raise RuntimeError("EmbeddedRelay is not started")
        return self._app

    def start(self) -> EmbeddedRelay:
        """Open the database, listen, serve in a thread; return when connections work."""
        if self._thread is not None:
            raise RuntimeError("EmbeddedRelay already started")
        app = create_app(self.config, clock=self._clock)
        app.relay.start()
        sock = bind_socket(self.config.host, self.config.port)
        server = RelayServer(uvicorn_config(app, fast_loop=False), app, self._listening.set)
        self._app, self._server = app, server
        self._thread = threading.Thread(
            target=self._serve, args=(server, sock), name="caucus-embedded-relay", daemon=True
        )
        self._thread.start()
        if not self._listening.wait(self._start_timeout) or self._failure is not None:
            self.stop()
            raise RuntimeError("embedded relay did not start") from self._failure
        self._url = display_url(sock)
        return self

    def _serve(self, server: RelayServer, sock: socket.socket) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:
            self._failure = exc
            self._listening.set()
        finally:
            if self._app is not None:
                self._app.close()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop serving (pending long-polls answer at once) and close the database."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._app is not None:
            self._app.close()

    def __enter__(self) -> EmbeddedRelay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
