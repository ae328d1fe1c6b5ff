"""Group commit: one thread owns the write connection and batches concurrent writes.

Request handlers ``submit`` a write function and await a future.  The writer thread takes
every job waiting in its queue (up to ``max_batch``), runs them in one transaction, commits
(one fsync with SQLite's ``synchronous=FULL``, one WAL flush on PostgreSQL) and only then
resolves the futures on their event loops.  So an acknowledged write is on disk, and
throughput is not one fsync per request.

Two kinds of job: a write function ``op(conn)``, or a *bulk* value (an item append) that
the writer hands, together with its consecutive neighbours, to one ``bulk(conn, values)``
call, so a batch of appends costs a few statements instead of a few per append (and the
loop thread waits less for the GIL).  Jobs run in submission order.

A job that raises (or, in bulk, returns) ``RelayError`` has, by the contract of
``relay.store``, changed nothing: its neighbours still commit.  Any other exception rolls
the transaction back; the failing job (or bulk run) gets the error and the rest are run
again in a fresh transaction.  A deadlock or serialization failure (possible only when
several relay processes share a PostgreSQL database) runs the whole batch again.  The
transaction verbs come from the backend (``relay.backend.Transactions``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

from relay.backend import Connection, Transactions
from relay.errors import RelayError

__all__ = ["BulkWrite", "GroupCommitWriter", "WriteOp"]

T = TypeVar("T")
WriteOp = Callable[[Connection], Any]
_RETRIES = 5
"""Runs of one batch after deadlocks or serialization failures before it is refused."""


class BulkWrite(Protocol):
    """Applies many bulk values in order; returns one result or ``RelayError`` per value.

    It may remember state between calls; ``reset`` tells it the database may have changed
    by other means (another job ran, a transaction rolled back, maintenance ran).
    """

    def __call__(self, conn: Connection, values: list[Any], /) -> list[Any]: ...

    def reset(self) -> None: ...


log = logging.getLogger("caucus.relay")


class _Job(NamedTuple):
    """One queued write (a tuple: cheaper to build than a dataclass on the hot path)."""

    op: Any  # a WriteOp, or a bulk value when ``bulk`` is true
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    bulk: bool


Outcome = tuple[_Job, Any, BaseException | None]


_STOP = object()


class GroupCommitWriter:
    """The single writer thread; ``tick`` runs in it every ``tick_interval_s`` seconds."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        transactions: Transactions,
        max_batch: int = 512,
        bulk: BulkWrite | None = None,
        tick: Callable[[Connection], None] | None = None,
        tick_interval_s: float = 3600.0,
    ) -> None:
        self._connect = connect
        self._tx = transactions
        self._max_batch = max_batch
        self._bulk = bulk
        self._tick = tick
        self._tick_interval = tick_interval_s
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self.batches = 0
        self.jobs = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open the connection and start the thread (idempotent, thread-safe)."""
        with self._lock:
            if self._stopped:
                raise RelayError("unavailable", "relay is shutting down")
            if self._thread is not None:
                return
            conn = self._connect()
            self._thread = threading.Thread(
                target=self._run, args=(conn,), name="caucus-relay-writer", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish queued jobs, close the connection and end the thread."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def submit(self, op: Callable[[Connection], T]) -> asyncio.Future[T]:
        """Queue ``op``; the future resolves after the transaction holding it committed."""
        return self._enqueue(op, bulk=False)

    def submit_bulk(self, value: object) -> asyncio.Future[Any]:
        """Queue a value for the ``bulk`` function; resolves after its commit."""
        if self._bulk is None:
            raise TypeError("this writer has no bulk function")
        return self._enqueue(value, bulk=True)

    def _enqueue(self, op: object, *, bulk: bool) -> asyncio.Future[Any]:
        if self._thread is None:
            self.start()
        if self._stopped:
            raise RelayError("unavailable", "relay is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(op, future, loop, bulk))
        return future

    # ------------------------------------------------------------------ writer thread

    def _run(self, conn: Connection) -> None:
        next_tick = time.monotonic() + self._tick_interval
        try:
            while True:
                timeout = max(0.0, next_tick - time.monotonic())
                try:
                    first = self._queue.get(timeout=timeout)
                except queue.Empty:
                    first = None
                stop = first is _STOP
                batch: list[_Job] = [first] if isinstance(first, _Job) else []
                while len(batch) < self._max_batch and not stop:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(more, _Job):
                        batch.append(more)
                    else:
                        stop = True
                if batch:
                    conn = self._run_batch(conn, batch)
                if self._tick is not None and time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self._tick_interval
                    self._run_tick(conn)
                if stop:
                    break
        finally:
            conn.close()
            self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        """Jobs queued after the stop request get a clear error instead of hanging."""
        error = RelayError("unavailable", "relay is shutting down")
        leftovers: list[Outcome] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Job):
                leftovers.append((item, None, error))
        self._deliver(leftovers)

    def _reset_bulk(self) -> None:
        if self._bulk is not None:
            self._bulk.reset()

    def _run_tick(self, conn: Connection) -> None:
        if self._tick is None:
            return
        self._reset_bulk()
        try:
            self._tick(conn)
        except Exception as exc:  # keep serving writes if maintenance fails
            log.error("maintenance failed: %s", type(exc).__name__)
            with contextlib.suppress(*self._tx.failures):
                self._tx.rollback(conn)

    def _run_batch(self, conn: Connection, batch: list[_Job]) -> Connection:
        """Run and commit ``batch``; returns the connection to use next (a fresh one if
        this one broke)."""
        outcomes: list[Outcome] = []
        pending = batch
        retries = 0
        while pending:
            try:
                self._tx.begin(conn)
                outcomes, failed = self._apply(conn, pending)
                if not failed:
                    self._tx.commit(conn)
                    pending = []
                    if self._tx.shared:  # other processes may change what we read
                        self._reset_bulk()
                elif retries < _RETRIES and self._retryable(failed):
                    retries += 1
                    self._tx.rollback(conn)
                    self._reset_bulk()
                    outcomes = []
                else:
                    self._tx.rollback(conn)
                    self._reset_bulk()
                    log.error("write failed: %s", type(failed[0][2]).__name__)
                    self._deliver(failed)
                    gone = {id(outcome[0]) for outcome in failed}
                    pending = [job for job in pending if id(job) not in gone]
                    outcomes = []
            except self._tx.failures as exc:
                self._reset_bulk()
                if self._tx.retryable(exc) and retries < _RETRIES:
                    retries += 1
                    with contextlib.suppress(*self._tx.failures):
                        self._tx.rollback(conn)
                    continue
                log.error("transaction failed: %s", type(exc).__name__)
                conn = self._recover(conn)
                error = RelayError("unavailable", "storage failed; the write was not acknowledged")
                outcomes = [(job, None, error) for job in pending]
                pending = []
        self.batches += 1
        self.jobs += len(batch)
        self._deliver(outcomes)
        return conn

    def _retryable(self, failed: list[Outcome]) -> bool:
        error = failed[0][2]
        return error is not None and self._tx.retryable(error)

    def _recover(self, conn: Connection) -> Connection:
        """Roll back after a storage failure; reconnect if the connection itself broke."""
        try:
            self._tx.rollback(conn)
            if not self._tx.broken(conn):
                return conn
        except self._tx.failures:
            pass
        with contextlib.suppress(*self._tx.failures):
            conn.close()
        try:
            return self._connect()
        except self._tx.failures as exc:
            log.error("reconnect failed: %s", type(exc).__name__)
            return conn  # the next batch fails the same way and tries again

    def _apply(self, conn: Connection, jobs: list[_Job]) -> tuple[list[Outcome], list[Outcome]]:
        """Run ``jobs`` in order: (outcomes, []) or, on an unexpected error, ([], failed)."""
        outcomes: list[Outcome] = []
        index = 0
        while index < len(jobs):
            job = jobs[index]
            if job.bulk and self._bulk is not None:
                end = index + 1
                while end < len(jobs) and jobs[end].bulk:
                    end += 1
                run = jobs[index:end]
                try:
                    results = self._bulk(conn, [j.op for j in run])
                except Exception as exc:
                    return [], [(j, None, exc) for j in run]
                for j, result in zip(run, results, strict=True):
                    if isinstance(result, RelayError):
                        outcomes.append((j, None, result))
                    else:
                        outcomes.append((j, result, None))
                index = end
                continue
            try:
                outcomes.append((job, job.op(conn), None))
            except RelayError as exc:
                outcomes.append((job, None, exc))
            except Exception as exc:
                return [], [(job, None, exc)]
            finally:
                self._reset_bulk()
            index += 1
        return outcomes, []

    @staticmethod
    def _deliver(outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].loop, []).append(outcome)
        for loop, group in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_resolve, group)


def _resolve(group: list[Outcome]) -> None:
    for job, value, error in group:
        if job.future.done():
            continue
        if error is None:
            job.future.set_result(value)
        else:
            job.future.set_exception(error)
