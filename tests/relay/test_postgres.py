"""PostgreSQL only: table checks, and two relays sharing one database in one process.

Two ``RelayApp`` objects on one PostgreSQL schema behave like two relay processes: each has
its own writer thread, connections and LISTEN/NOTIFY fanout; they share only the database.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest

from crypto.relay_auth import b64url_encode
from relay import pg, store
from relay.backend import Connection, open_backend
from relay.http import RelayApp
from relay.migrate import latest_version
from relay.writer import GroupCommitWriter
from tests.relay.conftest import Client, Db, make_app, new_id, open_client

pytestmark = pytest.mark.anyio


# ------------------------------------------------------------------ schema


def test_schema_checks_hold(pg_db: Db) -> None:
    assert pg_db.url is not None
    conn = pg.connect(pg_db.url)
    try:
        assert pg.migrate(conn) == latest_version()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO queues (kind, qid, created_hour) VALUES (1, ?, 0)", (bytes(16),)
            )
    finally:
        conn.close()


def test_deadlock_between_two_writers_reruns_the_batch(pg_db: Db) -> None:
    """Two writers (as in two processes) lock two rows in opposite orders: PostgreSQL
    aborts one, and its writer runs the batch again instead of failing the request."""
    backend = open_backend(pg_db.config())
    conn, _version = backend.open_writer()
    qids = [os.urandom(16), os.urandom(16)]
    for qid in qids:
        store.create_mailbox(conn, qid, os.urandom(32), bytes(32), 0)
    conn.close()
    both_hold_one = threading.Barrier(2, timeout=30)
    attempts: list[str] = []

    def crossing(name: str, first: bytes, second: bytes) -> Callable[[Connection], str]:
        def op(c: Connection) -> str:
            lock = "SELECT id FROM queues WHERE qid = ? FOR UPDATE"
            c.execute(lock, (first,))
            attempts.append(name)
            if attempts.count(name) == 1:
                both_hold_one.wait()
            c.execute(lock, (second,))
            c.execute("UPDATE queues SET bytes_used = bytes_used + 1 WHERE qid = ?", (first,))
            return name

        return op

    writers = [GroupCommitWriter(lambda: backend.open_writer()[0], backend) for _ in range(2)]

    async def run() -> list[str | BaseException]:
        futures: list[asyncio.Future[str]] = [
            writers[0].submit(crossing("a", qids[0], qids[1])),
            writers[1].submit(crossing("b", qids[1], qids[0])),
        ]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    try:
        results = asyncio.run(run())
    finally:
        for writer in writers:
            writer.stop()
    assert results == ["a", "b"]
    assert len(attempts) >= 3  # at least one of them ran again (under load, maybe twice)
    assert pg_db.rows("SELECT bytes_used FROM queues") == [(1,), (1,)]


# ------------------------------------------------------------------ two relays, one database


@pytest.fixture
async def pair(pg_db: Db) -> AsyncIterator[tuple[Client, Client]]:
    apps: list[RelayApp] = [make_app(pg_db), make_app(pg_db)]
    for app in apps:
        app.relay.start()
    try:
        async with await open_client(apps[0]) as a, await open_client(apps[1]) as b:
            yield Client(a, apps[0]), Client(b, apps[1])
    finally:
        for app in apps:
            app.close()


async def test_appends_through_two_relays_get_consecutive_seqs(
    pair: tuple[Client, Client],
) -> None:
    a, b = pair
    box = await a.new_mailbox()
    posts = [(a if n % 2 else b).post(box, b"item %d" % n) for n in range(60)]
    responses = await asyncio.gather(*posts)
    assert all(r.status_code == 200 for r in responses)
    seqs = sorted(r.json()["seq"] for r in responses)
    assert seqs == list(range(1, 61))
    _response, frames = await b.fetch(box, box.cap)
    assert {data for _seq, data in frames} == {b"item %d" % n for n in range(60)}


async def test_commits_through_two_relays_exactly_one_lands(pair: tuple[Client, Client]) -> None:
    a, b = pair
    box = await a.new_mailbox()
    commits = [
        (a if n % 2 else b).commit(box, box.cap, box.head, os.urandom(32), os.urandom(32))
        for n in range(10)
    ]
    responses = await asyncio.gather(*commits)
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    codes = {r.json()["error"] for r in responses if r.status_code == 409}
    assert codes <= {"head_mismatch", "stale_epoch"}


async def test_stale_capability_refused_by_the_other_relay(pair: tuple[Client, Client]) -> None:
    """Relay b must not trust anything it read before relay a's commit changed the epoch."""
    a, b = pair
    box = await a.new_mailbox()
    assert (await b.post(box, b"warm b's view")).status_code == 200
    new_cap = os.urandom(32)
    assert (await a.commit(box, box.cap, box.head, os.urandom(32), new_cap)).status_code == 200
    late = await b.post(box, b"old epoch")
    assert late.status_code == 409 and late.json()["error"] == "stale_epoch"
    assert (await b.post(box, b"new epoch", cap=new_cap)).json() == {"seq": 3}


