"""The relay's uvicorn protocol writes a response's head and body in one transport write
(one system call instead of two: it counts when one commit answers a thousand long-polls).

The protocol is fed real request bytes and the real relay app answers; the transport is a
recording one, since what is checked is how many writes reach it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode, bearer_header
from relay.config import RelayConfig
from relay.connections import ONE_WRITE_MAX, ConnectionLimits, guarded_protocol
from relay.http import create_app
from relay.server import server_config
from tests.relay.conftest import OPEN_LIMITS

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name in ("peername", "sockname") else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def exchange(tmp_path: Path, request: bytes, answers: int = 1) -> list[bytes]:
    """Feed ``request`` to the relay's protocol; the writes once ``answers`` responses
    were complete (bounded)."""
    writes, _closed = await exchange_closing(tmp_path, request, answers)
    return writes


async def exchange_closing(
    tmp_path: Path, request: bytes, answers: int = 1
) -> tuple[list[bytes], bool]:
    """``exchange``, and whether the protocol closed the connection after answering."""
    config = RelayConfig(db_path=tmp_path / "relay.db", **OPEN_LIMITS)  # type: ignore[arg-type]
    app = create_app(config)
    uvicorn_config = server_config(app, config)
    uvicorn_config.load()
    protocol_class = guarded_protocol(ConnectionLimits(10.0, 100))
    from uvicorn.server import ServerState

    completed = asyncio.Event()
    done = 0

    class Counting(protocol_class):  # type: ignore[misc, valid-type]
        def on_response_complete(self) -> None:
            nonlocal done
            super().on_response_complete()
            done += 1
            if done == answers:
                completed.set()

    protocol = Counting(uvicorn_config, ServerState(), {}, asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    try:
        protocol.data_received(request)
        await asyncio.wait_for(completed.wait(), 20)
        closed = transport.closed
    finally:
        protocol.connection_lost(None)
        app.close()
    return transport.writes, closed


async def test_head_and_body_are_one_write(tmp_path: Path) -> None:
    writes = await exchange(tmp_path, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(writes) == 1
    head, _, body = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body.startswith(b'{"status":"ok"')


async def test_each_of_two_pipelined_answers_is_one_write(tmp_path: Path) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    writes = await exchange(tmp_path, request + b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 2)
    assert [w[:12] for w in writes] == [b"HTTP/1.1 200", b"HTTP/1.1 404"]
    assert all(w.endswith(b"}") for w in writes)


async def test_100_continue_is_written_before_the_answer(tmp_path: Path) -> None:
    body = b'{"auth_key":"' + b"A" * 43 + b'"}'
    request = (
        b"PUT /v1/inboxes/" + b"ab" * 16 + b" HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body
    writes = await exchange(tmp_path, request)
    assert writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(writes) == 2
    assert writes[1].startswith(b"HTTP/1.1 201") and writes[1].endswith(b'{"seq":0}')


async def test_an_answer_to_head_is_written(tmp_path: Path) -> None:
    writes = await exchange(tmp_path, b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 405")


async def test_an_answer_before_closing_says_so_and_closes(tmp_path: Path) -> None:
    writes, closed = await exchange_closing(
        tmp_path, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200")
    assert b"\r\nconnection: close\r\n" in writes[0].lower()
    assert closed


async def test_a_large_body_is_written_after_its_head_not_copied(tmp_path: Path) -> None:
    cap, data = os.urandom(32), os.urandom(ONE_WRITE_MAX + 1)
    blob = b"/v1/blobs/" + b"cd" * 16
    meta = b'{"cap_hash":"%s","size":%d,"chunks":1}' % (
        b64url_encode(cap_hash(cap)).encode(),
        len(data),
    )
    auth = b"Authorization: " + bearer_header(cap).encode() + b"\r\n"
    request = (
        b"PUT " + blob + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(meta)
        + meta
        + b"PUT " + blob + b"/chunks/0 HTTP/1.1\r\nHost: x\r\n" + auth
        + b"Content-Length: %d\r\n\r\n" % len(data)
        + data
        + b"GET " + blob + b"/chunks/0 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
    )  # fmt: skip
    writes = await exchange(tmp_path, request, 3)
    assert [w[:12] for w in writes[:2]] == [b"HTTP/1.1 201", b"HTTP/1.1 204"]
    assert writes[2].startswith(b"HTTP/1.1 200") and writes[2].endswith(b"\r\n\r\n")
    assert writes[3:] == [data]
