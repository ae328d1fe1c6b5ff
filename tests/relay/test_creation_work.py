"""Creations under load: free while quiet, proof of work when busy, and a real client's
create succeeds while an anonymous caller floods creations without work."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.relay_client import RelayClient
from crypto.relay_auth import b64url_decode, b64url_encode
from crypto.relay_work import (
    WorkChallenge,
    WorkKind,
    WorkStamp,
    solve_work,
    work_bits,
    work_header,
)
from relay.errors import RelayError
from relay.pow import CreationGate, WorkSettings
from tests.relay.conftest import FakeClock, make_app, new_id, open_client

pytestmark = pytest.mark.anyio

# small bits keep the tests fast; the mechanism is the same at any size
BUSY: dict[str, object] = {
    "create_per_s": 1 / 3600,
    "create_burst": 3.0,
    "work_min_bits": 6,
    "work_max_bits": 16,
}


def mailbox_body() -> dict[str, str]:
    return {"cap_hash": b64url_encode(os.urandom(32)), "head": b64url_encode(bytes(32))}


def challenge_of(response: httpx.Response) -> WorkChallenge:
    doc = response.json()
    assert doc["error"] == "work_required"
    return WorkChallenge(doc["work_bits"], doc["work_bucket"], b64url_decode(doc["work_seed"]))


async def test_quiet_relay_asks_no_work_then_busy_relay_does(tmp_path: Path) -> None:
    clock = FakeClock()
    app = make_app(tmp_path, clock, **BUSY)
    async with await open_client(app) as http:
        assert (await http.get("/health")).json()["work_bits"] == 0
        for _ in range(3):
            assert (
                await http.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body())
            ).status_code == 201
        refused = await http.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body())
        assert refused.status_code == 429
        challenge = challenge_of(refused)
        assert challenge.bits == 6
        health = (await http.get("/health")).json()
        assert health["work_bits"] == 6 and health["work_bucket"] == challenge.bucket

        mid = new_id()
        stamp = solve_work(challenge, WorkKind.MAILBOX, bytes.fromhex(mid))
        assert stamp is not None
        headers = {"x-caucus-work": work_header(stamp)}
        ok = await http.put(f"/v1/mailboxes/{mid}", json=mailbox_body(), headers=headers)
        assert ok.status_code == 201

        # the same stamp does not create anything else: bound to kind and id. (A 6-bit
        # stamp fits another resource by chance once in 64; pick ones it does not fit.)
        def fits(kind: WorkKind, resource: str) -> bool:
            bits = work_bits(challenge.seed, stamp, kind, bytes.fromhex(resource))
            return bits >= challenge.bits

        other_id = next(i for i in iter(new_id, None) if not fits(WorkKind.MAILBOX, i))
        other = await http.put(f"/v1/mailboxes/{other_id}", json=mailbox_body(), headers=headers)
        assert other.status_code == 429 and other.json()["error"] == "work_required"
        inbox_id = mid if not fits(WorkKind.INBOX, mid) else None
        if inbox_id is not None:  # same id, other kind: refused unless it fits by chance
            inbox = await http.put(
                f"/v1/inboxes/{inbox_id}",
                json={"auth_key": b64url_encode(os.urandom(32))},
                headers=headers,
            )
            assert inbox.status_code == 429
        bad = await http.put(
            f"/v1/mailboxes/{new_id()}", json=mailbox_body(), headers={"x-caucus-work": "1.x"}
        )
        assert bad.status_code == 400
    app.close()


async def test_stamp_keeps_its_price_for_two_buckets(tmp_path: Path) -> None:
    clock = FakeClock(now=1_000_000 * 30.0)
    app = make_app(tmp_path, clock, **BUSY, work_allowance=1)
    async with await open_client(app) as http:
        for _ in range(3):
            await http.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body())
        first = challenge_of(await http.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body()))
        # many paid creations in this bucket: the next bucket asks more
        for _ in range(8):
            mid = new_id()
            stamp = solve_work(first, WorkKind.MAILBOX, bytes.fromhex(mid))
            assert stamp is not None
            reply = await http.put(
                f"/v1/mailboxes/{mid}",
                json=mailbox_body(),
                headers={"x-caucus-work": work_header(stamp)},
            )
            assert reply.status_code == 201
        late_id = new_id()
        late = solve_work(first, WorkKind.MAILBOX, bytes.fromhex(late_id))
        assert late is not None
        clock.advance(30)
        dearer = challenge_of(await http.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body()))
        assert dearer.bits == first.bits + 3  # ceil(log2(8 paid / allowance 1))
        # a stamp solved at the old price in the previous bucket is still honoured
        reply = await http.put(
            f"/v1/mailboxes/{late_id}",
            json=mailbox_body(),
            headers={"x-caucus-work": work_header(late)},
        )
        assert reply.status_code == 201
        # two buckets later it has expired, and the answer carries a fresh challenge
        clock.advance(30)
        stale_id = new_id()
        stale = solve_work(first, WorkKind.MAILBOX, bytes.fromhex(stale_id))
        assert stale is not None
        reply = await http.put(
            f"/v1/mailboxes/{stale_id}",
            json=mailbox_body(),
            headers={"x-caucus-work": work_header(stale)},
        )
        assert reply.status_code == 429 and challenge_of(reply).bucket == first.bucket + 2
    app.close()


def test_price_falls_by_one_per_quiet_bucket() -> None:
    gate = CreationGate(WorkSettings(key=bytes(32), allowance=2, min_bits=2, max_bits=12), 1e-9, 1)
    now = 3000.0
    rid = bytes(16)
    gate.admit(WorkKind.BLOB, rid, None, now)  # the one free creation
    challenge = gate.challenge(now)
    assert challenge.bits == 2
    for n in range(16):
        rid = n.to_bytes(16, "big")
        stamp = solve_work(challenge, WorkKind.BLOB, rid)
        assert stamp is not None
        gate.admit(WorkKind.BLOB, rid, work_header(stamp).encode(), now)
    assert gate.challenge(now + 30).bits == 2 + 3  # 16 paid / 2 allowed: 3 more bits
    assert gate.challenge(now + 60).bits == 4  # a quiet bucket: one less
    assert gate.challenge(now + 30 * 100).bits == 2  # never below the minimum


def test_work_bits_counts_leading_zero_bits() -> None:
    challenge = WorkChallenge(10, 7, os.urandom(16))
    rid = os.urandom(16)
    stamp = solve_work(challenge, WorkKind.INBOX, rid)
    assert stamp is not None
    assert work_bits(challenge.seed, stamp, WorkKind.INBOX, rid) >= 10
    assert solve_work(WorkChallenge(40, 7, bytes(16)), WorkKind.INBOX, rid, max_tries=100) is None
    # another kind or id changes the digest
    assert work_bits(challenge.seed, WorkStamp(7, stamp.nonce), WorkKind.BLOB, rid) < 64


async def test_real_client_creates_while_an_attacker_floods(tmp_path: Path) -> None:
    """The reviewers' case: creations flooded without work made every real create 429."""
    app = make_app(tmp_path, None, **BUSY)
    stop = asyncio.Event()
    refused = 0

    async def attacker(http: httpx.AsyncClient) -> None:
        nonlocal refused
        while not stop.is_set():
            reply = await http.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body())
            refused += reply.status_code == 429
            await asyncio.sleep(0)

    async with await open_client(app) as flood:
        client = RelayClient("http://relay.test", transport=httpx.ASGITransport(app=app), retries=4)
        task = asyncio.ensure_future(attacker(flood))
        try:
            while refused < 20:  # the free creations are gone
                await asyncio.sleep(0)
            for _ in range(3):
                await client.create_mailbox(os.urandom(16), os.urandom(32), bytes(32))
                await client.create_inbox(os.urandom(16), os.urandom(32))
                await client.create_blob(os.urandom(16), os.urandom(32), 10, 1)
        finally:
            stop.set()
            await task
            await client.aclose()
    assert refused >= 20
    app.close()


