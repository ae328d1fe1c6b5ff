"""Personal inboxes: anyone delivers, only the auth key's holder reads or deletes."""

from __future__ import annotations

import os
import time

import httpx
import nacl.signing
import pytest

from crypto.relay_auth import b64url_encode, inbox_auth_header
from relay.codec import decode_frames
from tests.relay.conftest import Client, Db, FakeClock, make_app, new_id, open_client

pytestmark = pytest.mark.anyio


def now_ms() -> int:
    return int(time.time() * 1000)


async def make_inbox(http: httpx.AsyncClient, key: nacl.signing.SigningKey) -> str:
    iid = new_id()
    response = await http.put(
        f"/v1/inboxes/{iid}", json={"auth_key": b64url_encode(bytes(key.verify_key))}
    )
    assert response.status_code == 201, response.text
    return iid


def signed(key: nacl.signing.SigningKey, iid: str, at_ms: int | None = None) -> dict[str, str]:
    return {"X-Caucus-Auth": inbox_auth_header(key, bytes.fromhex(iid), at_ms or now_ms())}


async def test_deliver_read_delete(client: Client) -> None:
    key = nacl.signing.SigningKey.generate()
    iid = await make_inbox(client.http, key)
    again = await client.http.put(f"/v1/inboxes/{iid}", json={"auth_key": b64url_encode(bytes(32))})
    assert again.status_code == 409 and again.json()["error"] == "exists"

    for n in range(3):
        response = await client.http.post(f"/v1/inboxes/{iid}/items", content=b"sealed %d" % n)
        assert response.json() == {"seq": n + 1}

    response = await client.http.get(f"/v1/inboxes/{iid}/items", headers=signed(key, iid))
    assert response.status_code == 200
    assert decode_frames(response.content) == [(n + 1, b"sealed %d" % n) for n in range(3)]
    assert response.headers["x-caucus-last"] == "3"

    deleted = await client.http.delete(
        f"/v1/inboxes/{iid}/items", params={"upto": 2}, headers=signed(key, iid)
    )
    assert deleted.status_code == 204
    response = await client.http.get(f"/v1/inboxes/{iid}/items", headers=signed(key, iid))
    assert decode_frames(response.content) == [(3, b"sealed 2")]
    # seq numbers keep growing after deletion
    response = await client.http.post(f"/v1/inboxes/{iid}/items", content=b"next")
    assert response.json() == {"seq": 4}


async def test_wrong_key_is_forbidden(client: Client) -> None:
    owner, stranger = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    iid = await make_inbox(client.http, owner)
    response = await client.http.get(f"/v1/inboxes/{iid}/items", headers=signed(stranger, iid))
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    response = await client.http.delete(
        f"/v1/inboxes/{iid}/items", params={"upto": 5}, headers=signed(stranger, iid)
    )
    assert response.status_code == 403


async def test_stale_timestamp_is_refused(client: Client) -> None:
    key = nacl.signing.SigningKey.generate()
    iid = await make_inbox(client.http, key)
    for skew_ms in (-301_000, 301_000):
        response = await client.http.get(
            f"/v1/inboxes/{iid}/items", headers=signed(key, iid, now_ms() + skew_ms)
        )
        assert response.status_code == 403 and response.json()["error"] == "stale_auth"
    fresh = await client.http.get(
        f"/v1/inboxes/{iid}/items", headers=signed(key, iid, now_ms() - 200_000)
    )
    assert fresh.status_code == 200


async def test_signature_for_one_inbox_does_not_open_another(client: Client) -> None:
    """Same auth key on two inboxes: a header signed for A is refused on B."""
    key = nacl.signing.SigningKey.generate()
    first = await make_inbox(client.http, key)
    second = await make_inbox(client.http, key)
    replayed = signed(key, first)
    response = await client.http.get(f"/v1/inboxes/{second}/items", headers=replayed)
    assert response.status_code == 403
    assert (
        await client.http.get(f"/v1/inboxes/{first}/items", headers=replayed)
    ).status_code == 200


async def test_missing_or_malformed_auth(client: Client) -> None:
    key = nacl.signing.SigningKey.generate()
    iid = await make_inbox(client.http, key)
    missing = await client.http.get(f"/v1/inboxes/{iid}/items")
    assert missing.status_code == 403
    for bad in ("", "AAAA", "!" * 96, b64url_encode(os.urandom(71)), b64url_encode(os.urandom(73))):
        response = await client.http.get(f"/v1/inboxes/{iid}/items", headers={"X-Caucus-Auth": bad})
        assert response.status_code == 400, bad
    upto_missing = await client.http.delete(f"/v1/inboxes/{iid}/items", headers=signed(key, iid))
    assert upto_missing.status_code == 400


async def test_unknown_inbox(client: Client) -> None:
    key = nacl.signing.SigningKey.generate()
    iid = new_id()
    assert (await client.http.post(f"/v1/inboxes/{iid}/items", content=b"x")).status_code == 404
    response = await client.http.get(f"/v1/inboxes/{iid}/items", headers=signed(key, iid))
    assert response.status_code == 404


async def test_relay_clock_decides_freshness(db: Db) -> None:
    """The window is measured against the relay's (injected) clock, in milliseconds."""
    clock = FakeClock(now=1_700_000_000.0)
    app = make_app(db, clock)
    key = nacl.signing.SigningKey.generate()
    async with await open_client(app) as http:
        iid = await make_inbox(http, key)
        at = int(clock.now * 1000)
        assert (
            await http.get(f"/v1/inboxes/{iid}/items", headers=signed(key, iid, at))
        ).status_code == 200
        clock.advance(299)
        assert (
            await http.get(f"/v1/inboxes/{iid}/items", headers=signed(key, iid, at))
        ).status_code == 200
        clock.advance(2)
        response = await http.get(f"/v1/inboxes/{iid}/items", headers=signed(key, iid, at))
        assert response.status_code == 403 and response.json()["error"] == "stale_auth"
        # The refusal says the relay's time, so a client can tell its person by how much
        # their clock is off (301 s behind here).
        assert response.json()["relay_time_ms"] == int(clock.now * 1000)
        assert response.json()["relay_time_ms"] - at == 301_000
    app.close()
