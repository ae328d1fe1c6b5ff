"""Real parts for client tests: the relay app in-process, real SQLCipher profiles, and a
controllable clock. Nothing of ours is mocked; the malicious relay wraps the real one."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from app.core.engine import Engine
from app.core.profile import create_profile
from app.core.signature_checks import SignatureChecker
from relay.config import RelayConfig
from relay.http import RelayApp, create_app

T = TypeVar("T")

RELAY_URL = "http://relay.test"


def run(coro: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await coro

    return asyncio.run(wrapper())


@dataclass
class Clock:
    """Milliseconds, moved by hand so tests can skip days; the relay shares it."""

    now: int = field(default_factory=lambda: int(time.time() * 1000))

    def __call__(self) -> int:
        return self.now

    def seconds(self) -> float:
        return self.now / 1000

    def advance(self, *, days: float = 0, seconds: float = 0) -> None:
        self.now += int(days * 86_400_000 + seconds * 1000)


@dataclass
class Traffic:
    """Every request and response body that crossed the wire, for canary greps."""

    chunks: list[bytes] = field(default_factory=list)

    def blob(self) -> bytes:
        return b"".join(self.chunks)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to an inner transport and records all bytes both ways."""

    def __init__(self, inner: httpx.AsyncBaseTransport, traffic: Traffic) -> None:
        self.inner = inner
        self.traffic = traffic

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.traffic.chunks.append(str(request.url).encode() + b"\n")
        self.traffic.chunks.extend(f"{k}: {v}\n".encode() for k, v in request.headers.items())
        self.traffic.chunks.append(body)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.traffic.chunks.append(content)
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def make_relay(tmp_path: Path, clock: Clock | None = None, **limits: object) -> RelayApp:
    config = RelayConfig(db_path=tmp_path / "relay.db", **limits)  # type: ignore[arg-type]
    return create_app(config, clock=clock.seconds if clock else None)


def make_engine(
    tmp_path: Path,
    name: str,
    transport: httpx.AsyncBaseTransport,
    clock: Clock,
    *,
    relay_url: str = RELAY_URL,
    display_name: str | None = None,
    signatures: SignatureChecker | None = None,
) -> Engine:
    home = tmp_path / name
    db = create_profile(
        home,
        name=display_name or name,
        relay_url=relay_url,
        passphrase=f"passphrase of {name}",
        rng=os.urandom,
        now=clock(),
        cost="interactive",
    )
    return Engine(db, transport=transport, clock_ms=clock, signatures=signatures)


@contextmanager
def three_members(tmp_path: Path) -> Iterator[tuple[Engine, Engine, Engine]]:
    """Alice, Bob and Carol on one in-process relay with one clock, closed afterwards."""
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    alice, bob, carol = (
        make_engine(tmp_path, name, transport, clock, display_name=name.capitalize())
        for name in ("alice", "bob", "carol")
    )
    try:
        yield alice, bob, carol
    finally:
        for engine in (alice, bob, carol):
            run(engine.close())
        app.close()


async def befriend(
    organizer: Engine, group_id: bytes, *joiners: Engine, role: str = "member"
) -> None:
    """Invite and admit each joiner through the real invite flow."""
    from crypto.group_log import Role

    for joiner in joiners:
        code = await organizer.create_invite(
            group_id, role=Role.ORGANIZER if role == "organizer" else Role.MEMBER
        )
        await joiner.join(code)
        report = await organizer.sync()
        assert report.admitted == 1, report
        joined = await joiner.sync()
        assert joined.joined == (group_id,), joined


async def sync_all(*engines: Engine) -> None:
    for engine in engines:
        await engine.sync()


Scenario = Callable[[], Awaitable[None]]
