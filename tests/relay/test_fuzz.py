"""Hypothesis: random bytes in ids, queries, headers, JSON and frames never cause a 500.

Parsers either return a value or raise the one error type their caller maps to 400; the
whole app, fed random requests, answers every one with a status below 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.errors import MalformedData
from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode, bearer_header, parse_inbox_auth
from relay import codec
from relay.errors import RelayError
from relay.http import RelayApp
from tests.relay.conftest import make_app

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.text(max_size=40))
def test_parse_id(text: str) -> None:
    try:
        assert len(codec.parse_id(text)) == 16
    except RelayError as error:
        assert error.status == 400


@FUZZ
@given(st.text(max_size=20))
def test_parse_chunk_index(text: str) -> None:
    try:
        assert 0 <= codec.parse_chunk_index(text) < 2**31
    except RelayError as error:
        assert error.status == 400


@FUZZ
@given(st.binary(max_size=80) | st.from_regex(rb"(after|limit|wait|upto)=[0-9.e-]{0,22}(&|$)"))
def test_parse_queries(query: bytes) -> None:
    try:
        fetch = codec.parse_fetch_query(query, 30.0)
        assert fetch.after >= 0 and 0 <= fetch.wait_s <= 30 and (fetch.limit or 1) >= 1
    except RelayError as error:
        assert error.status == 400
    try:
        assert codec.parse_upto_query(query) >= 0
    except RelayError as error:
        assert error.status == 400


@FUZZ
@given(
    st.none()
    | st.binary(max_size=120)
    | st.text(max_size=90).map(lambda t: ("Bearer " + t).encode())
)
def test_parse_bearer(value: bytes | None) -> None:
    try:
        assert 16 <= len(codec.parse_bearer(value)) <= 64
    except RelayError as error:
        assert error.status in (400, 403)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


@FUZZ
@given(st.binary(max_size=200) | JSONISH.map(lambda v: json.dumps(v).encode()))
def test_parse_json_fields(body: bytes) -> None:
    fields = {"cap_hash": "b64:32", "size": "uint"}
    try:
        parsed = codec.parse_json_fields(body, fields)
        assert set(parsed) == set(fields)
    except RelayError as error:
        assert error.status == 400


@FUZZ
@given(st.binary(max_size=200))
def test_decode_frames_random(body: bytes) -> None:
    with contextlib.suppress(MalformedData):
        codec.decode_frames(body)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.binary(max_size=50)), max_size=10))
def test_frames_roundtrip(rows: list[tuple[int, bytes]]) -> None:
    assert codec.decode_frames(codec.encode_frames(rows)) == rows


@FUZZ
@given(st.text(max_size=140))
def test_parse_inbox_auth(text: str) -> None:
    try:
        parsed = parse_inbox_auth(text)
        assert len(parsed.signature) == 64
    except MalformedData:
        pass


# ------------------------------------------------------------------ the whole app


@pytest.fixture(scope="module")
def fuzz_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RelayApp, asyncio.AbstractEventLoop, str, bytes]]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    app = make_app(path)
    loop = asyncio.new_event_loop()
    mid, cap = os.urandom(16).hex(), os.urandom(32)
    body = json.dumps(
        {"cap_hash": b64url_encode(cap_hash(cap)), "head": b64url_encode(bytes(32))}
    ).encode()
    status, _ = loop.run_until_complete(call(app, "PUT", f"/v1/mailboxes/{mid}", b"", [], body))
    assert status == 201
    yield app, loop, mid, cap
    app.close()
    loop.close()


async def call(
    app: RelayApp,
    method: str,
    path: str,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    chunk: int = 1000,
) -> tuple[int, bytes]:
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": headers,
    }
    await asyncio.wait_for(app(scope, receive, send), 10)
    if not sent:  # client "disconnected" mid-body: nothing to answer
        return 499, b""
    status = sent[0]["status"]
    assert isinstance(status, int)
    return status, bytes(sent[1]["body"])


SEGMENT = st.sampled_from(
    ["v1", "mailboxes", "inboxes", "blobs", "items", "commits", "chunks", "0", "", "health"]
) | st.text(max_size=40)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"]),
    tail=st.lists(SEGMENT, max_size=3),
    use_mailbox=st.booleans(),
    query=st.binary(max_size=40) | st.from_regex(rb"after=[0-9]{1,3}(&limit=[0-9]{1,3})?"),
    auth=st.none() | st.binary(max_size=100) | st.sampled_from([b"real"]),
    inbox_auth=st.none() | st.binary(max_size=120),
    body=st.binary(max_size=3000),
)
def test_random_requests_never_500(
    fuzz_app: tuple[RelayApp, asyncio.AbstractEventLoop, str, bytes],
    method: str,
    tail: list[str],
    use_mailbox: bool,
    query: bytes,
    auth: bytes | None,
    inbox_auth: bytes | None,
    body: bytes,
) -> None:
    app, loop, mid, cap = fuzz_app
    prefix = ["v1", "mailboxes", mid] if use_mailbox else []
    path = "/" + "/".join(prefix + tail)
    headers: list[tuple[bytes, bytes]] = []
    if auth is not None:
        headers.append((b"authorization", bearer_header(cap).encode() if auth == b"real" else auth))
    if inbox_auth is not None:
        headers.append((b"x-caucus-auth", inbox_auth))
    if "wait" in query.decode("latin-1"):
        query = b""
    status, answer = loop.run_until_complete(call(app, method, path, query, headers, body))
    assert status < 500, (status, answer)
    if status >= 400 and status != 499:
        doc = json.loads(answer)
        assert isinstance(doc["error"], str) and isinstance(doc["detail"], str)
