"""Long-poll wake-ups between relay processes that share one PostgreSQL database.

Each process keeps its in-process ``Notifier`` and adds two threads, each with its own
connection: a *publisher* that sends ``NOTIFY caucus_relay, '<kind>:<qid hex>'`` for every
key this process committed to (batched: one statement for whatever queued up meanwhile),
and a *listener* that ``LISTEN``s and wakes the local waiters of each key another process
committed to.  Publishing happens after the commit, exactly like the local ``notify``, so
the waiter's rule (register, then read) holds across processes too.

A lost wake-up only delays an answer until the poll's own timeout (at most 30 s); it never
loses an item.  When the listener loses its connection it wakes every local waiter (they
read again) before listening anew.  Payloads carry queue ids, which PostgreSQL already
stores; nothing is logged but error class names.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading

import psycopg

from relay.backend import Wake

__all__ = ["CHANNEL", "PgFanout", "decode_key", "encode_key"]

CHANNEL = "caucus_relay"
_BATCH = 1000
_STOP = object()
_RETRY_S = 1.0

log = logging.getLogger("caucus.relay")


def encode_key(key: tuple[int, bytes]) -> str:
    return f"{key[0]}:{key[1].hex()}"


def decode_key(payload: str) -> tuple[int, bytes] | None:
    """The queue key of a payload, or None for anything malformed (ignored)."""
    kind, _, qid = payload.partition(":")
    if kind not in ("1", "2") or len(qid) != 32:
        return None
    try:
        return int(kind), bytes.fromhex(qid)
    except ValueError:
        return None


class PgFanout:
    """Publisher and listener threads for one relay process."""

    def __init__(self, url: str, wake: Wake) -> None:
        self._url = url
        self._wake = wake
        self._outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._own_pid = 0  # backend pid of our publisher: its notifications are ours
        self._listen: psycopg.Connection[tuple[object, ...]] | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Connect and LISTEN before returning, so no wake-up after this call is missed."""
        if self._threads:
            return
        publish = psycopg.connect(self._url, autocommit=True)
        self._own_pid = publish.info.backend_pid
        self._listen = self._listening()
        self._threads = [
            threading.Thread(
                target=self._publisher, args=(publish,), name="caucus-relay-notify", daemon=True
            ),
            threading.Thread(target=self._listener, name="caucus-relay-listen", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def publish(self, key: tuple[int, bytes]) -> None:
        """Tell the other processes that ``key`` got a commit (call after the commit)."""
        self._outbox.put(key)

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._outbox.put(_STOP)
        for thread in self._threads:
            thread.join(timeout_s)

    # ------------------------------------------------------------------ threads

    def _listening(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(self._url, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _listener(self) -> None:
        conn = self._listen
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = self._listening()
                    self._wake(None)  # wake-ups sent while we were away are lost
                for note in conn.notifies(timeout=0.5):
                    if note.pid == self._own_pid:
                        continue
                    key = decode_key(note.payload)
                    if key is not None:
                        self._wake(key)
            except psycopg.Error as exc:
                log.error("wake-up listener failed: %s", type(exc).__name__)
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                conn = None
                self._wake(None)
                self._stop.wait(_RETRY_S)
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _publisher(self, conn: psycopg.Connection[tuple[object, ...]] | None) -> None:
        while True:
            first = self._outbox.get()
            stop = first is _STOP
            keys: set[str] = set()
            if isinstance(first, tuple):
                keys.add(encode_key(first))
            while len(keys) < _BATCH and not stop:
                try:
                    more = self._outbox.get_nowait()
                except queue.Empty:
                    break
                if isinstance(more, tuple):
                    keys.add(encode_key(more))
                else:
                    stop = True
            if keys:
                conn = self._send(conn, sorted(keys))
            if stop:
                break
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _send(
        self, conn: psycopg.Connection[tuple[object, ...]] | None, payloads: list[str]
    ) -> psycopg.Connection[tuple[object, ...]] | None:
        """One NOTIFY per payload in one statement; reconnects once if the server went away."""
        for _attempt in range(2):
            try:
                if conn is None:
                    conn = psycopg.connect(self._url, autocommit=True)
                    self._own_pid = conn.info.backend_pid
                conn.execute(
                    "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (CHANNEL, payloads)
                )
                return conn
            except psycopg.Error as exc:
                log.error("wake-up publisher failed: %s", type(exc).__name__)
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                conn = None
        return conn
