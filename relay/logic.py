"""The relay's behaviour, free of HTTP: capabilities, limits, long-polls and storage.

``Relay`` takes parsed, typed requests (ids as bytes, capability hashes, bodies) and returns
values or raises ``RelayError``; ``relay/http.py`` only frames them.  The clock is passed
in (``clock() -> seconds``), so retention, rate limits and inbox signatures are tested
without patching.  Storage starts lazily on first use, so an app built by ``create_app``
works under any ASGI server or in-process transport, with or without lifespan events.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from crypto.errors import BadSignature, Expired, MalformedData
from crypto.relay_auth import verify_inbox_auth
from crypto.relay_work import WorkChallenge, WorkKind
from relay import generation, store
from relay.backend import Connection, open_backend
from relay.codec import Fetch
from relay.config import RelayConfig
from relay.errors import RelayError
from relay.limits import AddressLimit, FairBuckets, StorageBudget
from relay.lockfile import DatabaseLock
from relay.notify import Notifier
from relay.pow import CreationGate, WorkSettings
from relay.ratelimit import retry_after_header
from relay.writer import GroupCommitWriter

__all__ = ["COMMIT_HEADER_SIZE", "Clock", "Relay"]

Clock = Callable[[], float]
OnDisconnect = Callable[[Callable[[], None]], Callable[[], None]]
"""``watch(callback) -> stop``: calls ``callback()`` once the client has gone away."""
T = TypeVar("T")
COMMIT_HEADER_SIZE = 96
"""``bytes32 prev_head | bytes32 new_head | bytes32 new_cap_hash`` before a commit item."""

log = logging.getLogger("caucus.relay")

_MAX_SHARED_READS = 4096
"""Long-poll answers kept for sharing (``Relay._shared_read``); all are dropped when full."""


def _settle(future: asyncio.Future[None], *_: object) -> None:
    """Resolve a long-poll's waiter future (a timer or a done-callback calls this)."""
    if not future.done():
        future.set_result(None)


