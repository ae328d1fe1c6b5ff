"""Retention: items and blobs older than --retention-days go; stored times are hours."""

from __future__ import annotations

import asyncio
import os

import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode
from tests.relay.conftest import Client, Db, FakeClock, auth, make_app, new_id, open_client

pytestmark = pytest.mark.anyio

DAY = 86400.0


def stored_hours(db: Db) -> list[int]:
    rows = db.rows(
        "SELECT hour FROM items UNION ALL SELECT created_hour FROM queues "
        "UNION ALL SELECT created_hour FROM blobs"
    )
    return [row[0] for row in rows]


async def test_purge_removes_only_expired_items(db: Db) -> None:
    clock = FakeClock(now=1_700_000_123.456)
    app = make_app(db, clock, retention_days=90, max_mailbox_bytes=10_000)
    async with await open_client(app) as http:
        client = Client(http, app)
        box = await client.new_mailbox()
        await client.post(box, b"a" * 4000)
        await client.post(box, b"b" * 4000)
        bid, blob_cap = new_id(), os.urandom(32)
        await http.put(
            f"/v1/blobs/{bid}",
            json={"cap_hash": b64url_encode(cap_hash(blob_cap)), "size": 10, "chunks": 1},
        )
        clock.advance(60 * DAY)
        await client.post(box, b"recent")
        assert (await client.post(box, b"c" * 4000)).status_code == 507

        clock.advance(31 * DAY)  # first two items are now 91 days old, the third 31
        counts = await app.relay.purge()
        assert (counts.items, counts.blobs) == (2, 1)

        response, frames = await client.fetch(box, box.cap)
        assert frames == [(3, b"recent")]
        assert response.headers["x-caucus-last"] == "3"
        # quota freed by the purge, seq numbering continues
        assert (await client.post(box, b"c" * 4000)).json() == {"seq": 4}
        gone = await http.get(f"/v1/blobs/{bid}/chunks/0", headers=auth(blob_cap))
        assert gone.status_code == 404
    app.close()
    assert stored_hours(db)
    assert all(hour % 3600 == 0 for hour in stored_hours(db))


async def test_purge_is_conservative_at_the_boundary(db: Db) -> None:
    """An item is kept until its whole stored hour is past the retention period."""
    clock = FakeClock(now=1_700_000_000.0 - 1_700_000_000.0 % 3600 + 1800)  # mid-hour
    app = make_app(db, clock, retention_days=1)
    async with await open_client(app) as http:
        client = Client(http, app)
        box = await client.new_mailbox()
        await client.post(box, b"x")
        clock.advance(DAY)
        assert (await app.relay.purge()).items == 0
        clock.advance(3600)
        assert (await app.relay.purge()).items == 1
    app.close()


async def test_periodic_purge_runs_by_itself(db: Db) -> None:
    clock = FakeClock()
    app = make_app(db, clock, retention_days=1, purge_interval_s=0.05)
    async with await open_client(app) as http:
        client = Client(http, app)
        box = await client.new_mailbox()
        await client.post(box, b"old")
        clock.advance(3 * DAY)
        for _ in range(200):
            _, frames = await client.fetch(box, box.cap)
            if not frames:
                break
            await asyncio.sleep(0.02)
        assert frames == []
    app.close()