async def test_per_address_creation_limit_is_an_operator_option(tmp_path: Path) -> None:
    app = make_app(tmp_path, create_per_address_per_s=1 / 3600, create_per_address_burst=2.0)
    first = httpx.ASGITransport(app=app, client=("192.0.2.1", 5000))
    second = httpx.ASGITransport(app=app, client=("192.0.2.2", 5000))
    async with (
        httpx.AsyncClient(transport=first, base_url="http://relay.test") as one,
        httpx.AsyncClient(transport=second, base_url="http://relay.test") as two,
    ):
        codes = [
            (await one.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body())).status_code
            for _ in range(3)
        ]
        assert codes == [201, 201, 429]
        assert (await two.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body())).status_code == 201
    app.close()
    # off by default: the same three from one address all succeed
    (tmp_path / "d").mkdir()
    default = make_app(tmp_path / "d")
    async with await open_client(default) as http:
        for _ in range(3):
            assert (
                await http.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body())
            ).status_code == 201
    default.close()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.binary(max_size=40) | st.from_regex(rb"[0-9]{0,14}\.[A-Za-z0-9_=-]{0,14}", fullmatch=True)
)
def test_any_work_header_is_a_clean_answer(value: bytes) -> None:
    gate = CreationGate(WorkSettings(key=bytes(32), min_bits=1, max_bits=4), 1e-9, 1)
    try:
        gate.admit(WorkKind.MAILBOX, bytes(16), value, 1000.0)
    except RelayError as error:
        assert (error.status, error.code) in ((400, "bad_request"), (429, "work_required"))
