"""Framing: routing, 404/405, malformed input answers 400 with the JSON error shape."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from crypto.relay_auth import b64url_encode
from relay.http import _ROUTES
from tests.relay.conftest import Client, auth, new_id

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/mailboxes", "/v2/mailboxes/" + "0" * 32, "/health/", "/v1/x/y"]
)
async def test_unknown_paths_are_not_found(client: Client, path: str) -> None:
    response = await client.http.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no such endpoint"}


async def test_wrong_method_is_405_with_allow(client: Client) -> None:
    response = await client.http.patch(f"/v1/mailboxes/{new_id()}/items")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"] == "method_not_allowed"
    assert (await client.http.post("/health")).status_code == 405


@pytest.mark.parametrize(
    "bad_id", ["0" * 31, "0" * 33, "A" * 32, "g" * 32, "%20" * 10, "0" * 30 + "-1"]
)
async def test_malformed_ids_are_bad_request(client: Client, bad_id: str) -> None:
    for method, path in [
        ("PUT", f"/v1/mailboxes/{bad_id}"),
        ("POST", f"/v1/mailboxes/{bad_id}/items"),
        ("GET", f"/v1/inboxes/{bad_id}/items"),
        ("PUT", f"/v1/blobs/{bad_id}"),
        ("GET", f"/v1/blobs/{bad_id}/chunks/0"),
    ]:
        response = await client.http.request(method, path, headers=auth(os.urandom(32)))
        assert response.status_code == 400, (method, path)
        assert response.json()["error"] == "bad_request"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"cap_hash": "AAAA"}',
        json.dumps(
            {"cap_hash": b64url_encode(bytes(31)), "head": b64url_encode(bytes(32))}
        ).encode(),
        json.dumps({"cap_hash": "+/+/" * 11, "head": b64url_encode(bytes(32))}).encode(),
        json.dumps({"cap_hash": 5, "head": b64url_encode(bytes(32))}).encode(),
        json.dumps(
            {"cap_hash": b64url_encode(bytes(32)), "head": b64url_encode(bytes(32)), "x": 1}
        ).encode(),
        b"\xff\xfe{}",
        b"[" * 3000,
    ],
)
async def test_malformed_json_is_bad_request(client: Client, body: bytes) -> None:
    response = await client.http.put(f"/v1/mailboxes/{new_id()}", content=body)
    assert response.status_code in (400, 413)
    assert response.json()["error"] in ("bad_request", "too_large")


@pytest.mark.parametrize(
    "query",
    [
        "after=-1",
        "after=01",
        "after=x",
        "wait=31",
        "wait=1e3",
        "limit=0",
        "after=1&after=2",
        "bogus=1",
        "after",
        "after=99999999999999999999",
    ],
)
async def test_malformed_query_is_bad_request(client: Client, query: str) -> None:
    box = await client.new_mailbox()
    response = await client.http.get(f"{box.path}/items?{query}", headers=auth(box.cap))
    assert response.status_code == 400, query


async def test_padded_base64_is_accepted(client: Client) -> None:
    box = await client.new_mailbox()
    padded = "Bearer " + b64url_encode(box.cap) + "="
    response = await client.http.post(
        box.path + "/items", content=b"x", headers={"Authorization": padded}
    )
    assert response.status_code == 200


async def test_bad_content_length_is_refused(client: Client) -> None:
    box = await client.new_mailbox()
    status, _headers, body = await raw_call(
        client,
        "POST",
        box.path + "/items",
        [(b"authorization", auth(box.cap)["Authorization"].encode()), (b"content-length", b"x")],
        b"",
    )
    assert status == 400 and json.loads(body)["error"] == "bad_request"


async def test_openapi_lists_every_route(client: Client) -> None:
    doc = (await client.http.get("/openapi.json")).json()
    for pattern, methods in _ROUTES:
        parts = []
        for piece in pattern:
            if isinstance(piece, str):
                parts.append(piece)
            else:
                parts.append("{i}" if parts[-1] == "chunks" else f"{{{_param(parts)}}}")
        path = "/" + "/".join(parts)
        assert path in doc["paths"], path
        assert {m.lower() for m in methods} <= set(doc["paths"][path]), path


def _param(parts: list[str]) -> str:
    return {"mailboxes": "mid", "inboxes": "iid", "blobs": "bid"}[parts[-1]]


async def raw_call(
    client: Client, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Call the ASGI app directly, for headers httpx would not let us send."""
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": headers,
    }
    await client.app(scope, receive, send)
    start, body_msg = sent
    return int(start["status"]), list(start["headers"]), bytes(body_msg["body"])
