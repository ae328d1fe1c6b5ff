"""Storage and group commit below HTTP: batched appends, ordering, failure isolation.

Every test runs on SQLite and on PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

from relay import store
from relay.backend import Backend, Connection, open_backend
from relay.errors import RelayError
from relay.writer import GroupCommitWriter
from tests.relay.conftest import Db

QUOTA = 10_000


@pytest.fixture
def backend(db: Db) -> Backend:
    return open_backend(db.config())


@pytest.fixture
def conn(backend: Backend) -> Iterator[Connection]:
    connection, _version = backend.open_writer()
    yield connection
    connection.close()


def writer_for(backend: Backend) -> GroupCommitWriter:
    return GroupCommitWriter(lambda: backend.open_writer()[0], backend, bulk=store.Appender())


def make_mailbox(conn: Connection) -> tuple[bytes, bytes]:
    mid, cap_hash = os.urandom(16), os.urandom(32)
    store.create_mailbox(conn, mid, cap_hash, bytes(32), 0)
    return mid, cap_hash


def append(
    mid: bytes, cap_hash: bytes | None, data: bytes, kind: int = store.MAILBOX
) -> store.Append:
    return store.Append(kind, mid, cap_hash, data, 0, QUOTA)


def test_appender_mixed_outcomes(conn: Connection) -> None:
    a, cap_a = make_mailbox(conn)
    b, cap_b = make_mailbox(conn)
    iid = os.urandom(16)
    store.create_inbox(conn, iid, bytes(32), 0)
    results = store.Appender()(
        conn,
        [
            append(a, cap_a, b"a1"),
            append(b, cap_b, b"b1"),
            append(a, cap_b, b"wrong cap"),
            append(os.urandom(16), cap_a, b"nowhere"),
            append(a, cap_a, b"x" * QUOTA),
            append(iid, None, b"sealed", store.INBOX),
            append(a, cap_a, b"a2"),
        ],
    )
    assert results[:2] == [1, 1]
    assert isinstance(results[2], RelayError) and results[2].code == "forbidden"
    assert isinstance(results[3], RelayError) and results[3].code == "not_found"
    assert isinstance(results[4], RelayError) and results[4].code == "quota_exceeded"
    assert results[5:] == [1, 2]
    fetched = store.fetch_mailbox(conn, a, cap_a, 0, 100, 10**6)
    assert fetched.rows == [(1, b"a1"), (2, b"a2")]
    used = conn.execute("SELECT bytes_used FROM queues WHERE qid = ?", (a,)).fetchone()[0]
    assert used == 4


def test_appender_larger_than_one_statement(conn: Connection) -> None:
    boxes = [make_mailbox(conn) for _ in range(300)]
    batch = [append(mid, cap, b"%d" % n) for n in range(3) for mid, cap in boxes]
    results = store.Appender()(conn, batch)
    assert results == [n + 1 for n in range(3) for _ in boxes]
    for mid, cap in boxes[::37]:
        rows = store.fetch_mailbox(conn, mid, cap, 0, 10, 10**6).rows
        assert rows == [(1, b"0"), (2, b"1"), (3, b"2")]


def test_past_epoch_cap_is_stale_in_a_batch(conn: Connection) -> None:
    mid, cap0 = make_mailbox(conn)
    cap1 = os.urandom(32)
    store.commit(conn, mid, cap0, bytes(32), os.urandom(32), cap1, b"c", 0, QUOTA)
    results = store.Appender()(conn, [append(mid, cap0, b"late"), append(mid, cap1, b"ok")])
    assert isinstance(results[0], RelayError) and results[0].code == "stale_epoch"
    assert results[1] == 2


async def _submit_all(writer: GroupCommitWriter, jobs: list[tuple[bool, Any]]) -> list[Any]:
    futures = [writer.submit_bulk(op) if bulk else writer.submit(op) for bulk, op in jobs]
    return await asyncio.gather(*futures, return_exceptions=True)


def test_writer_keeps_order_across_bulk_and_single_jobs(conn: Connection, backend: Backend) -> None:
    """An append queued after a commit in the same batch sees the new epoch."""
    mid, cap0 = make_mailbox(conn)
    cap1 = os.urandom(32)
    writer = writer_for(backend)

    def commit(c: Connection) -> int:
        return store.commit(c, mid, cap0, bytes(32), os.urandom(32), cap1, b"commit", 0, QUOTA)

    jobs: list[tuple[bool, Any]] = [
        (True, append(mid, cap0, b"before")),
        (False, commit),
        (True, append(mid, cap0, b"stale")),
        (True, append(mid, cap1, b"after")),
    ]
    results = asyncio.run(_submit_all(writer, jobs))
    writer.stop()
    assert results[0] == 1 and results[1] == 2 and results[3] == 3
    assert isinstance(results[2], RelayError) and results[2].code == "stale_epoch"


def test_writer_isolates_an_unexpected_failure(conn: Connection, backend: Backend) -> None:
    """A job that breaks (not a refusal) fails alone; the others are retried and commit."""
    mid, cap = make_mailbox(conn)
    writer = writer_for(backend)

    half_done = os.urandom(16)

    def broken(c: Connection) -> None:
        store.create_inbox(c, half_done, bytes(32), 0)
        raise ZeroDivisionError

    jobs: list[tuple[bool, Any]] = [
        (True, append(mid, cap, b"one")),
        (False, broken),
        (True, append(mid, cap, b"two")),
    ]
    results = asyncio.run(_submit_all(writer, jobs))
    writer.stop()
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ZeroDivisionError)
    check = backend.open_reader()
    assert store.fetch_mailbox(check, mid, cap, 0, 10, 10**6).rows == [(1, b"one"), (2, b"two")]
    with pytest.raises(RelayError):  # the broken job's own write was rolled back
        store.inbox_auth_key(check, half_done)
    check.close()


def test_writer_refuses_after_stop(backend: Backend) -> None:
    writer = GroupCommitWriter(lambda: backend.open_writer()[0], backend)
    writer.start()
    writer.stop()

    async def late() -> None:
        writer.submit(lambda c: None)

    with pytest.raises(RelayError) as info:
        asyncio.run(late())
    assert info.value.code == "unavailable"
