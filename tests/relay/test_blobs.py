"""Blobs: declared size and chunk count, immutable chunks, capability on every access."""

from __future__ import annotations

import os

import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode
from relay.config import MIB
from tests.relay.conftest import Client, auth, new_id

pytestmark = pytest.mark.anyio


async def new_blob(client: Client, size: int = 3000, chunks: int = 3) -> tuple[str, bytes]:
    bid, cap = new_id(), os.urandom(32)
    response = await client.http.put(
        f"/v1/blobs/{bid}",
        json={"cap_hash": b64url_encode(cap_hash(cap)), "size": size, "chunks": chunks},
    )
    assert response.status_code == 201, response.text
    return f"/v1/blobs/{bid}", cap


async def test_upload_download_delete(client: Client) -> None:
    path, cap = await new_blob(client)
    parts = [os.urandom(1000) for _ in range(3)]
    for index, part in enumerate(parts):
        response = await client.http.put(f"{path}/chunks/{index}", content=part, headers=auth(cap))
        assert response.status_code == 204
    for index, part in enumerate(parts):
        response = await client.http.get(f"{path}/chunks/{index}", headers=auth(cap))
        assert response.status_code == 200 and response.content == part
    assert (await client.http.delete(path, headers=auth(cap))).status_code == 204
    gone = await client.http.get(f"{path}/chunks/0", headers=auth(cap))
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"


async def test_chunks_are_immutable(client: Client) -> None:
    path, cap = await new_blob(client)
    first = os.urandom(100)
    assert (
        await client.http.put(f"{path}/chunks/1", content=first, headers=auth(cap))
    ).status_code == 204
    same = await client.http.put(f"{path}/chunks/1", content=first, headers=auth(cap))
    assert same.status_code == 204
    other = await client.http.put(f"{path}/chunks/1", content=b"other", headers=auth(cap))
    assert other.status_code == 409 and other.json()["error"] == "exists"
    assert (await client.http.get(f"{path}/chunks/1", headers=auth(cap))).content == first


async def test_missing_chunk_and_bad_index(client: Client) -> None:
    path, cap = await new_blob(client, chunks=2)
    missing = await client.http.get(f"{path}/chunks/1", headers=auth(cap))
    assert missing.status_code == 404 and missing.json()["error"] == "missing"
    beyond = await client.http.put(f"{path}/chunks/2", content=b"x", headers=auth(cap))
    assert beyond.status_code == 400
    for bad in ("01", "-1", "x", "99999999999"):
        response = await client.http.get(f"{path}/chunks/{bad}", headers=auth(cap))
        assert response.status_code == 400, bad


async def test_wrong_capability(client: Client) -> None:
    path, _cap = await new_blob(client)
    other = os.urandom(32)
    for response in (
        await client.http.put(f"{path}/chunks/0", content=b"x", headers=auth(other)),
        await client.http.get(f"{path}/chunks/0", headers=auth(other)),
        await client.http.delete(path, headers=auth(other)),
    ):
        assert response.status_code == 403


async def test_declaration_limits(client: Client) -> None:
    for size, chunks in ((128 * MIB + 1, 10), (100, 0), (100, 1025)):
        response = await client.http.put(
            f"/v1/blobs/{new_id()}",
            json={"cap_hash": b64url_encode(bytes(32)), "size": size, "chunks": chunks},
        )
        assert response.status_code == 400, (size, chunks)
    bid = new_id()
    body = {"cap_hash": b64url_encode(bytes(32)), "size": 1, "chunks": 1}
    assert (await client.http.put(f"/v1/blobs/{bid}", json=body)).status_code == 201
    assert (await client.http.put(f"/v1/blobs/{bid}", json=body)).status_code == 409


async def test_chunks_cannot_exceed_declared_size(client: Client) -> None:
    path, cap = await new_blob(client, size=100, chunks=2)
    # allowance: size + 64 bytes of overhead per chunk = 228
    assert (
        await client.http.put(f"{path}/chunks/0", content=bytes(150), headers=auth(cap))
    ).status_code == 204
    over = await client.http.put(f"{path}/chunks/1", content=bytes(100), headers=auth(cap))
    assert over.status_code == 413
    assert (
        await client.http.put(f"{path}/chunks/1", content=bytes(78), headers=auth(cap))
    ).status_code == 204
