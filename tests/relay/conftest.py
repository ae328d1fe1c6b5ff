"""Fixtures for relay tests: the real app in-process over httpx, a movable clock, and a
small client that knows the relay's URL shapes.  Nothing is mocked."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode, bearer_header
from relay.codec import decode_frames
from relay.config import RelayConfig
from relay.http import RelayApp, create_app

# Generous limits so only the tests about limits meet them.
OPEN_LIMITS: dict[str, float] = {
    "rate_per_s": 1e6,
    "rate_burst": 1e6,
    "read_rate_per_s": 1e6,
    "read_burst": 1e6,
    "create_per_s": 1e6,
    "create_burst": 1e6,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class FakeClock:
    """Seconds since the epoch, moved by hand."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Mailbox:
    mid: str
    cap: bytes
    head: bytes

    @property
    def path(self) -> str:
        return f"/v1/mailboxes/{self.mid}"


def auth(cap: bytes) -> dict[str, str]:
    return {"Authorization": bearer_header(cap)}


def new_id() -> str:
    return os.urandom(16).hex()


class Client:
    """httpx over the real app, plus helpers for the common request shapes."""

    def __init__(self, http: httpx.AsyncClient, app: RelayApp) -> None:
        self.http = http
        self.app = app

    async def new_mailbox(self) -> Mailbox:
        box = Mailbox(new_id(), os.urandom(32), os.urandom(32))
        response = await self.http.put(
            box.path,
            json={"cap_hash": b64url_encode(cap_hash(box.cap)), "head": b64url_encode(box.head)},
        )
        assert response.status_code == 201, response.text
        assert response.json() == {"seq": 0}
        return box

    async def post(self, box: Mailbox, item: bytes, cap: bytes | None = None) -> httpx.Response:
        return await self.http.post(
            box.path + "/items", content=item, headers=auth(box.cap if cap is None else cap)
        )

    async def commit(
        self,
        box: Mailbox,
        cap: bytes,
        prev_head: bytes,
        new_head: bytes,
        new_cap: bytes,
        item: bytes = b"commit",
    ) -> httpx.Response:
        body = prev_head + new_head + cap_hash(new_cap) + item
        return await self.http.post(box.path + "/commits", content=body, headers=auth(cap))

    async def fetch(
        self, box: Mailbox, cap: bytes, after: int = 0, **params: float
    ) -> tuple[httpx.Response, list[tuple[int, bytes]]]:
        query: dict[str, float] = {"after": after, **params}
        response = await self.http.get(box.path + "/items", params=query, headers=auth(cap))
        frames = decode_frames(response.content) if response.status_code == 200 else []
        return response, frames


def make_app(tmp_path: Path, clock: FakeClock | None = None, **settings: object) -> RelayApp:
    values: dict[str, object] = {**OPEN_LIMITS, **settings}
    config = RelayConfig(db_path=tmp_path / "relay.db", **values)  # type: ignore[arg-type]
    return create_app(config, clock=clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RelayApp]:
    relay_app = make_app(tmp_path)
    yield relay_app
    relay_app.close()


async def open_client(app: RelayApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relay.test")


@pytest.fixture
async def client(app: RelayApp) -> AsyncIterator[Client]:
    async with await open_client(app) as http:
        yield Client(http, app)
