"""Wake long-polling fetches when an item is committed to their mailbox or inbox.

A waiter registers a future under its queue key *before* it reads the database, and every
committed write calls ``notify`` after the commit.  Whatever the interleaving, a waiter
either sees the new item in its read or is woken by the notify.  ``notify`` may be called
from any thread: with PostgreSQL, ``relay.pg_notify`` calls it for commits made by other
relay processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["Notifier"]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _wake_many(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        _wake(future)


class Notifier:
    """Futures waiting per key; a key is a queue kind and id, e.g. ``(1, mid)``."""

    __slots__ = ("_closed", "_lock", "_waiters", "epoch")

    def __init__(self) -> None:
        self._waiters: dict[object, set[asyncio.Future[None]]] = {}
        self._closed = False
        self._lock = threading.Lock()
        self.epoch = 0
        """Counts ``notify`` and ``wake_everyone`` calls: a read made while it stayed the
        same has seen every commit notified so far (``relay.logic`` shares such reads)."""

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(group) for group in self._waiters.values())

    def register(self, key: object) -> asyncio.Future[None]:
        """A future resolved by the next ``notify(key)`` (or at once after ``close``)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            if not self._closed:
                self._waiters.setdefault(key, set()).add(future)
                return future
        future.set_result(None)
        return future

    def unregister(self, key: object, future: asyncio.Future[None]) -> None:
        with self._lock:
            group = self._waiters.get(key)
            if group is not None:
                group.discard(future)
                if not group:
                    del self._waiters[key]

    def notify(self, key: object) -> None:
        """Wake every waiter of ``key``; call it after the write committed."""
        with self._lock:
            self.epoch += 1
            group = self._waiters.pop(key, None)
        if group:
            self._wake_all(group)

    def wake_everyone(self) -> None:
        """Wake every waiter (they read again); used when wake-ups may have been lost."""
        with self._lock:
            self.epoch += 1
            groups, self._waiters = self._waiters, {}
        for group in groups.values():
            self._wake_all(group)

    def close(self) -> None:
        """Wake everyone (they answer with what they have) and make new waits return at once."""
        with self._lock:
            self._closed = True
        self.wake_everyone()

    @staticmethod
    def _wake_all(group: set[asyncio.Future[None]]) -> None:
        """Wake ``group``: directly on this thread's loop, and with one thread-safe call
        per other loop (a thousand waiters woken from the LISTEN thread cost one)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        elsewhere: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for future in group:
            loop = future.get_loop()
            if loop is running:
                _wake(future)
            else:
                elsewhere.setdefault(loop, []).append(future)
        for loop, futures in elsewhere.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(_wake_many, futures)
