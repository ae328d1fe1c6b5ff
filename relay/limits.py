"""Abuse limits that need more than one token bucket (protocol 6.2).

- ``FairBuckets``: a capability (or inbox, or blob) is shared by every member of a group,
  so one bucket per capability lets one member drain it for all.  The relay cannot tell
  members apart, but it can tell connections apart: each (key, connection) pair has the
  old per-capability bucket, and the key as a whole a bucket ten times larger.  One
  flooding connection is stopped by its own bucket and leaves the group's untouched.
- ``StorageBudget``: a cap on the database's size and a floor of free disk space, checked
  before every write against a running total that is re-measured once a second (SQLite
  page counts and ``statvfs``: constant time, no table scan).
- ``AddressLimit``: the operator option of free creations per client address; off by
  default because the relay keeps no IP addresses.

The connection of the request being handled travels in a context variable set by
``relay/http.py``, so the storage and logic signatures need not change: under our uvicorn
protocol it is a number given to each connection (``relay/connections.py``); elsewhere
(in-process transports, other servers) a keyed hash of the ASGI ``client`` pair.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from relay.errors import RelayError
from relay.ratelimit import TokenBuckets, retry_after_header

__all__ = [
    "ADDRESS",
    "CONNECTION",
    "AddressLimit",
    "FairBuckets",
    "StorageBudget",
    "connection_key",
    "measure_sqlite",
]

CONNECTION: contextvars.ContextVar[bytes] = contextvars.ContextVar("connection", default=b"")
"""An opaque key for the TCP connection of the current request (``b""`` if unknown)."""

ADDRESS: contextvars.ContextVar[str | None] = contextvars.ContextVar("address", default=None)
"""The client's address for the current request, read only by ``AddressLimit``."""

_SALT = os.urandom(16)


def connection_key(client: object) -> bytes:
    """A per-process keyed hash of the ASGI ``client`` (host, port): never stored or logged."""
    return hashlib.blake2b(repr(client).encode(), key=_SALT, digest_size=16).digest()


class FairBuckets:
    """Per (key, connection) buckets under a larger per-key bucket."""

    __slots__ = ("_connections", "_groups")

    def __init__(self, rate_per_s: float, burst: float, group_factor: float, max_keys: int) -> None:
        if group_factor < 1:
            raise ValueError("the group bucket must be at least as large as one connection's")
        self._connections = TokenBuckets(rate_per_s, burst, max_keys)
        self._groups = TokenBuckets(rate_per_s * group_factor, burst * group_factor, max_keys)

    def take(self, key: bytes, now: float) -> float:
        """0.0 if allowed, else seconds until this connection may try again."""
        wait = self._connections.take(key + CONNECTION.get(), now)
        if wait:
            return wait
        return self._groups.take(key, now)


Measure = Callable[[], tuple[int, int]]
"""Returns (bytes the database uses, bytes free on its disk)."""


def measure_sqlite(conn: sqlite3.Connection, db_path: Path) -> tuple[int, int]:
    """Pages in use times page size, as committed (WAL included, freed pages excluded).

    The WAL file itself is transient (checkpointed back into the database) and is left
    to the disk floor, which counts every byte on the disk.
    """
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free_pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    disk_free = shutil.disk_usage(db_path.parent).free
    return (int(pages) - int(free_pages)) * int(page_size), disk_free


class StorageBudget:
    """Refuses a write (507 ``storage_full``) that would pass the cap or the disk floor.

    Writes accepted since the last measurement are added to it, so a burst between two
    measurements cannot overshoot; the measurement also brings back what deletions and
    retention freed.  Each write is charged ``size + overhead`` (row and index bytes).
    """

    def __init__(
        self,
        max_db_bytes: int,
        min_free_bytes: int,
        measure: Measure,
        *,
        overhead: int = 128,
        interval_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cap = max_db_bytes
        self._floor = min_free_bytes
        self._measure = measure
        self._overhead = overhead
        self._interval = interval_s
        self._monotonic = monotonic
        self._next = -1.0
        self._used = 0
        self._free = 0
        self._pending = 0

    def charge(self, size: int) -> None:
        now = self._monotonic()
        if now >= self._next:
            self._used, self._free = self._measure()
            self._pending = 0
            self._next = now + self._interval
        cost = size + self._overhead
        if self._used + self._pending + cost > self._cap:
            raise RelayError("storage_full", "the relay's storage is full")
        if self._free - self._pending - cost < self._floor:
            raise RelayError("storage_full", "the relay's disk is nearly full")
        self._pending += cost


class AddressLimit:
    """Free creations per client address (operator option; ``None`` address: no limit)."""

    __slots__ = ("_buckets",)

    def __init__(self, rate_per_s: float, burst: float, max_keys: int) -> None:
        self._buckets = TokenBuckets(rate_per_s, burst, max_keys)

    def take(self, now: float) -> None:
        address = ADDRESS.get()
        if address is None:
            return
        key = hashlib.blake2b(address.encode(), key=_SALT, digest_size=16).digest()
        wait = self._buckets.take(key, now)
        if wait:
            raise RelayError(
                "rate_limited",
                "too many creations from this address",
                retry_after=retry_after_header(wait),
            )