def _hour(now: float) -> int:
    """Timestamps are stored rounded down to the hour (protocol 6.2)."""
    return int(now // 3600) * 3600


class Relay:
    """One relay: a database, its writer thread, rate limits and long-poll waiters."""

    def __init__(self, config: RelayConfig, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        self.errors: Counter[str] = Counter()
        self.schema_version = 0
        self.generation = ""
        """The database's generation id (``relay.generation``), known once storage started."""
        self._backend = open_backend(config)
        self._writer = GroupCommitWriter(
            self._open_writer,
            self._backend,
            max_batch=config.max_batch,
            bulk=store.Appender(),
            tick=self._maintenance,
            tick_interval_s=config.purge_interval_s,
        )
        self._notifier = Notifier()
        self._fanout = self._backend.fanout(self._wake)
        self._buckets = FairBuckets(
            config.rate_per_s, config.rate_burst, config.group_factor, config.max_tracked_buckets
        )
        self._read_buckets = FairBuckets(
            config.read_rate_per_s,
            config.read_burst,
            config.group_factor,
            config.max_tracked_buckets,
        )
        self._creations = CreationGate(
            WorkSettings(
                key=bytes.fromhex(config.work_key) if config.work_key else os.urandom(32),
                bucket_s=config.work_bucket_s,
                allowance=config.work_allowance,
                min_bits=config.work_min_bits,
                max_bits=config.work_max_bits,
            ),
            config.create_per_s,
            config.create_burst,
        )
        self._per_address = (
            AddressLimit(
                config.create_per_address_per_s,
                config.create_per_address_burst,
                config.max_tracked_buckets,
            )
            if config.create_per_address_per_s > 0
            else None
        )
        self._storage = StorageBudget(
            config.max_db_bytes, config.min_free_disk_bytes, self._measure_storage
        )
        self._local = threading.local()
        self._shared_reads: dict[object, tuple[int, store.Fetched]] = {}
        self._readers: list[Connection] = []
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._closed = False
        # one process per SQLite file; a PostgreSQL database is meant to be shared
        self._db_lock = None if self._backend.shared else DatabaseLock(config.db_path)

    # ------------------------------------------------------------------ lifecycle

    def _open_writer(self) -> Connection:
        if self._db_lock is not None:
            self._db_lock.acquire()  # before touching the file: one process per database
        try:
            conn, self.schema_version = self._backend.open_writer()
        except BaseException:
            if self._db_lock is not None:
                self._db_lock.release()
            raise
        try:
            self.generation = generation.ensure(conn)
        except BaseException:
            conn.close()
            if self._db_lock is not None:
                self._db_lock.release()
            raise
        return conn

    def start(self) -> None:
        """Open the database (migrating it) and start the writer; idempotent."""
        if self._closed:
            raise RelayError("unavailable", "relay is shutting down")
        with self._start_lock:
            if self._writer.running:
                return
            self._writer.start()
            if self._fanout is not None:
                self._fanout.start()
        log.info(
            "relay storage ready (%s, schema version %d)", self._backend.name, self.schema_version
        )

    def begin_shutdown(self) -> None:
        """Answer every long-poll now, so a graceful stop need not wait up to 30 s."""
        self._notifier.close()

    def close(self) -> None:
        """Finish queued writes, then close every connection."""
        self._closed = True
        self._notifier.close()
        self._writer.stop()
        if self._fanout is not None:
            self._fanout.close()
        with self._lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        if self._db_lock is not None:
            self._db_lock.release()

    def _reader(self) -> Connection:
        """This thread's read-only connection (one per event-loop thread)."""
        if self._closed:
            raise RelayError("unavailable", "relay is shutting down")
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._backend.broken(conn):  # the server restarted
            with self._lock:
                self._readers.remove(conn)
            conn.close()
            conn = None
        if conn is None:
            self.start()
            conn = self._backend.open_reader()
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _read(self, read: Callable[[Connection], T]) -> T:
        """``read`` on this thread's reader; once more on a new connection if the server
        dropped the old one (PostgreSQL restarted, or the connection was terminated)."""
        conn = self._reader()
        try:
            return read(conn)
        except self._backend.failures:
            if not self._backend.broken(conn):
                raise
        return read(self._reader())  # _reader replaces a broken connection

    async def _write(self, op: Callable[[Connection], Any]) -> Any:
        if self._closed:
            raise RelayError("unavailable", "relay is shutting down")
        return await self._writer.submit(op)

    def _notify(self, key: tuple[int, bytes]) -> None:
        """After a commit: wake the waiters of ``key`` here and in the other processes."""
        self._notifier.notify(key)
        if self._fanout is not None:
            self._fanout.publish(key)

    def _wake(self, key: tuple[int, bytes] | None) -> None:
        """A commit in another process (or, for None, wake-ups may have been lost)."""
        if key is None:
            self._notifier.wake_everyone()
        else:
            self._notifier.notify(key)

    # ------------------------------------------------------------------ limits

    def _limit(self, buckets: FairBuckets, key: bytes) -> None:
        wait = buckets.take(key, self.clock())
        if wait:
            raise RelayError(
                "rate_limited", "too many requests", retry_after=retry_after_header(wait)
            )

    def _limit_creation(self, kind: WorkKind, rid: bytes, work: bytes | None) -> None:
        now = self.clock()
        if self._per_address is not None:
            self._per_address.take(now)
        self._creations.admit(kind, rid, work, now)

    def work_challenge(self) -> WorkChallenge:
        """What an anonymous creation needs right now (for ``/health``)."""
        return self._creations.challenge(self.clock())

    def _measure_storage(self) -> tuple[int, int]:
        return self._read(self._backend.measure)

    def _charge(self, size: int) -> None:
        """Refuse (507) a write that would pass the database cap or the disk floor."""
        self._storage.charge(size)

    @property
    def _quota(self) -> int:
        return self.config.max_mailbox_bytes

    @property
    def _inbox_item_charge(self) -> int:
        """Least an inbox item counts against the inbox quota: bounds the item count."""
        return self.config.max_inbox_bytes // self.config.max_inbox_items

    def _fetch_limit(self, fetch: Fetch) -> int:
        cap = self.config.max_fetch_items
        return cap if fetch.limit is None else min(fetch.limit, cap)

    @property
    def waiting(self) -> int:
        """Long-polls waiting right now (for tests and the count log)."""
        return self._notifier.waiting

    def record_error(self, code: str) -> None:
        """Count refusals by code; the counts are what the relay logs."""
        self.errors[code] += 1

    # ------------------------------------------------------------------ mailboxes

    async def create_mailbox(
        self, mid: bytes, capability_hash: bytes, head: bytes, *, work: bytes | None = None
    ) -> int:
        self._limit_creation(WorkKind.MAILBOX, mid, work)
        self._charge(0)
        hour = _hour(self.clock())
        await self._write(
            functools.partial(
                store.create_mailbox, mid=mid, cap_hash=capability_hash, head=head, hour=hour
            )
        )
        return 0

    async def append_mailbox_item(self, mid: bytes, presented: bytes, item: bytes) -> int:
        self._limit(self._buckets, presented)
        if not item:
            raise RelayError("bad_request", "empty item")
        self._charge(len(item))
        append = store.Append(
            store.MAILBOX, mid, presented, item, _hour(self.clock()), self.config.max_mailbox_bytes
        )
        seq: int = await self._writer.submit_bulk(append)
        self._notify((store.MAILBOX, mid))
        return seq

    async def commit(self, mid: bytes, presented: bytes, body: bytes) -> int:
        self._limit(self._buckets, presented)
        if len(body) <= COMMIT_HEADER_SIZE:
            raise RelayError("bad_request", "commit needs 96 header bytes and an item")
        self._charge(len(body))
        op = functools.partial(
            store.commit,
            mid=mid,
            cap_hash=presented,
            prev_head=body[:32],
            new_head=body[32:64],
            new_cap_hash=body[64:96],
            data=body[96:],
            hour=_hour(self.clock()),
            quota=self._quota,
        )
        seq: int = await self._write(op)
        self._notify((store.MAILBOX, mid))
        return seq

    async def fetch_mailbox(
        self,
        mid: bytes,
        presented: bytes,
        fetch: Fetch,
        on_disconnect: OnDisconnect | None = None,
    ) -> store.Fetched:
        self._limit(self._read_buckets, presented)
        read = functools.partial(
            store.fetch_mailbox,
            mid=mid,
            cap_hash=presented,
            after=fetch.after,
            limit=self._fetch_limit(fetch),
            max_bytes=self.config.max_fetch_bytes,
        )
        return await self._long_poll((store.MAILBOX, mid), read, fetch.wait_s, on_disconnect)

    async def delete_mailbox(self, mid: bytes, presented: bytes) -> None:
        self._limit(self._buckets, presented)
        await self._write(functools.partial(store.delete_mailbox, mid=mid, cap_hash=presented))
        self._notify((store.MAILBOX, mid))

    # ------------------------------------------------------------------ inboxes

    async def create_inbox(self, iid: bytes, auth_key: bytes, *, work: bytes | None = None) -> int:
        self._limit_creation(WorkKind.INBOX, iid, work)
        self._charge(0)
        hour = _hour(self.clock())
        await self._write(
            functools.partial(store.create_inbox, iid=iid, auth_key=auth_key, hour=hour)
        )
        return 0

    async def append_inbox_item(self, iid: bytes, item: bytes) -> int:
        self._limit(self._buckets, b"inbox-write" + iid)
        if not item:
            raise RelayError("bad_request", "empty item")
        self._charge(len(item))
        append = store.Append(
            store.INBOX,
            iid,
            None,
            item,
            _hour(self.clock()),
            self.config.max_inbox_bytes,
            self._inbox_item_charge,
        )
        seq: int = await self._writer.submit_bulk(append)
        self._notify((store.INBOX, iid))
        return seq

    def _check_inbox_auth(self, iid: bytes, header: bytes | None) -> None:
        self._limit(self._read_buckets, b"inbox-read" + iid)
        if header is None:
            raise RelayError("forbidden", "X-Caucus-Auth is required")
        try:
            text = header.decode("ascii")
        except UnicodeDecodeError:
            raise RelayError("bad_request", "X-Caucus-Auth is not base64url") from None
        auth_key = self._read(functools.partial(store.inbox_auth_key, iid=iid))
        now_ms = int(self.clock() * 1000)
        try:
            verify_inbox_auth(text, auth_key, iid, now_ms, self.config.auth_window_ms)
        except Expired:
            # The relay's time (not a secret) lets the client tell its person by how much
            # their computer's clock is off.
            raise RelayError(
                "stale_auth",
                "X-Caucus-Auth timestamp too far from relay clock",
                extra={"relay_time_ms": now_ms},
            ) from None
        except BadSignature:
            raise RelayError("forbidden", "X-Caucus-Auth signature does not verify") from None
        except MalformedData:
            raise RelayError("bad_request", "X-Caucus-Auth must be 72 bytes of base64url") from None

    async def fetch_inbox(
        self,
        iid: bytes,
        auth_header: bytes | None,
        fetch: Fetch,
        on_disconnect: OnDisconnect | None = None,
    ) -> store.Fetched:
        self._check_inbox_auth(iid, auth_header)
        read = functools.partial(
            store.fetch_inbox,
            iid=iid,
            after=fetch.after,
            limit=self._fetch_limit(fetch),
            max_bytes=self.config.max_fetch_bytes,
        )
        return await self._long_poll((store.INBOX, iid), read, fetch.wait_s, on_disconnect)

    async def delete_inbox_items(self, iid: bytes, auth_header: bytes | None, upto: int) -> int:
        self._check_inbox_auth(iid, auth_header)
        count: int = await self._write(
            functools.partial(store.delete_inbox_items, iid=iid, upto=upto)
        )
        return count

    # ------------------------------------------------------------------ blobs

    async def create_blob(
        self,
        bid: bytes,
        capability_hash: bytes,
        size: int,
        chunks: int,
        *,
        work: bytes | None = None,
    ) -> None:
        if size > self.config.max_blob_bytes or not 1 <= chunks <= self.config.max_blob_chunks:
            raise RelayError(
                "bad_request",
                f"size must be at most {self.config.max_blob_bytes} and chunks "
                f"1 to {self.config.max_blob_chunks}",
            )
        self._limit_creation(WorkKind.BLOB, bid, work)
        self._charge(0)
        hour = _hour(self.clock())
        await self._write(
            functools.partial(
                store.create_blob,
                bid=bid,
                cap_hash=capability_hash,
                size=size,
                chunks=chunks,
                hour=hour,
            )
        )

    async def put_chunk(self, bid: bytes, presented: bytes, index: int, data: bytes) -> None:
        self._limit(self._buckets, b"blob" + bid)
        self._charge(len(data))
        await self._write(
            functools.partial(store.put_chunk, bid=bid, cap_hash=presented, index=index, data=data)
        )

    async def get_chunk(self, bid: bytes, presented: bytes, index: int) -> bytes:
        self._limit(self._read_buckets, b"blob" + bid)
        return self._read(
            functools.partial(store.get_chunk, bid=bid, cap_hash=presented, index=index)
        )

    async def delete_blob(self, bid: bytes, presented: bytes) -> None:
        self._limit(self._buckets, b"blob" + bid)
        await self._write(functools.partial(store.delete_blob, bid=bid, cap_hash=presented))

    # ------------------------------------------------------------------ retention

    def _cutoff_hour(self) -> int:
        return _hour(self.clock() - self.config.retention_s)

    async def purge(self) -> store.PurgeCounts:
        """Delete what is older than the retention period now (also runs periodically)."""
        cutoff = self._cutoff_hour()
        counts: store.PurgeCounts = await self._write(
            functools.partial(store.purge, cutoff_hour=cutoff)
        )
        return counts

    def _maintenance(self, conn: Connection) -> None:
        """Runs in the writer thread every ``purge_interval_s``: retention and a count log."""
        self._backend.begin(conn)
        counts = store.purge(conn, self._cutoff_hour())
        self._backend.commit(conn)
        errors = dict(self.errors)
        self.errors.clear()
        log.info(
            "retention purge removed %d items and %d blobs; %d writes in %d commits; "
            "refusals since last report: %s",
            counts.items,
            counts.blobs,
            self._writer.jobs,
            self._writer.batches,
            errors or "none",
        )

    # ------------------------------------------------------------------ long-poll

    def _shared_read(self, read: functools.partial[store.Fetched]) -> store.Fetched:
        """``read``, or the answer of the same read made since the last commit notified.

        When one commit wakes a thousand long-polls of one mailbox, they ask the database
        the same question (same queue, capability and position): the first one reads, the
        others take its answer.  An answer is reused only while ``Notifier.epoch`` is the
        value it had before that read began, i.e. no commit was notified since; the
        caller registered its waiter before calling, so a commit the answer misses wakes
        it again (the rule of ``relay.notify``).  Only reads after a wake-up share: a
        request's first read is its own, so a fetch sent after an acknowledgement from
        another relay process sees that item even before its NOTIFY arrives here.
        """
        epoch = self._notifier.epoch
        question = (read.func, *read.keywords.values())
        known = self._shared_reads.get(question)
        if known is not None and known[0] == epoch:
            return known[1]
        result = self._read(read)
        shared = self._shared_reads
        if len(shared) >= _MAX_SHARED_READS or (shared and next(iter(shared.values()))[0] != epoch):
            shared.clear()  # answers from before the last commit are useless now
        shared[question] = (epoch, result)
        return result

    async def _long_poll(
        self,
        key: object,
        read: functools.partial[store.Fetched],
        wait_s: float,
        on_disconnect: OnDisconnect | None,
    ) -> store.Fetched:
        """Read; if nothing is there, wait for a commit on ``key`` (at most ``wait_s``)."""
        if wait_s <= 0:
            return self._read(read)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        current: list[asyncio.Future[None]] = []  # the waiter future now awaited
        gone = False

        def left() -> None:
            nonlocal gone
            gone = True
            if current:
                _settle(current[0])

        stop_watching: Callable[[], None] | None = None
        woken = False
        try:
            while True:
                if woken:  # most woken polls find their item: answer without registering
                    result = self._shared_read(read)
                    if result.rows or self._notifier.closed or gone:
                        return result
                waiter = self._notifier.register(key)
                try:
                    result = self._shared_read(read) if woken else self._read(read)
                    remaining = deadline - loop.time()
                    if result.rows or remaining <= 0 or self._notifier.closed or gone:
                        return result
                    if stop_watching is None and on_disconnect is not None:
                        stop_watching = on_disconnect(left)
                    # one future is awaited: a commit, the deadline or the client leaving
                    # resolves it (cheaper than asyncio.wait, and no task per poll watching
                    # for the disconnect: it counts when one commit wakes a thousand polls)
                    current[:] = [waiter]
                    timer = loop.call_at(deadline, _settle, waiter)
                    try:
                        await waiter
                    finally:
                        timer.cancel()
                    woken = True
                    if gone:
                        return result
                finally:
                    self._notifier.unregister(key, waiter)
        finally:
            if stop_watching is not None:
                stop_watching()
