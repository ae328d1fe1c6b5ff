"""The daemon's socket: one unlocked engine, kept in sync by ``Engine.run``, answering
JSON-RPC 2.0 requests (one JSON object per line) from any number of connections.

The socket is created with mode 0600 inside the profile folder by default; a daemon
refuses to start where another one answers, and removes a socket nobody answers on (left
by a daemon that was killed). SIGTERM and SIGINT stop it: connections are closed, the
engine's sync loop ends, the socket file is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import stat
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from app.core.api import ClientError, Engine
from app.core.events import Event
from app.daemon.methods import METHODS, Params, event_notification
from app.daemon.protocol import (
    MAX_LINE,
    ErrorCode,
    Request,
    RpcError,
    dump,
    error_reply,
    notification,
    parse_request,
    result_reply,
)
from crypto.errors import CaucusError

__all__ = ["MAX_QUEUED_EVENTS", "SOCKET_NAME", "Daemon", "prepare_socket"]

SOCKET_NAME = "daemon.sock"
MAX_SOCKET_PATH = 100  # bytes; sun_path holds 104 (macOS) or 108 (Linux) with its NUL
MAX_QUEUED_EVENTS = 10_000  # a subscriber that stops reading is disconnected past this
_NO_PARAMS: frozenset[str] = frozenset()


def prepare_socket(path: Path) -> None:
    """Make ``path`` free for a new daemon: refuse if a daemon answers there, remove a
    stale socket nobody answers on, refuse anything that is not a socket."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ClientError(f"the socket path {path} is too long; choose a shorter one with --socket")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ClientError(f"{path} exists and is not a socket; remove it or choose --socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(5)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)  # stale: its daemon is gone
        return
    except OSError as exc:
        raise ClientError(f"cannot check the socket {path}: {exc.strerror}") from None
    finally:
        probe.close()
    raise ClientError(f"a Caucus daemon already answers on {path}")


class _Connection:
    """One client: replies and (once subscribed) notifications, written one line at a
    time so they never interleave."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._lock = asyncio.Lock()
        self._events: asyncio.Queue[Event] = asyncio.Queue(MAX_QUEUED_EVENTS)
        self._unsubscribe: Callable[[], None] | None = None
        self._pump: asyncio.Task[None] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        async with self._lock:
            self._writer.write(dump(message))
            await self._writer.drain()

    def subscribe(self, engine: Engine) -> None:
        if self._unsubscribe is not None:
            return
        loop = asyncio.get_running_loop()

        def deliver(event: Event) -> None:
            try:
                self._events.put_nowait(event)
            except asyncio.QueueFull:
                self._writer.transport.abort()  # it stopped reading; do not hold memory

        def listener(event: Event) -> None:
            loop.call_soon_threadsafe(deliver, event)  # listeners may be called off-loop

        self._unsubscribe = engine.subscribe(listener)
        self._pump = asyncio.create_task(self._forward())

    def unsubscribe(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None

    async def _forward(self) -> None:
        while True:
            event = await self._events.get()
            shaped = event_notification(event)
            if shaped is not None:
                try:
                    await self.send(notification(*shaped))
                except ConnectionError:
                    return

    async def finish(self, reader: asyncio.StreamReader) -> None:
        """Say nothing more and discard what the client still sends until it hangs up, so
        the last reply is read rather than lost to a reset of unread input."""
        if self._writer.can_write_eof():
            self._writer.write_eof()
        while await reader.read(65536):
            pass

    async def close(self) -> None:
        self.unsubscribe()
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class Daemon:
    """Serve ``engine`` on the Unix socket at ``path`` until SIGTERM, SIGINT or ``stop``."""

    def __init__(self, engine: Engine, path: Path, version: str) -> None:
        self.engine = engine
        self.path = path
        self.version = version
        self._connections: set[asyncio.Task[None]] = set()

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # Bound here, not by asyncio (which would silently replace any socket file, even
        # one a daemon started while we unlocked listens on); born 0600 by the umask.
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listening.bind(str(self.path))
        except OSError as exc:
            listening.close()
            raise ClientError(f"cannot listen on {self.path}: {exc.strerror}") from None
        finally:
            os.umask(old_umask)
        server = await asyncio.start_unix_server(self._connection, sock=listening, limit=MAX_LINE)
        os.chmod(self.path, 0o600)
        bound = self.path.stat()
        run = asyncio.create_task(self.engine.run(stop))
        print(f"caucus daemon listening on {self.path}", flush=True)
        try:
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
        finally:
            stop.set()
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await asyncio.gather(run, return_exceptions=True)
            with contextlib.suppress(FileNotFoundError):
                now = self.path.stat()
                if (now.st_dev, now.st_ino) == (bound.st_dev, bound.st_ino):
                    self.path.unlink()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        if run.done() and not run.cancelled():
            run.result()  # the sync loop's own failure, if it had one

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        conn = _Connection(writer)
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than MAX_LINE: the rest cannot be framed
                    too_long = RpcError(ErrorCode.INVALID_REQUEST, "the request line is over 1 MiB")
                    await conn.send(error_reply(too_long))
                    await conn.finish(reader)
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                reply = await self._answer(line, conn)
                if reply is not None:
                    await conn.send(reply)
        except ConnectionError:
            pass
        finally:
            await conn.close()
            if task is not None:
                self._connections.discard(task)

    async def _answer(self, line: bytes, conn: _Connection) -> dict[str, Any] | None:
        try:
            request = parse_request(line)
        except RpcError as exc:
            return error_reply(exc)
        try:
            result = await self._dispatch(request, conn)
        except RpcError as exc:
            reply = error_reply(RpcError(exc.code, exc.message, request.id))
        except CaucusError as exc:
            _debug()
            reply = error_reply(RpcError(ErrorCode.FAILED, str(exc), request.id))
        except sqlcipher.DatabaseError as exc:
            _debug()
            message = f"the profile database failed: {exc}"
            reply = error_reply(RpcError(ErrorCode.FAILED, message, request.id))
        except Exception as exc:
            _debug()
            message = f"internal error ({type(exc).__name__}: {exc})"
            reply = error_reply(RpcError(ErrorCode.INTERNAL_ERROR, message, request.id))
        else:
            reply = result_reply(request.id, result)
        return None if request.is_notification else reply

    async def _dispatch(self, request: Request, conn: _Connection) -> Any:
        if request.method == "version":
            Params(request.params, _NO_PARAMS)
            return {"version": self.version}
        if request.method == "subscribe":
            Params(request.params, _NO_PARAMS)
            conn.subscribe(self.engine)
            return {"subscribed": True}
        if request.method == "unsubscribe":
            Params(request.params, _NO_PARAMS)
            conn.unsubscribe()
            return {"subscribed": False}
        method = METHODS.get(request.method)
        if method is None:
            raise RpcError(ErrorCode.METHOD_NOT_FOUND, f"unknown method {request.method!r}")
        return await method.run(self.engine, Params(request.params, method.params))


def _debug() -> None:
    if os.environ.get("CAUCUS_DEBUG"):
        traceback.print_exc(file=sys.stderr)
