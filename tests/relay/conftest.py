"""Fixtures for relay tests: the real app in-process over httpx, a movable clock, and a
small client that knows the relay's URL shapes.  Nothing is mocked.

``db`` runs a test on each storage backend: a SQLite file, and a schema of a throwaway
PostgreSQL server started once per session (``tests/relay/pg_server.py``).  Without
PostgreSQL installed the PostgreSQL runs are skipped, except with CI set, where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode, bearer_header
from relay.backend import Connection, open_backend
from relay.codec import decode_frames
from relay.config import RelayConfig
from relay.http import RelayApp, create_app
from tests.conftest import in_ci
from tests.relay.pg_server import PgServer, find_bindir, start_server

BACKENDS = ("sqlite", "postgresql")

# Without psycopg (the relay-pg extra) the PostgreSQL-only module cannot even be imported;
# the ``pg_server`` fixture then skips (or, with CI set, fails) the PostgreSQL runs.
collect_ignore = [] if importlib.util.find_spec("psycopg") else ["test_postgres.py"]

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


@dataclass(frozen=True)
class Db:
    """Where one test's relay keeps its data: a SQLite file, or a PostgreSQL schema."""

    backend: str
    path: Path
    url: str | None = None

    @property
    def cli(self) -> str:
        """The ``--db`` argument naming this database."""
        return self.url if self.url is not None else str(self.path)

    def config(self, **settings: Any) -> RelayConfig:
        return RelayConfig(db_path=self.path, db_url=self.url or "", **settings)

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """Rows of a query (qmark style) on a fresh connection, for checking what is stored."""
        conn: Connection = open_backend(self.config()).open_reader()
        try:
            return conn.execute(sql, parameters).fetchall()
        finally:
            conn.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``sqlite_only`` (they open the SQLite file itself) run only on SQLite."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("db") == "postgresql"
        (drop if on_postgres and item.get_closest_marker("sqlite_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | None]:
    """One throwaway PostgreSQL server for the session (None when not installed)."""
    bindir = find_bindir()
    if bindir is None:
        if in_ci():
            pytest.fail(
                "PostgreSQL or psycopg is not installed (apt-get install postgresql; "
                "pip install -e '.[dev]'); CI runs the relay tests on it"
            )
        yield None
        return
    with start_server(bindir) as server:
        yield server


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        yield Db("sqlite", tmp_path / "relay.db")
        return
    server: PgServer | None = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("PostgreSQL or psycopg is not installed (apt-get install postgresql)")
    with server.schema() as url:
        yield Db("postgresql", tmp_path / "unused.db", url)


@pytest.fixture
def pg_db(pg_server: PgServer | None, tmp_path: Path) -> Iterator[Db]:
    """A PostgreSQL database only (for tests of several relay processes)."""
    if pg_server is None:
        pytest.skip("PostgreSQL or psycopg is not installed (apt-get install postgresql)")
    with pg_server.schema() as url:
        yield Db("postgresql", tmp_path / "unused.db", url)


def make_app(where: Path | Db, clock: FakeClock | None = None, **settings: object) -> RelayApp:
    """The app on ``where``: a ``Db``, or a directory for a SQLite file named relay.db."""
    values: dict[str, Any] = {**OPEN_LIMITS, **settings}
    db = where if isinstance(where, Db) else Db("sqlite", where / "relay.db")
    return create_app(db.config(**values), clock=clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(db: Db) -> Iterator[RelayApp]:
    relay_app = make_app(db)
    yield relay_app
    relay_app.close()


async def open_client(app: RelayApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relay.test")


@pytest.fixture
async def client(app: RelayApp) -> AsyncIterator[Client]:
    async with await open_client(app) as http:
        yield Client(http, app)
