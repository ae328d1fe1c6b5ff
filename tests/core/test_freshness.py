"""Freshness heads, holds and the "send anyway" override (docs/protocol.md 4.4, 7.8),
with real engines against the real relay in-process. The hidden-removal attack itself
runs against a real relay process in ``tests/attacks/test_hidden_removal.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.engine import Engine
from app.core.freshness import HOLD_AFTER_MS, PUBLISH_EVERY_MS
from app.core.send_gate import SendHeld
from crypto.freshness import Head, seal_head_item
from crypto.items import ItemType, peek_type
from tests.core.harness import Clock, befriend, make_engine, make_relay, run

World = tuple[Clock, Engine, Engine, Engine, bytes]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    alice, bob, carol = (
        make_engine(tmp_path, n, transport, clock) for n in ("alice", "bob", "carol")
    )

    async def setup() -> bytes:
        group_id = await alice.create_group("Depot")
        await befriend(alice, group_id, bob, carol)
        for engine in (alice, bob, carol):
            await engine.sync()
        return group_id

    group_id = run(setup())
    yield clock, alice, bob, carol, group_id
    for engine in (alice, bob, carol):
        run(engine.close())
    app.close()


def _kinds(engine: Engine, group_id: bytes, kind: str) -> list[str]:
    rows = engine.db.all(
        "SELECT detail FROM warnings WHERE group_id = ? AND kind = ? ORDER BY id", (group_id, kind)
    )
    return [str(row[0]) for row in rows]


def _heads_posted(engine: Engine, group_id: bytes) -> int:
    session = engine.session(group_id)
    assert session.keys is not None
    fetched = run(
        engine.relay(session.relay_url).fetch(session.mailbox_id, session.keys.mailbox_cap, 0)
    )
    return sum(1 for _, item in fetched.items if peek_type(item) is ItemType.HEAD)


def test_a_member_holds_sends_when_no_organizer_head_is_newer_than_t(world: World) -> None:
    clock, alice, bob, _, group_id = world
    assert not bob.freshness.status(group_id).held
    clock.advance(seconds=HOLD_AFTER_MS / 1000 - 1)
    run(bob.send_text(group_id, "within the bound"))  # still confirmed: goes out

    clock.advance(seconds=2)  # Alice's client has been silent for longer than T
    with pytest.raises(SendHeld, match="sending is held"):
        run(bob.send_text(group_id, "first held"))
    with pytest.raises(SendHeld):
        run(bob.send_text(group_id, "second held"))
    assert [(m.text, m.status) for m in bob.messages(group_id)][-3:] == [
        ("within the bound", "sent"),
        ("first held", "pending"),
        ("second held", "pending"),
    ]
    assert bob.freshness.status(group_id).held
    assert len(_kinds(bob, group_id, "unconfirmed")) == 1, "warned once per hold, not per send"
    assert run(bob.sync()).unsent == 2

    # Alice comes online: her client publishes a head; Bob's queue goes out, in order.
    run(alice.sync())
    report = run(bob.sync())
    assert report.unsent == 0
    assert not bob.freshness.status(group_id).held
    run(alice.sync())
    texts = [m.text for m in alice.messages(group_id)]
    assert texts[-3:] == ["within the bound", "first held", "second held"]
    assert all(m.warning is None for m in alice.messages(group_id))


def test_send_anyway_releases_the_hold_for_t(world: World) -> None:
    clock, alice, bob, _, group_id = world
    clock.advance(seconds=HOLD_AFTER_MS / 1000 + 1)
    with pytest.raises(SendHeld):
        run(bob.send_text(group_id, "held"))
    bob.freshness.send_anyway(group_id)  # what `caucus send --unconfirmed` does
    run(bob.send_text(group_id, "sent anyway"))
    assert [m.status for m in bob.messages(group_id)][-2:] == ["sent", "sent"]
    clock.advance(seconds=HOLD_AFTER_MS / 1000 + 1)  # the override lasts T, no longer
    with pytest.raises(SendHeld):
        run(bob.send_text(group_id, "held again"))
    run(alice.sync())
    assert [m.text for m in alice.messages(group_id)][-2:] == ["held", "sent anyway"]


def test_an_organizer_counts_its_own_heads_and_publishes_every_half_t(world: World) -> None:
    clock, alice, _, _, group_id = world
    before = _heads_posted(alice, group_id)
    clock.advance(days=1)  # the only organizer, alone for a day: never held
    run(alice.send_text(group_id, "back from a day away"))
    assert _heads_posted(alice, group_id) == before + 1
    run(alice.sync())  # a head less than T/2 old: none due
    assert _heads_posted(alice, group_id) == before + 1
    clock.advance(seconds=PUBLISH_EVERY_MS / 1000)
    run(alice.sync())
    assert _heads_posted(alice, group_id) == before + 2
    assert not alice.freshness.status(group_id).held


def test_a_head_signed_by_a_member_confirms_nothing(world: World) -> None:
    """A modified member client (Bob, not an organizer) posts heads it signed itself, to
    keep Carol sending while the organizer is silent."""
    clock, _, bob, carol, group_id = world
    clock.advance(seconds=HOLD_AFTER_MS / 1000 + 1)
    session = bob.session(group_id)
    keys, state = session.keys, session.state
    assert keys is not None
    unsigned = Head(group_id, state.seq, state.head, clock.now, bob.identity.public_key, b"")
    signature = bob.identity.sign("freshness-head", unsigned.encode())
    forged = Head(group_id, state.seq, state.head, clock.now, bob.identity.public_key, signature)
    item = seal_head_item(keys, forged, bob.context.rng)
    run(bob.relay(session.relay_url).post_item(session.mailbox_id, keys.mailbox_cap, item))
    run(carol.sync())
    assert any("NotPermitted" in w for w in _kinds(carol, group_id, "rejected"))
    assert carol.freshness.status(group_id).held
    with pytest.raises(SendHeld):
        run(carol.send_text(group_id, "held"))


def test_an_organizers_message_is_a_head_too(world: World) -> None:
    """A message carries its sender's log head and a signed time: from an organizer of its
    epoch it confirms the group like a head."""
    clock, alice, bob, _, group_id = world
    heads = _heads_posted(alice, group_id)
    clock.advance(seconds=PUBLISH_EVERY_MS / 1000 - 60)
    run(alice.send_text(group_id, "still here"))
    assert _heads_posted(alice, group_id) == heads, "no head was due: only the message"
    run(bob.sync())
    clock.advance(seconds=HOLD_AFTER_MS / 1000 - 60)  # the last head is older than T now
    run(bob.send_text(group_id, "confirmed by alice's message"))
    assert bob.messages(group_id)[-1].status == "sent"
