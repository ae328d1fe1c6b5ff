"""The relay's generation id: made once with the database, kept across restarts, served by
/health and every fetch, and exposed by the client's FetchResult."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import nacl.signing
import pytest

from app.core.relay_client import RelayClient
from crypto.errors import MalformedData
from crypto.relay_auth import b64url_encode, inbox_auth_header
from relay import generation, schema

from .conftest import Client, make_app, new_id, open_client

pytestmark = pytest.mark.anyio

HEX32 = re.compile(r"[0-9a-f]{32}")


async def test_health_and_fetches_carry_one_generation(client: Client) -> None:
    health = (await client.http.get("/health")).json()
    assert HEX32.fullmatch(health["generation"])
    box = await client.new_mailbox()
    await client.post(box, b"item")
    response, frames = await client.fetch(box, box.cap)
    assert frames == [(1, b"item")]
    assert response.headers["x-caucus-generation"] == health["generation"]


async def test_inbox_fetches_carry_the_generation(client: Client) -> None:
    key = nacl.signing.SigningKey.generate()
    iid = new_id()
    put = await client.http.put(
        f"/v1/inboxes/{iid}", json={"auth_key": b64url_encode(bytes(key.verify_key))}
    )
    assert put.status_code == 201
    header = inbox_auth_header(key, bytes.fromhex(iid), int(client.app.relay.clock() * 1000))
    got = await client.http.get(f"/v1/inboxes/{iid}/items", headers={"X-Caucus-Auth": header})
    assert got.status_code == 200
    assert got.headers["x-caucus-generation"] == client.app.relay.generation


async def test_generation_survives_a_restart_and_differs_between_databases(
    tmp_path: Path,
) -> None:
    seen = []
    for folder in ("a", "a", "b"):
        (tmp_path / folder).mkdir(exist_ok=True)
        app = make_app(tmp_path / folder)
        async with await open_client(app) as http:
            seen.append((await http.get("/health")).json()["generation"])
        app.close()
    assert seen[0] == seen[1] != seen[2]


def test_a_schema_1_database_gets_a_generation_when_migrated(tmp_path: Path) -> None:
    db = tmp_path / "relay.db"
    conn = schema.connect(db)
    version, sql = schema.migrations()[0]
    conn.executescript(
        f"CREATE TABLE schema_version (version INTEGER NOT NULL);\nBEGIN;\n{sql}\n"
        f"INSERT INTO schema_version VALUES ({version});\nCOMMIT;"
    )
    conn.close()
    app = make_app(tmp_path)
    try:
        app.relay.start()
        assert app.relay.schema_version == schema.latest_version()
        assert HEX32.fullmatch(app.relay.generation)
    finally:
        app.close()
    conn = schema.connect(db)
    assert generation.read(conn) == app.relay.generation
    conn.close()


async def test_client_fetch_result_exposes_the_generation(client: Client) -> None:
    box = await client.new_mailbox()
    await client.post(box, b"one")
    relay_client = RelayClient(
        "http://relay.test", transport=httpx.ASGITransport(app=client.app), retries=0
    )
    try:
        result = await relay_client.fetch(bytes.fromhex(box.mid), box.cap, 0)
    finally:
        await relay_client.aclose()
    assert result.items == ((1, b"one"),)
    assert result.generation == client.app.relay.generation


@pytest.mark.parametrize("value", ["", "XYZ", "0" * 31, "A" * 32, "0" * 32 + " "])
async def test_client_refuses_a_malformed_generation(client: Client, value: str) -> None:
    box = await client.new_mailbox()
    inner = httpx.ASGITransport(app=client.app)

    class Rewrite(httpx.AsyncBaseTransport):
        """A relay that sends a malformed X-Caucus-Generation."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await inner.handle_async_request(request)
            await response.aread()
            headers = [(k, v) for k, v in response.headers.items() if k != "x-caucus-generation"]
            headers.append(("x-caucus-generation", value))
            return httpx.Response(response.status_code, headers=headers, content=response.content)

    relay_client = RelayClient("http://relay.test", transport=Rewrite(), retries=0)
    try:
        with pytest.raises(MalformedData):
            await relay_client.fetch(bytes.fromhex(box.mid), box.cap, 0)
    finally:
        await relay_client.aclose()
