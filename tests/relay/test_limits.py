"""Limits: body sizes (413), rate limits (429 with Retry-After), quota (507), fetch caps."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode
from relay.config import KIB, MIB
from tests.relay.conftest import Client, Db, FakeClock, auth, make_app, new_id, open_client

pytestmark = pytest.mark.anyio


async def test_item_over_256_kib_is_too_large(client: Client) -> None:
    box = await client.new_mailbox()
    ok = await client.post(box, b"x" * (256 * KIB))
    assert ok.status_code == 200
    big = await client.post(box, b"x" * (256 * KIB + 1))
    assert big.status_code == 413 and big.json()["error"] == "too_large"


async def test_streamed_body_without_length_is_cut_off(client: Client) -> None:
    """Without Content-Length the relay stops reading once the limit is passed."""
    box = await client.new_mailbox()
    produced = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(64):
            produced += 1
            yield b"y" * (64 * KIB)

    response = await client.http.post(box.path + "/items", content=chunks(), headers=auth(box.cap))
    assert response.status_code == 413
    assert produced < 64


async def test_other_body_limits(client: Client) -> None:
    box = await client.new_mailbox()
    commit = await client.http.post(
        box.path + "/commits", content=bytes(96 + 4 * MIB + 1), headers=auth(box.cap)
    )
    assert commit.status_code == 413
    inbox = await client.http.post(f"/v1/inboxes/{new_id()}/items", content=bytes(4 * MIB + 1))
    assert inbox.status_code == 413
    json_body = await client.http.put(f"/v1/mailboxes/{new_id()}", content=b" " * (8 * KIB))
    assert json_body.status_code == 413
    chunk = await client.http.put(
        f"/v1/blobs/{new_id()}/chunks/0", content=bytes(MIB + 65), headers=auth(os.urandom(32))
    )
    assert chunk.status_code == 413


async def test_rate_limit_per_capability(tmp_path: Path) -> None:
    clock = FakeClock()
    app = make_app(tmp_path, clock, rate_per_s=1.0, rate_burst=3.0)
    async with await open_client(app) as http:
        client = Client(http, app)
        box = await client.new_mailbox()
        other = await client.new_mailbox()
        codes = [(await client.post(box, b"x")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = await client.post(box, b"x")
        assert limited.json()["error"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        # another capability has its own bucket
        assert (await client.post(other, b"x")).status_code == 200
        # and time refills the bucket
        clock.advance(2.0)
        assert (await client.post(box, b"x")).status_code == 200
    app.close()


async def test_creations_share_one_bucket(tmp_path: Path) -> None:
    clock = FakeClock()
    app = make_app(tmp_path, clock, create_per_s=1 / 60, create_burst=2.0)
    async with await open_client(app) as http:

        def body() -> dict[str, str]:
            return {"cap_hash": b64url_encode(os.urandom(32)), "head": b64url_encode(bytes(32))}

        assert (await http.put(f"/v1/mailboxes/{new_id()}", json=body())).status_code == 201
        inbox = await http.put(
            f"/v1/inboxes/{new_id()}", json={"auth_key": b64url_encode(os.urandom(32))}
        )
        assert inbox.status_code == 201
        third = await http.put(f"/v1/mailboxes/{new_id()}", json=body())
        assert third.status_code == 429
        assert int(third.headers["retry-after"]) > 1
        clock.advance(61)
        assert (await http.put(f"/v1/mailboxes/{new_id()}", json=body())).status_code == 201
    app.close()


async def test_inbox_writes_rate_limited_per_inbox(tmp_path: Path) -> None:
    app = make_app(tmp_path, FakeClock(), rate_per_s=0.01, rate_burst=2.0)
    async with await open_client(app) as http:
        iid = new_id()
        await http.put(f"/v1/inboxes/{iid}", json={"auth_key": b64url_encode(os.urandom(32))})
        codes = [
            (await http.post(f"/v1/inboxes/{iid}/items", content=b"s")).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
    app.close()


async def test_mailbox_quota(db: Db) -> None:
    app = make_app(db, max_mailbox_bytes=1000)
    async with await open_client(app) as http:
        client = Client(http, app)
        box = await client.new_mailbox()
        assert (await client.post(box, b"a" * 600)).status_code == 200
        full = await client.post(box, b"b" * 600)
        assert full.status_code == 507 and full.json()["error"] == "quota_exceeded"
        assert (await client.post(box, b"c" * 400)).status_code == 200
        commit_body = os.urandom(96) + b"d"
        commit = await http.post(box.path + "/commits", content=commit_body, headers=auth(box.cap))
        # head check runs before the quota check, so use the real head
        assert commit.status_code == 409
        real = box.head + os.urandom(32) + cap_hash(os.urandom(32)) + b"d"
        commit = await http.post(box.path + "/commits", content=real, headers=auth(box.cap))
        assert commit.status_code == 507
    app.close()


async def test_fetch_is_capped_by_items_and_bytes(db: Db) -> None:
    app = make_app(db, max_fetch_items=3, max_fetch_bytes=2500)
    async with await open_client(app) as http:
        client = Client(http, app)
        box = await client.new_mailbox()
        for _ in range(5):
            await client.post(box, b"z" * 1000)
        response, frames = await client.fetch(box, box.cap, limit=50)
        assert [seq for seq, _ in frames] == [1, 2]  # 8 MiB-style byte cap hit first
        assert response.headers["x-caucus-last"] == "5"
        small = [await client.post(box, b"s") for _ in range(5)]
        assert all(r.status_code == 200 for r in small)
        _, frames = await client.fetch(box, box.cap, after=5)
        assert [seq for seq, _ in frames] == [6, 7, 8]
        # a single item larger than the byte cap still comes through alone
        app2_box = await client.new_mailbox()
        await client.post(app2_box, b"L" * 3000)
        _, frames = await client.fetch(app2_box, app2_box.cap)
        assert len(frames) == 1
    app.close()
