"""A relay that sends absurd numbers (issue #9, item 6): forged sequence numbers in fetch
frames, in ``X-Caucus-Last`` and in the answer to a post. The real relay runs behind a
transport that rewrites its answers for one member; nothing crashes, the member is
warned, its cursor never moves to the forged number, and it keeps receiving once the
relay behaves."""

from __future__ import annotations

import asyncio
import json
import re
import struct
import threading
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from app.core.engine import Engine
from app.core.relay_client import parse_frames
from crypto.errors import MalformedData
from relay.config import RelayConfig
from relay.http import create_app
from relay.server import RelayServer, bind_socket, display_url
from tests.core.harness import Clock, befriend, make_engine, make_relay, run
from tests.core.test_cli import caucus

Rewrite = Callable[[httpx.Request, httpx.Response, bytes], tuple[dict[str, str], bytes]]


class HostileTransport(httpx.AsyncBaseTransport):
    """The real relay app; ``rewrite``, while set, changes what this member is answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.rewrite: Rewrite | None = None
        self.fetches = 0
        self.refuse_fetches: set[int] = set()  # answer these fetches (1, 2, ...) with 403

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if is_fetch(request, response):
            self.fetches += 1
            if self.fetches in self.refuse_fetches:
                return httpx.Response(403, json={"error": "forbidden", "detail": "refused"})
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        if self.rewrite is not None:
            changed, content = self.rewrite(request, response, content)
            headers.update(changed)
        return httpx.Response(response.status_code, headers=headers, content=content)


def is_fetch(request: httpx.Request, response: httpx.Response) -> bool:
    return (
        request.method == "GET"
        and request.url.path.startswith("/v1/mailboxes/")
        and response.status_code == 200
    )


def renumber(first: int) -> Rewrite:
    """Fetched frames renumbered from ``first`` on; the relay's last header to match."""

    def rewrite(
        request: httpx.Request, response: httpx.Response, content: bytes
    ) -> tuple[dict[str, str], bytes]:
        if not is_fetch(request, response):
            return {}, content
        rows = parse_frames(content)
        if not rows:
            return {}, content
        start = min(first, 2**64 - len(rows))  # the last frame at most 2**64-1
        body = b"".join(
            struct.pack(">QI", start + i, len(item)) + item for i, (_, item) in enumerate(rows)
        )
        return {"x-caucus-last": str(start + len(rows) - 1)}, body

    return rewrite


def post_answer(seq: int) -> Rewrite:
    def rewrite(
        request: httpx.Request, response: httpx.Response, content: bytes
    ) -> tuple[dict[str, str], bytes]:
        if request.method == "POST" and response.status_code == 200:
            return {}, b'{"seq": %d}' % seq
        return {}, content

    return rewrite


@dataclass
class World:
    alice: Engine
    bob: Engine
    bob_relay: HostileTransport
    group_id: bytes


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    inner = httpx.ASGITransport(app=app)
    hostile = HostileTransport(inner)
    alice = make_engine(tmp_path, "alice", inner, clock)
    bob = make_engine(tmp_path, "bob", hostile, clock)

    async def setup() -> bytes:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        await alice.sync()
        await bob.sync()
        return group_id

    yield World(alice, bob, hostile, run(setup()))
    for engine in (alice, bob):
        run(engine.close())
    app.close()


def texts(engine: Engine, group_id: bytes) -> list[str]:
    return [m.text for m in engine.messages(group_id) if m.kind == "text"]  # not event lines


@pytest.mark.parametrize("forged", [2**64 - 1, 2**62, 2**53])
def test_a_forged_huge_sequence_number_is_refused_and_receiving_goes_on(
    world: World, forged: int
) -> None:
    w = world
    cursor = w.bob.session(w.group_id).cursor
    w.bob_relay.rewrite = renumber(forged)

    async def go() -> tuple[str, ...]:
        await w.alice.send_text(w.group_id, "one")
        report = await w.bob.sync()
        return report.warnings

    warnings = run(go())
    assert any("above 2**53-1" in warning for warning in warnings), warnings
    assert w.bob.session(w.group_id).cursor == cursor
    assert texts(w.bob, w.group_id) == []

    w.bob_relay.rewrite = None

    async def later() -> None:
        await w.alice.send_text(w.group_id, "two")
        await w.bob.sync()

    run(later())
    assert texts(w.bob, w.group_id) == ["one", "two"]


