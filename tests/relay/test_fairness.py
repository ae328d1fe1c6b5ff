"""One member flooding a group's capability does not starve another member.

The relay cannot tell members apart, so it keys the old per-capability bucket by
connection as well, under a group bucket ``group_factor`` times larger (relay/limits.py).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from app.core.errors import RelayBusy, RelayUnavailable
from app.core.relay_client import RelayClient
from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode, bearer_header
from relay.config import RelayConfig
from relay.embedded import EmbeddedRelay
from tests.relay.conftest import Client, FakeClock, Mailbox, make_app

pytestmark = pytest.mark.anyio

DEFAULT_RATES = {
    "rate_per_s": 50.0,
    "rate_burst": 200.0,
    "read_rate_per_s": 200.0,
    "read_burst": 2000.0,
}


def member(app: object, port: int) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", port))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://relay.test")


async def test_honest_member_posts_while_another_floods(tmp_path: Path) -> None:
    """The reviewers' case: 18 of 20 honest posts got 429 with one bucket per capability."""
    app = make_app(tmp_path, FakeClock(), **DEFAULT_RATES)  # time stands still: no refill
    async with member(app, 1001) as flooder_http, member(app, 1002) as honest_http:
        box: Mailbox = await Client(flooder_http, app).new_mailbox()
        flooder, honest = Client(flooder_http, app), Client(honest_http, app)
        stop = asyncio.Event()
        flood_codes: list[int] = []

        async def flood() -> None:
            while not stop.is_set():
                flood_codes.append((await flooder.post(box, b"spam")).status_code)
                await asyncio.sleep(0)

        task = asyncio.ensure_future(flood())
        try:
            while flood_codes.count(429) < 50:  # the flooder has emptied its bucket
                await asyncio.sleep(0)
            honest_codes = [(await honest.post(box, b"real")).status_code for _ in range(20)]
        finally:
            stop.set()
            await task
    assert honest_codes == [200] * 20
    assert flood_codes.count(200) == 200  # the flooder got its own burst and no more
    app.close()


async def test_group_bucket_backstops_many_connections(tmp_path: Path) -> None:
    """Flooding from more connections than the group factor drains the group bucket;
    the honest member is then told when to retry, and gets through once it refills."""
    clock = FakeClock()
    app = make_app(tmp_path, clock, rate_per_s=1.0, rate_burst=4.0, group_factor=2.0)
    clients = [member(app, 2000 + n) for n in range(4)]
    try:
        box = await Client(clients[0], app).new_mailbox()
        codes = [
            (await Client(http, app).post(box, b"x")).status_code
            for http in clients[:3]
            for _ in range(4)
        ]
        assert codes.count(200) == 8  # 2 x burst: the group bucket
        honest = await Client(clients[3], app).post(box, b"real")
        assert honest.status_code == 429 and int(honest.headers["retry-after"]) >= 1
        clock.advance(float(honest.headers["retry-after"]))
        assert (await Client(clients[3], app).post(box, b"real")).status_code == 200
    finally:
        for http in clients:
            await http.aclose()
        app.close()


async def test_client_retries_a_busy_relay_and_reports_busy(tmp_path: Path) -> None:
    """HTTP 429 is retried after Retry-After and, if it lasts, reported as busy."""
    clock = FakeClock()
    app = make_app(tmp_path, clock, rate_per_s=1.0, rate_burst=1.0)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def pass_time(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://relay.test") as http:
        box = await Client(http, app).new_mailbox()
    stuck = RelayClient("http://relay.test", transport=transport, retries=2, sleep=sleep)
    assert await stuck.post_item(bytes.fromhex(box.mid), box.cap, b"first") == 1
    with pytest.raises(RelayBusy) as info:
        await stuck.post_item(bytes.fromhex(box.mid), box.cap, b"second")
    assert isinstance(info.value, RelayUnavailable)  # callers keep treating it as "later"
    assert "busy (HTTP 429)" in str(info.value) and "unreachable" not in str(info.value)
    assert waits == [1.0, 1.0]  # Retry-After honoured, within the retry budget
    await stuck.aclose()

    waits.clear()
    patient = RelayClient("http://relay.test", transport=transport, retries=2, sleep=pass_time)
    assert await patient.post_item(bytes.fromhex(box.mid), box.cap, b"second") == 2
    assert waits == [1.0]
    await patient.aclose()
    app.close()


@pytest.mark.socket
@pytest.mark.timeout(60)
def test_connections_are_told_apart_over_a_real_socket(tmp_path: Path) -> None:
    """Under uvicorn the per-connection key is the TCP connection itself."""
    config = RelayConfig(db_path=tmp_path / "relay.db", rate_per_s=0.5, rate_burst=30.0)
    with (
        EmbeddedRelay(config.db_path, config=config) as relay,
        httpx.Client(base_url=relay.url, timeout=10) as flooder,
        httpx.Client(base_url=relay.url, timeout=10) as honest,
    ):
        mid, cap = os.urandom(16).hex(), os.urandom(32)
        body = {"cap_hash": b64url_encode(cap_hash(cap)), "head": b64url_encode(bytes(32))}
        assert flooder.put(f"/v1/mailboxes/{mid}", json=body).status_code == 201
        headers = {"Authorization": bearer_header(cap)}
        path = f"/v1/mailboxes/{mid}/items"
        flood = [
            flooder.post(path, content=b"spam", headers=headers).status_code for _ in range(40)
        ]
        assert 429 in flood
        assert [
            honest.post(path, content=b"real", headers=headers).status_code for _ in range(20)
        ] == [200] * 20
