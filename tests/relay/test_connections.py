"""Connection-level abuse over a real socket: idle and slow clients are cut off, the
connection cap answers 503 in JSON, WebSocket upgrades get a 4xx, never a 500."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, MutableMapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.config import RelayConfig
from relay.connections import raise_open_files_limit
from relay.embedded import EmbeddedRelay
from relay.http import create_app
from tests.relay.conftest import OPEN_LIMITS

pytestmark = [pytest.mark.socket, pytest.mark.timeout(60)]


def start(tmp_path: Path, **settings: object) -> EmbeddedRelay:
    values: dict[str, object] = {**OPEN_LIMITS, **settings}
    config = RelayConfig(db_path=tmp_path / "relay.db", port=0, **values)  # type: ignore[arg-type]
    return EmbeddedRelay(config.db_path, config=config).start()


def connect(relay: EmbeddedRelay) -> socket.socket:
    host, port = relay.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=20)


def read_all(sock: socket.socket) -> bytes:
    """Everything the relay sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def json_body(answer: bytes) -> dict[str, object]:
    _head, _, body = answer.partition(b"\r\n\r\n")
    parsed: dict[str, object] = json.loads(body)
    return parsed


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[EmbeddedRelay]:
    relay = start(tmp_path, head_timeout_s=0.3, body_idle_timeout_s=0.3)
    yield relay
    relay.stop()


def test_silent_connection_is_closed(quick: EmbeddedRelay) -> None:
    with connect(quick) as sock:
        assert read_all(sock) == b""  # closed without an answer: it asked nothing


def test_slow_request_head_gets_408(quick: EmbeddedRelay) -> None:
    with connect(quick) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert json_body(answer)["error"] == "timeout"


def test_slow_body_gets_408(quick: EmbeddedRelay) -> None:
    with connect(quick) as sock:
        sock.sendall(
            b"PUT /v1/inboxes/" + b"ab" * 16 + b" HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 100\r\n\r\n" + b"{" * 10
        )
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert json_body(answer)["error"] == "timeout"
    assert b"connection: close" in answer.lower()


def test_body_trickled_past_the_total_timeout_gets_408(tmp_path: Path) -> None:
    """Each byte arrives within the idle timeout, but the whole body takes too long."""
    relay = start(tmp_path, body_idle_timeout_s=30.0, body_timeout_s=0.5)
    try:
        with connect(relay) as sock:
            sock.sendall(
                b"POST /v1/inboxes/" + b"cd" * 16 + b"/items HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 100000\r\n\r\n"
            )
            sock.settimeout(0.05)
            answer = b""
            for _ in range(2000):  # a byte every 50 ms until the relay answers
                try:
                    answer = sock.recv(4096)
                except TimeoutError:
                    sock.sendall(b"x")
                    continue
                break
            sock.settimeout(20)
            answer += read_all(sock)
        assert answer.startswith(b"HTTP/1.1 408")
        assert json_body(answer)["detail"] == "request body not received in time"
    finally:
        relay.stop()


def test_idle_connection_after_an_answer_is_closed(quick: EmbeddedRelay) -> None:
    with connect(quick) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_all(sock)  # keep-alive, then closed for idling
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.count(b"HTTP/1.1") == 1


def test_connections_over_the_cap_get_503_busy(tmp_path: Path) -> None:
    relay = start(tmp_path, head_timeout_s=30.0, max_connections=3)
    try:
        with ExitStack() as idle:
            for _ in range(3):
                idle.enter_context(connect(relay))
            with connect(relay) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = read_all(sock)
            assert answer.startswith(b"HTTP/1.1 503")
            assert b"retry-after: 1" in answer.lower()
            assert json_body(answer)["error"] == "busy"
        # once the idle ones are gone, requests are served again
        with httpx.Client(base_url=relay.url, timeout=10) as http:
            for _ in range(200):
                if http.get("/health", headers={"connection": "close"}).status_code == 200:
                    break
            else:
                pytest.fail("relay kept answering busy after the idle connections closed")
    finally:
        relay.stop()


def test_websocket_upgrade_is_refused_with_400(quick: EmbeddedRelay) -> None:
    with connect(quick) as sock:
        sock.sendall(
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400")
    assert json_body(answer)["error"] == "bad_request"


@pytest.mark.anyio
async def test_websocket_scope_is_refused_not_crashed(tmp_path: Path) -> None:
    app = create_app(RelayConfig(db_path=tmp_path / "relay.db"))
    sent: list[dict[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app({"type": "websocket", "path": "/health", "headers": []}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    sent.clear()
    scope = {
        "type": "websocket",
        "path": "/",
        "headers": [],
        "extensions": {"websocket.http.response": {}},
    }
    await app(scope, receive, send)
    assert sent[0]["type"] == "websocket.http.response.start" and sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["error"] == "bad_request"
    app.close()


def test_open_files_limit_is_raised_to_the_hard_limit() -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft > 512:  # start from a low soft limit, as on a default Linux login
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    raised = raise_open_files_limit()
    now_soft, now_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert now_hard == hard and raised == now_soft
    if hard != resource.RLIM_INFINITY:
        assert now_soft == hard
    assert now_soft > 512
