"""Prometheus metrics: counts by route template and status, latencies, appends, stored
bytes and waiting long-polls, served on their own listener and free of identifiers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode, bearer_header
from relay.http import RelayApp
from relay.metrics import MetricsServer

from .conftest import Client, make_app, open_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def metered(tmp_path: Path) -> AsyncIterator[tuple[Client, MetricsServer]]:
    app = make_app(tmp_path, metrics=True, metrics_port=0)
    assert app.metrics is not None
    server = MetricsServer(app.metrics, "127.0.0.1", 0)
    try:
        async with await open_client(app) as http:
            yield Client(http, app), server
    finally:
        server.close()
        app.close()


async def scrape(server: MetricsServer) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(server.url)
    assert response.status_code == 200
    return response.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly these labels; 0.0 when absent."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return 0.0


async def test_metrics_count_requests_appends_and_bytes(
    metered: tuple[Client, MetricsServer],
) -> None:
    client, server = metered
    box = await client.new_mailbox()
    for _ in range(3):
        assert (await client.post(box, b"y" * 100)).status_code == 200
    assert (await client.post(box, b"z", cap=b"\x01" * 32)).status_code == 403
    assert (await client.fetch(box, box.cap))[0].status_code == 200
    assert (await client.http.get("/nowhere")).status_code == 404
    text = await scrape(server)
    items = "/v1/mailboxes/{id}/items"
    assert (
        sample(text, "caucus_relay_requests_total", route=items, method="POST", status="200") == 3
    )
    assert (
        sample(text, "caucus_relay_requests_total", route=items, method="POST", status="403") == 1
    )
    assert sample(text, "caucus_relay_requests_total", route=items, method="GET", status="200") == 1
    assert (
        sample(text, "caucus_relay_requests_total", route="unmatched", method="other", status="404")
        == 1
    )
    assert sample(text, "caucus_relay_items_appended_total") == 3
    assert sample(text, "caucus_relay_stored_bytes") == 300
    assert (
        sample(text, "caucus_relay_request_duration_seconds_count", route=items, method="POST") == 4
    )
    bucket = "caucus_relay_request_duration_seconds_bucket"
    assert sample(text, bucket, le="+Inf", route=items, method="POST") == 4
    assert sample(text, bucket, le="30.0", route=items, method="POST") == 4
    assert sample(text, "caucus_relay_long_polls_waiting") == 0


async def test_metrics_show_waiting_long_polls(metered: tuple[Client, MetricsServer]) -> None:
    client, server = metered
    box = await client.new_mailbox()
    poll = asyncio.ensure_future(client.fetch(box, box.cap, 0, wait=30))
    for _ in range(500):  # bounded: until the fetch is registered as waiting
        if client.app.relay.waiting:
            break
        await asyncio.sleep(0.01)
    assert sample(await scrape(server), "caucus_relay_long_polls_waiting") == 1
    await client.post(box, b"wake")
    _response, frames = await poll
    assert frames == [(1, b"wake")]
    assert sample(await scrape(server), "caucus_relay_long_polls_waiting") == 0


async def test_metrics_hold_no_identifiers(metered: tuple[Client, MetricsServer]) -> None:
    client, server = metered
    box = await client.new_mailbox()
    await client.post(box, b"secret item")
    await client.http.get(f"/v1/blobs/{box.mid}/chunks/7", headers={"Authorization": "x"})
    await client.http.request("BREW", box.path)
    text = await scrape(server)
    for needle in (
        box.mid,
        bearer_header(box.cap).split()[-1],
        b64url_encode(cap_hash(box.cap)),
        "BREW",
        "127.0.0.1",
        "secret",
    ):
        assert needle not in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert routes <= {
        "unmatched",
        "/v1/mailboxes/{id}",
        "/v1/mailboxes/{id}/items",
        "/v1/blobs/{id}/chunks/{index}",
    }


async def test_metrics_are_off_by_default_and_never_on_the_public_port(
    app: RelayApp, client: Client
) -> None:
    assert app.metrics is None
    assert (await client.http.get("/metrics")).status_code == 404
    metered = make_app(Path(app.relay.config.db_path).parent / "m", metrics=True)
    async with await open_client(metered) as http:
        assert (await http.get("/metrics")).status_code == 404
    metered.close()