def test_a_plausible_but_false_sequence_number_is_caught_and_healed(world: World) -> None:
    """Within the bound a lie cannot be told from the truth at once: the cursor follows
    it, and the next honest answer, whose last is below that cursor, is a rewind."""
    w = world
    w.bob_relay.rewrite = renumber(2**52)

    async def go() -> tuple[str, ...]:
        await w.alice.send_text(w.group_id, "one")
        await w.bob.sync()
        w.bob_relay.rewrite = None
        await w.alice.send_text(w.group_id, "two")
        report = await w.bob.sync()
        await w.alice.send_text(w.group_id, "three")
        await w.bob.sync()
        return report.warnings

    warnings = run(go())
    assert any(re.search(r"but had 45035996273704\d\d before", w) for w in warnings), warnings
    assert texts(w.bob, w.group_id) == ["one", "two", "three"]
    assert w.bob.session(w.group_id).cursor < 2**52


def test_a_member_stuck_at_a_forged_cursor_receives_again(world: World) -> None:
    """A profile whose cursor an older version moved to 2**62 (the issue's silent stall)."""
    w = world
    with w.bob.db.transaction():
        w.bob.db.execute("UPDATE groups SET cursor = ? WHERE group_id = ?", (2**62, w.group_id))
    w.bob.session(w.group_id).cursor = 2**62

    async def go() -> tuple[str, ...]:
        await w.alice.send_text(w.group_id, "still there?")
        report = await w.bob.sync()
        return report.warnings

    warnings = run(go())
    assert texts(w.bob, w.group_id) == ["still there?"]
    assert any("restored from an older copy, or is misbehaving" in w for w in warnings)


@pytest.mark.parametrize("forged", [2**64 - 1, 2**62, 0])
def test_a_forged_sequence_number_in_a_post_answer_keeps_the_message_queued(
    world: World, forged: int
) -> None:
    w = world
    w.bob_relay.rewrite = post_answer(forged)

    async def go() -> None:
        with pytest.raises(MalformedData, match="invalid sequence number"):
            await w.bob.send_text(w.group_id, "hello")
        assert [m.status for m in w.bob.messages(w.group_id) if m.kind == "text"] == ["pending"]
        w.bob_relay.rewrite = None
        report = await w.bob.sync()
        assert report.unsent == 0
        await w.alice.sync()

    run(go())
    assert [m.status for m in w.bob.messages(w.group_id) if m.kind == "text"] == ["sent"]
    # Posted twice (the relay stored the first try): Alice shows it once.
    assert texts(w.alice, w.group_id) == ["hello"]


# -- the CLI against a real socket that sends these numbers ------------------------------


