"""``caucus-relay serve --workers N``: N relay processes on one socket and one PostgreSQL.

The parent migrates the schema, binds and listens on the socket, then starts N worker
processes (``spawn``: nothing of the parent's state is shared) that each serve that socket
with their own event loop, writer and connections; the kernel hands each new connection to
one of them.  Correctness between workers comes from the database (row locks, see
``relay.pg``) and wake-ups from LISTEN/NOTIFY (``relay.pg_notify``), exactly as for relays
on several hosts behind a load balancer.  A worker that dies is replaced; SIGTERM/SIGINT
stop every worker gracefully.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import secrets
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from relay.backend import open_backend
from relay.config import RelayConfig
from relay.http import create_app
from relay.server import RelayServer, bind_socket, display_url, uvicorn_config

__all__ = ["serve_workers"]

log = logging.getLogger("caucus.relay")
_BACKLOG = 2048
_STOP_TIMEOUT_S = 20.0
_QUICK_EXIT_S = 10.0
"""A worker that dies sooner than this after its start is replaced only after a pause
(doubling up to ``_MAX_PAUSE_S``), so an unreachable database does not spin the parent."""
_MAX_PAUSE_S = 30.0


def _worker(config: RelayConfig, sock: socket.socket, log_level: int) -> None:
    """One worker process: the relay app on the shared socket until SIGTERM."""
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s"
    )
    app = create_app(config)
    try:
        app.relay.start()
        RelayServer(uvicorn_config(app), app, lambda: None).run(sockets=[sock])
    finally:
        app.close()


def _spawn(config: RelayConfig, sock: socket.socket) -> BaseProcess:
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_worker,
        args=(config, sock, logging.getLogger().level),
        name="caucus-relay-worker",
    )
    process.start()
    print(f"caucus-relay worker {process.pid}", flush=True)
    return process


def shared_settings(config: RelayConfig) -> RelayConfig:
    """The settings every worker must hold alike: without a configured ``work_key`` each
    process would draw its own, and a proof of work one worker asked for would be refused
    by the others (protocol 6.2)."""
    if config.work_key:
        return config
    return dataclasses.replace(config, work_key=secrets.token_hex(32))


def serve_workers(config: RelayConfig, count: int) -> int:
    """Run ``count`` workers until SIGTERM/SIGINT; returns the exit status."""
    config = shared_settings(config)
    try:
        conn, _version = open_backend(config).open_writer()  # migrate once, before workers
        conn.close()
        sock = bind_socket(config.host, config.port)
        sock.listen(_BACKLOG)
    except Exception as exc:
        print(f"caucus-relay: cannot start: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(sig: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    workers: list[BaseProcess] = []
    started: list[float] = []
    pause = 1.0
    try:
        workers = [_spawn(config, sock) for _ in range(count)]
        started = [time.monotonic()] * count
        print(f"caucus-relay listening on {display_url(sock)}", flush=True)
        while not stop.wait(0.2):
            for index, process in enumerate(workers):
                if process.exitcode is None:
                    continue
                log.error("worker exited with status %s; starting another", process.exitcode)
                if time.monotonic() - started[index] < _QUICK_EXIT_S:
                    if stop.wait(pause):
                        break
                    pause = min(pause * 2, _MAX_PAUSE_S)
                else:
                    pause = 1.0
                workers[index] = _spawn(config, sock)
                started[index] = time.monotonic()
    finally:
        for process in workers:
            if process.exitcode is None:
                process.terminate()  # SIGTERM: a graceful stop
        for process in workers:
            process.join(_STOP_TIMEOUT_S)
            if process.exitcode is None:
                process.kill()
                process.join()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
