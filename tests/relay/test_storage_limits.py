"""Nobody can fill the relay's disk: small inbox quotas, a cap on the whole database and
a floor of free disk space, each refused with 507 and a JSON error."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from crypto.relay_auth import b64url_encode
from relay.config import KIB, MIB
from relay.errors import RelayError
from relay.limits import StorageBudget
from tests.relay.conftest import Client, make_app, new_id, open_client

pytestmark = pytest.mark.anyio


async def new_inbox(client: Client) -> str:
    iid = new_id()
    reply = await client.http.put(
        f"/v1/inboxes/{iid}", json={"auth_key": b64url_encode(os.urandom(32))}
    )
    assert reply.status_code == 201
    return f"/v1/inboxes/{iid}/items"


async def test_inbox_quota_is_small_in_bytes_and_items(client: Client) -> None:
    """Defaults: 8 MiB per inbox, and at most 256 items however small."""
    big = await new_inbox(client)
    for _ in range(2):
        assert (await client.http.post(big, content=bytes(4 * MIB))).status_code == 200
    full = await client.http.post(big, content=b"x")
    assert full.status_code == 507 and full.json()["error"] == "quota_exceeded"

    many = await new_inbox(client)
    codes = [(await client.http.post(many, content=b"s")).status_code for _ in range(257)]
    assert codes == [200] * 256 + [507]


async def test_database_cap_refuses_writes_across_inboxes(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_db_bytes=2 * MIB)
    async with await open_client(app) as http:
        client = Client(http, app)
        stored = 0
        refused = None
        for _ in range(20):
            path = await new_inbox(client)
            for _ in range(4):
                reply = await http.post(path, content=os.urandom(64 * KIB))
                if reply.status_code != 200:
                    refused = reply
                    break
                stored += 64 * KIB
            if refused is not None:
                break
        assert refused is not None and refused.status_code == 507
        assert refused.json() == {"error": "storage_full", "detail": "the relay's storage is full"}
        assert MIB <= stored <= 2 * MIB
        assert (await http.get("/health")).status_code == 200  # reads still answer
    app.close()
    conn = sqlite3.connect(tmp_path / "relay.db")
    pages, free_pages, page_size = (
        conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("page_count", "freelist_count", "page_size")
    )
    conn.close()
    assert (pages - free_pages) * page_size <= 2 * MIB + 128 * KIB  # cap plus page overhead


async def test_disk_floor_refuses_every_write(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    app = make_app(tmp_path, min_free_disk_bytes=free + 1024 * MIB)
    async with await open_client(app) as http:
        mailbox = await http.put(
            f"/v1/mailboxes/{new_id()}",
            json={"cap_hash": b64url_encode(os.urandom(32)), "head": b64url_encode(bytes(32))},
        )
        assert mailbox.status_code == 507
        assert mailbox.json()["detail"] == "the relay's disk is nearly full"
        assert (await http.get("/health")).status_code == 200
    app.close()


def test_budget_counts_writes_between_measurements_and_remeasures() -> None:
    now = [0.0]
    used = [1000]
    budget = StorageBudget(
        10_000, 0, lambda: (used[0], 10**12), overhead=0, interval_s=1.0, monotonic=lambda: now[0]
    )
    budget.charge(4000)
    budget.charge(4000)
    with pytest.raises(RelayError) as info:
        budget.charge(4000)  # 1000 measured + 8000 pending + 4000 > 10000
    assert info.value.code == "storage_full" and info.value.status == 507
    used[0] = 2000  # deletions and retention freed space; seen at the next measurement
    now[0] = 1.0
    budget.charge(4000)
    budget.charge(4000)
