"""One failing relay or group stops nothing else (docs/protocol.md section 7.2): a group
and a pending join on a dead relay, next to a healthy group, in ``sync`` and in ``run``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.core.engine import Engine
from app.core.errors import RelayUnavailable
from app.core.events import ConnectionChanged, ConnectionState, Event, MessageAdded
from tests.core.harness import Clock, befriend, make_engine, make_relay, run
from tests.core.network import Network, closed_port

HEALTHY = "http://relay.test"
DEAD = "http://relay-b.test"


@dataclass
class World:
    network: Network
    clock: Clock
    alice: Engine  # on the healthy relay
    bob: Engine  # in Main (healthy), in Side (dead relay), and a pending join there
    dave: Engine  # on the relay that dies
    main: bytes
    side: bytes


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    network = Network()
    for name in ("healthy", "dead"):
        (tmp_path / name).mkdir()
    apps = [make_relay(tmp_path / name, clock) for name in ("healthy", "dead")]
    network.serve("relay.test", apps[0])
    network.serve("relay-b.test", apps[1])
    alice = make_engine(tmp_path, "alice", network, clock, relay_url=HEALTHY)
    bob = make_engine(tmp_path, "bob", network, clock, relay_url=HEALTHY)
    dave = make_engine(tmp_path, "dave", network, clock, relay_url=DEAD)

    async def setup() -> tuple[bytes, bytes]:
        main = await alice.create_group("Main")
        await befriend(alice, main, bob)
        side = await dave.create_group("Side")
        await befriend(dave, side, bob)
        other = await dave.create_group("Other")
        await bob.join(await dave.create_invite(other, needs_approval=True))
        return main, side

    main, side = run(setup())
    yield World(network, clock, alice, bob, dave, main, side)
    for engine in (alice, bob, dave):
        run(engine.close())
    for app in apps:
        app.close()


def connection_log(engine: Engine) -> list[tuple[str, ConnectionState]]:
    log: list[tuple[str, ConnectionState]] = []

    def listen(event: Event) -> None:
        if isinstance(event, ConnectionChanged):
            log.append((event.relay_url, event.state))

    engine.subscribe(listen)
    return log


def last_state(log: list[tuple[str, ConnectionState]], url: str) -> ConnectionState | None:
    states = [state for u, state in log if u == url]
    return states[-1] if states else None


def texts(engine: Engine, group_id: bytes) -> list[str]:
    return [m.text for m in engine.messages(group_id) if m.kind == "text"]  # not event lines


def test_a_dead_relay_stops_neither_the_healthy_group_nor_its_outbox(world: World) -> None:
    w = world
    assert w.bob.db.one("SELECT count(*) FROM pending_joins") == (1,)
    w.network.point("relay.test", closed_port())
    with pytest.raises(RelayUnavailable):
        run(w.bob.send_text(w.main, "queued while Bob was offline"))
    w.network.restore("relay.test")
    w.network.point("relay-b.test", closed_port())  # the second relay dies for good
    run(w.alice.send_text(w.main, "hello over the healthy relay"))

    log = connection_log(w.bob)
    report = run(w.bob.sync())

    assert "hello over the healthy relay" in texts(w.bob, w.main)
    assert report.unsent == 0
    mine = [m for m in w.bob.messages(w.main) if m.text == "queued while Bob was offline"]
    assert [m.status for m in mine] == ["sent"]
    run(w.alice.sync())
    assert "queued while Bob was offline" in texts(w.alice, w.main)
    dead = [warning for warning in report.warnings if DEAD in warning]
    assert dead and all("unreachable" in warning for warning in dead)
    assert not [warning for warning in report.warnings if HEALTHY in warning]
    assert last_state(log, DEAD) is ConnectionState.OFFLINE
    assert last_state(log, HEALTHY) is ConnectionState.ONLINE
    # Found dead once, the relay is not asked again in the same sync: one request's
    # retries (the client's 5 attempts), not one round per step (inbox, group, upkeep).
    assert w.network.refused["relay-b.test"] <= 5


def test_a_pending_join_on_a_dead_relay_blocks_nothing_in_the_run_loop(world: World) -> None:
    w = world
    w.network.point("relay-b.test", closed_port())
    w.network.point("relay.test", closed_port())
    with pytest.raises(RelayUnavailable):
        run(w.bob.send_text(w.main, "queued before the loop started"))
    w.network.restore("relay.test")
    run(w.alice.send_text(w.main, "hello while Bob's loop runs"))

    async def scenario() -> None:
        arrived = asyncio.Event()
        flushed = asyncio.Event()

        def listen(event: Event) -> None:
            if isinstance(event, MessageAdded) and event.message.text == (
                "hello while Bob's loop runs"
            ):
                arrived.set()
            if w.bob.db.one("SELECT count(*) FROM messages WHERE status = 'pending'") == (0,):
                flushed.set()

        w.bob.subscribe(listen)
        log = connection_log(w.bob)
        stop = asyncio.Event()
        loop = asyncio.create_task(w.bob.run(stop, poll=1, tick=0.05))
        try:
            # Bounded waits: a few passes, each costing at most one request budget.
            await asyncio.wait_for(arrived.wait(), timeout=120)
            await asyncio.wait_for(flushed.wait(), timeout=120)
        finally:
            stop.set()
            await loop
        assert last_state(log, DEAD) is ConnectionState.RECONNECTING

    run(scenario())
    run(w.alice.sync())
    assert "queued before the loop started" in texts(w.alice, w.main)
    # The side group and the pending join are still there, to resume when it returns.
    assert w.bob.db.one("SELECT count(*) FROM pending_joins") == (1,)


def test_the_dead_relay_is_picked_up_again_when_it_returns(world: World) -> None:
    w = world
    w.network.point("relay-b.test", closed_port())
    report = run(w.bob.sync())
    assert any(DEAD in warning for warning in report.warnings)
    w.network.restore("relay-b.test")
    run(w.dave.send_text(w.side, "the side relay is back"))
    report = run(w.bob.sync())
    assert not any(DEAD in warning for warning in report.warnings)
    assert "the side relay is back" in texts(w.bob, w.side)
