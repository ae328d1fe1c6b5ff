"""``link_new_profile``: the desktop's "Link this computer" step (docs/protocol.md 8.4),
against a real relay on a loopback socket, with the first device a headless engine."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from app.core.api import (
    ClientError,
    Database,
    Engine,
    LinkNotAnswered,
    Queries,
    create_profile,
    link_new_profile,
    profile_exists,
)
from app.core.devices import LINK_TTL_MS
from relay.embedded import EmbeddedRelay

WAIT_S = 30.0
PASSPHRASE = "orchard lantern velvet quarry"


@pytest.fixture
def relay_url(tmp_path: Path) -> Iterator[str]:
    relay = EmbeddedRelay(tmp_path / "relay.db", port=0)
    relay.start()
    yield str(relay.url)
    relay.stop()


def _ask(
    pool: ThreadPoolExecutor, home: Path, code: str
) -> tuple[Future[tuple[Database, bytes]], threading.Event]:
    asked = threading.Event()
    future = pool.submit(
        link_new_profile,
        home,
        code=code,
        device_name=home.name,
        passphrase=PASSPHRASE,
        cancel=threading.Event(),
        on_waiting=asked.set,
        cost="interactive",
    )
    return future, asked


def test_only_the_answered_computer_is_linked_and_the_other_is_told(
    tmp_path: Path, relay_url: str
) -> None:
    db = create_profile(
        tmp_path / "first",
        name="Dana",
        relay_url=relay_url,
        passphrase="passphrase of the first",
        rng=os.urandom,
        now=int(time.time() * 1000),
        cost="interactive",
    )
    first = Engine(db)
    loop = asyncio.new_event_loop()
    pool = ThreadPoolExecutor(2)
    try:
        group_id = loop.run_until_complete(first.create_group("Riders"))
        code = loop.run_until_complete(first.link_device())
        # Someone else asks with the code first; then this computer.
        other, other_asked = _ask(pool, tmp_path / "other", code)
        assert other_asked.wait(WAIT_S)
        mine, mine_asked = _ask(pool, tmp_path / "mine", code)
        assert mine_asked.wait(WAIT_S)
        loop.run_until_complete(first.sync())  # the first device links the first request

        linked = other.result(WAIT_S)
        assert isinstance(linked[0], Database)
        reader = Queries.reader(linked[0])
        assert reader.profile().name == "Dana"  # it acts as the member now
        assert reader.me == first.identity.public_key
        assert reader.group_ids() == [group_id]
        linked[0].close()

        with pytest.raises(LinkNotAnswered) as refused:
            mine.result(WAIT_S)
        assert "show a new code" in str(refused.value)
        assert not profile_exists(tmp_path / "mine")  # nothing in the way of a retry
    finally:
        pool.shutdown()
        loop.run_until_complete(first.close())
        loop.close()


def test_a_garbled_code_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(ClientError):
        link_new_profile(
            tmp_path / "mine",
            code="caucus://link#not-a-code",
            device_name="mine",
            passphrase=PASSPHRASE,
            cancel=threading.Event(),
            cost="interactive",
        )
    assert not (tmp_path / "mine").exists()


def test_the_sync_loop_reads_an_old_link_request_once_a_minute(
    tmp_path: Path, relay_url: str
) -> None:
    """``Engine.run`` reads link mailboxes every tick while a link is young (so a shown
    code is answered within seconds) and an unanswered old request once a minute."""
    clock = [int(time.time() * 1000)]

    def engine_at(home: Path, name: str) -> Engine:
        db = create_profile(
            home,
            name=name,
            relay_url=relay_url,
            passphrase=PASSPHRASE,
            rng=os.urandom,
            now=clock[0],
            cost="interactive",
        )
        return Engine(db, clock_ms=lambda: clock[0])

    first, laptop = engine_at(tmp_path / "first", "Dana"), engine_at(tmp_path / "laptop", "L")
    loop = asyncio.new_event_loop()
    try:
        assert not laptop._links_due()  # no link: nothing to read
        code = loop.run_until_complete(first.link_device())
        loop.run_until_complete(laptop.devices.add(code))
        assert first._links_due() and laptop._links_due() and laptop._links_due()
        clock[0] += LINK_TTL_MS + 1  # nobody answered in time
        assert laptop._links_due()
        assert not laptop._links_due()
        clock[0] += 59_000
        assert not laptop._links_due()
        clock[0] += 1_000
        assert laptop._links_due()
    finally:
        for engine in (first, laptop):
            loop.run_until_complete(engine.close())
        loop.close()