class HostileRelay:
    """The real relay app on a loopback socket, behind an ASGI layer that rewrites its
    answers while ``mode`` is set: "frames" renumbers fetched items from ``forged``,
    "post" answers every post with ``{"seq": forged}``."""

    def __init__(self, db: Path, forged: int) -> None:
        self.app = create_app(RelayConfig(db_path=db, rate_per_s=5000.0, rate_burst=5000.0))
        self.forged = forged
        self.mode: str | None = None
        self._listening = threading.Event()
        sock = bind_socket("127.0.0.1", 0)
        self.url = display_url(sock)
        config = uvicorn.Config(self, loop="asyncio", http="h11", lifespan="on", log_level="error")
        self._server = RelayServer(config, self.app, self._listening.set)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])), daemon=True
        )
        self._thread.start()
        if not self._listening.wait(20):
            raise RuntimeError("hostile relay did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(20)
        self.app.close()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        mode = self.mode
        if scope["type"] != "http" or mode is None:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def capture(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body"):
                return
            status, body = start["status"], b"".join(parts)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            fetch = scope["method"] == "GET" and scope["path"].startswith("/v1/mailboxes/")
            if mode == "frames" and fetch and status == 200 and body:
                rows = parse_frames(body)
                low = min(self.forged, 2**64 - len(rows))  # the last frame at most 2**64-1
                body = b"".join(
                    struct.pack(">QI", low + i, len(item)) + item
                    for i, (_, item) in enumerate(rows)
                )
                last = str(low + len(rows) - 1).encode()
                headers = [(k, v) for k, v in headers if k.lower() != b"x-caucus-last"]
                headers.append((b"x-caucus-last", last))
            if mode == "post" and scope["method"] == "POST" and status == 200:
                body = b'{"seq": %d}' % self.forged
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


@pytest.mark.socket
@pytest.mark.parametrize("forged", [2**64 - 1, 2**62])
def test_the_cli_says_what_the_relay_did_and_keeps_working(tmp_path: Path, forged: int) -> None:
    relay = HostileRelay(tmp_path / "relay.db", forged)
    try:
        alice, bob = tmp_path / "alice", tmp_path / "bob"
        for home, name in ((alice, "Alice"), (bob, "Bob")):
            caucus(home, "init", "--name", name, "--relay", relay.url)
        caucus(alice, "group", "create", "Freelancers")
        caucus(bob, "join", caucus(alice, "invite", "Freelancers").stdout.split()[-1])
        for home in (alice, bob, alice):  # Bob's upkeep commits (his ballot key)
            caucus(home, "sync")

        relay.mode = "frames"
        caucus(alice, "send", "Freelancers", "one")
        synced = caucus(bob, "sync")
        assert "Traceback" not in synced.stderr and "internal error" not in synced.stderr
        assert re.search(r"relay sent sequence number \d{19,20}, above 2\*\*53-1", synced.stderr)
        shown = json.loads(caucus(bob, "messages", "Freelancers", "--json").stdout)
        assert [m for m in shown if m["kind"] == "text"] == []  # only the line of his join

        relay.mode = "post"
        sent = caucus(bob, "send", "Freelancers", "two", check=False)
        assert sent.returncode == 1
        assert sent.stderr == "caucus: relay answer has an invalid sequence number\n"

        relay.mode = None
        caucus(bob, "sync")
        caucus(alice, "sync")
        bob_texts = [
            m
            for m in json.loads(caucus(bob, "messages", "Freelancers", "--json").stdout)
            if m["kind"] == "text"
        ]
        alice_texts = [
            m
            for m in json.loads(caucus(alice, "messages", "Freelancers", "--json").stdout)
            if m["kind"] == "text"
        ]
        assert sorted(m["text"] for m in bob_texts) == ["one", "two"]  # his own row first
        assert [m["text"] for m in alice_texts] == ["one", "two"]
    finally:
        relay.stop()


def test_a_reread_cut_short_is_done_again_by_the_next_sync(world: World) -> None:
    """The relay refuses the fetch that starts the re-read: the group stays flagged, so
    the next sync starts the re-read again and reads everything."""
    w = world
    with w.bob.db.transaction():
        w.bob.db.execute("UPDATE groups SET cursor = ? WHERE group_id = ?", (2**62, w.group_id))
    w.bob.session(w.group_id).cursor = 2**62
    w.bob_relay.refuse_fetches = {w.bob_relay.fetches + 2}

    async def go() -> tuple[tuple[str, ...], tuple[str, ...]]:
        await w.alice.send_text(w.group_id, "still there?")
        first = await w.bob.sync()
        assert texts(w.bob, w.group_id) == []
        second = await w.bob.sync()
        return first.warnings, second.warnings

    first, second = run(go())
    assert any("misbehaving" in line for line in first) and any(
        "forbidden" in line for line in first
    )
    assert any("cut short: reading it again" in line for line in second)
    assert texts(w.bob, w.group_id) == ["still there?"]
    assert w.bob.session(w.group_id).cursor < 2**62
