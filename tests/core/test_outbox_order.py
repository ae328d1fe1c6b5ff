"""A group's outbox goes out oldest first, and a new message never overtakes older ones
still pending (docs/protocol.md section 7.3): after an outage and client restarts every
receiver sees the messages in order, with no "earlier message missing" warning."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.core.engine import Engine
from app.core.errors import RelayUnavailable
from app.core.profile import unlock
from app.core.views import MessageView
from crypto.items import ItemType, peek_type
from tests.core.harness import Clock, befriend, make_engine, make_relay, run
from tests.core.network import Network, closed_port

MISSING = "an earlier message from this sender is missing or arrived out of order"


def said(engine: Engine, group_id: bytes) -> list[MessageView]:
    """What members wrote, without the chat's event lines (joins, removals)."""
    return [m for m in engine.messages(group_id) if m.kind == "text"]


@dataclass
class World:
    tmp_path: Path
    network: Network
    clock: Clock
    alice: Engine
    bob: Engine
    carol: Engine
    group_id: bytes


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    network = Network()
    app = make_relay(tmp_path, clock)
    network.serve("relay.test", app)
    alice, bob, carol = (
        make_engine(tmp_path, n, network, clock) for n in ("alice", "bob", "carol")
    )

    async def setup() -> bytes:
        group_id = await alice.create_group("Union")
        await befriend(alice, group_id, bob, carol)
        await bob.sync()
        return group_id

    w = World(tmp_path, network, clock, alice, bob, carol, run(setup()))
    yield w
    for engine in (w.alice, w.bob, w.carol):
        run(engine.close())
    app.close()


def reopen(w: World, engine: Engine, name: str) -> Engine:
    """Close the profile without sending anything and open it again: a client restart."""
    run(engine.close())
    return Engine(
        unlock(w.tmp_path / name, f"passphrase of {name}"), transport=w.network, clock_ms=w.clock
    )


def missing_warnings(engine: Engine) -> int:
    (count,) = engine.db.one("SELECT count(*) FROM warnings WHERE detail = ?", (MISSING,))
    return int(count)


def test_a_new_message_after_an_outage_goes_out_after_the_queued_ones(world: World) -> None:
    w = world
    queued = [f"queued {i}" for i in range(4)]
    w.network.point("relay.test", closed_port())
    for i, text in enumerate(queued):
        with pytest.raises(RelayUnavailable):
            run(w.bob.send_text(w.group_id, text))
        if i % 2:  # the client is restarted (or crashes) between sends
            w.bob = reopen(w, w.bob, "bob")
    w.network.restore("relay.test")

    # Back online, Bob sends before any sync: the queue must go out first.
    view = run(w.bob.send_text(w.group_id, "the new one"))
    assert view.status == "sent"
    assert [m.status for m in said(w.bob, w.group_id)] == ["sent"] * 5
    run(w.bob.sync())  # nothing left to send

    for receiver in (w.alice, w.carol):
        report = run(receiver.sync())
        received = said(receiver, w.group_id)
        assert [m.text for m in received] == [*queued, "the new one"]
        assert [m.warning for m in received] == [None] * 5
        assert MISSING not in report.warnings
        assert missing_warnings(receiver) == 0


def test_concurrent_sends_keep_their_order_and_post_each_item_once(world: World) -> None:
    w = world
    run(w.alice.sync())
    session = w.alice.session(w.group_id)
    start = session.cursor
    w.network.point("relay.test", closed_port())
    with pytest.raises(RelayUnavailable):
        run(w.bob.send_text(w.group_id, "queued"))
    w.network.restore("relay.test")

    async def burst() -> None:
        # The desktop app's flush and the user's sends share one loop; one sender per
        # group at a time, so nothing is posted twice or out of turn.
        await asyncio.gather(
            w.bob.flush_outbox(),
            w.bob.send_text(w.group_id, "first"),
            w.bob.send_text(w.group_id, "second"),
        )

    run(burst())
    assert session.keys is not None
    posted = run(
        w.alice.relay("http://relay.test").fetch(
            session.mailbox_id, session.keys.mailbox_cap, start
        )
    )
    # Only messages: an organizer's client may post a freshness head too (section 4.4).
    assert [peek_type(item) for _, item in posted.items].count(ItemType.MESSAGE) == 3
    run(w.alice.sync())
    assert [m.text for m in said(w.alice, w.group_id)] == ["queued", "first", "second"]
    assert missing_warnings(w.alice) == 0


def test_a_group_whose_relay_is_down_does_not_hold_back_another_groups_queue(
    world: World, tmp_path: Path
) -> None:
    w = world
    (tmp_path / "other").mkdir()
    other_app = make_relay(tmp_path / "other", w.clock)
    w.network.serve("other.test", other_app)
    dave = make_engine(tmp_path, "dave", w.network, w.clock, relay_url="http://other.test")
    try:
        other = run(dave.create_group("Other"))
        run(befriend(dave, other, w.bob))
        w.network.point("relay.test", closed_port())
        w.network.point("other.test", closed_port())
        with pytest.raises(RelayUnavailable):
            run(w.bob.send_text(w.group_id, "to the union"))
        with pytest.raises(RelayUnavailable):
            run(w.bob.send_text(other, "to the other group"))
        w.network.restore("other.test")
        report = run(w.bob.sync())
        assert report.unsent == 1  # the union's message waits for its relay
        assert any("http://relay.test" in warning for warning in report.warnings)
        run(dave.sync())
        assert [m.text for m in said(dave, other)] == ["to the other group"]
    finally:
        run(dave.close())
        other_app.close()


def test_messages_queued_across_a_commit_keep_their_chain(world: World) -> None:
    """Several messages sealed in an epoch that a commit ended while they waited: each is
    sealed again in the new epoch, and each again names the one before it."""
    w = world
    queued = [f"queued {i}" for i in range(3)]
    w.network.point("relay.test", closed_port())
    for text in queued:
        with pytest.raises(RelayUnavailable):
            run(w.bob.send_text(w.group_id, text))
    w.network.restore("relay.test")
    run(w.alice.rekey(w.group_id))  # the epoch Bob's queue was sealed in ends

    run(w.bob.send_text(w.group_id, "the new one"))
    for receiver in (w.alice, w.carol):
        run(receiver.sync())
        received = said(receiver, w.group_id)
        assert missing_warnings(receiver) == 0
        assert [m.text for m in received] == [*queued, "the new one"]
        assert [m.warning for m in received] == [None] * 4