async def test_quota_holds_across_relays(pg_db: Db) -> None:
    apps = [make_app(pg_db, max_mailbox_bytes=1000), make_app(pg_db, max_mailbox_bytes=1000)]
    try:
        async with await open_client(apps[0]) as ha, await open_client(apps[1]) as hb:
            a, b = Client(ha, apps[0]), Client(hb, apps[1])
            box = await a.new_mailbox()
            posts = [(a if n % 2 else b).post(box, b"x" * 100) for n in range(20)]
            statuses = [r.status_code for r in await asyncio.gather(*posts)]
            assert statuses.count(200) == 10 and statuses.count(507) == 10
            used = pg_db.rows("SELECT bytes_used FROM queues")
            assert used == [(1000,)]
    finally:
        for app in apps:
            app.close()


async def test_long_poll_woken_by_a_commit_through_the_other_relay(
    pair: tuple[Client, Client],
) -> None:
    a, b = pair
    box = await a.new_mailbox()
    waiting = asyncio.create_task(a.fetch(box, box.cap, wait=30))
    for _ in range(500):
        if a.app.relay.waiting:
            break
        await asyncio.sleep(0.01)
    assert a.app.relay.waiting == 1
    await b.post(box, b"from b")
    # without a cross-relay wake-up the poll would answer empty after its 30 s
    _response, frames = await asyncio.wait_for(waiting, 25)
    assert frames == [(1, b"from b")]


async def test_wake_up_sent_while_the_listener_reconnects_is_not_lost(
    pair: tuple[Client, Client], pg_db: Db
) -> None:
    """After its LISTEN connection drops, a relay wakes its waiters once it listens again,
    so an item posted elsewhere in the gap still reaches them before their timeout."""
    a, b = pair
    box = await a.new_mailbox()
    waiting = asyncio.create_task(a.fetch(box, box.cap, wait=30))
    for _ in range(500):
        if a.app.relay.waiting:
            break
        await asyncio.sleep(0.01)
    assert a.app.relay.waiting == 1
    assert pg_db.url is not None
    with psycopg.connect(pg_db.url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed is not None and killed[0] >= 2
    await b.post(box, b"in the gap")  # a's listener is (most likely) not listening now
    _response, frames = await asyncio.wait_for(waiting, 25)
    assert frames == [(1, b"in the gap")]


async def test_writer_and_reader_reconnect_after_losing_their_connections(
    pg_db: Db,
) -> None:
    app = make_app(pg_db)
    try:
        async with await open_client(app) as http:
            client = Client(http, app)
            box = await client.new_mailbox()
            assert (await client.fetch(box, box.cap))[0].status_code == 200  # reader is open
            assert pg_db.url is not None
            with psycopg.connect(pg_db.url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            statuses = [(await client.post(box, b"x")).status_code for _ in range(3)]
            assert statuses[-1] == 200  # at most the first write meets the dead connection
            assert set(statuses) <= {200, 503}
            _response, frames = await client.fetch(box, box.cap)
            assert len(frames) == statuses.count(200)
    finally:
        app.close()


# ------------------------------------------------------------------ storage limits


async def test_database_cap_counts_the_postgresql_database(pg_db: Db) -> None:
    """``max_db_bytes`` caps ``pg_database_size``; the server's disk is not the relay's."""
    base = int(pg_db.rows("SELECT pg_database_size(current_database())")[0][0])
    app = make_app(pg_db, max_db_bytes=base + 2 * 1024 * 1024, min_free_disk_bytes=1 << 61)
    try:
        async with await open_client(app) as http:
            stored = 0
            refused = None
            for _ in range(20):
                inbox = f"/v1/inboxes/{new_id()}"
                made = await http.put(inbox, json={"auth_key": b64url_encode(os.urandom(32))})
                assert made.status_code == 201  # the disk floor is not checked here
                for _ in range(4):
                    reply = await http.post(inbox + "/items", content=os.urandom(64 * 1024))
                    if reply.status_code != 200:
                        refused = reply
                        break
                    stored += 64 * 1024
                if refused is not None:
                    break
            assert refused is not None and refused.status_code == 507
            assert refused.json()["error"] == "storage_full"
            assert 1024 * 1024 <= stored <= 2 * 1024 * 1024
    finally:
        app.close()
