"""Pinned messages and the group description between three real engines on the real
relay: organizers pin and describe, every member converges on the same pins and text, and
a modified client's pin or description from a member is ignored by everyone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.engine import Engine
from app.core.errors import ClientError, NotPermittedHere
from crypto.content import ContentType
from crypto.errors import NotPermitted
from crypto.group_log import EntryKind, GroupState, author_entry, describe_body
from crypto.pins import PinBody
from tests.core.harness import befriend, run, sync_all, three_members

World = tuple[Engine, Engine, Engine]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with three_members(tmp_path) as engines:
        yield engines


def _id(engine: Engine, group_id: bytes, text: str) -> bytes:
    for message in engine.messages(group_id):
        if message.text == text and message.message_id is not None:
            return message.message_id
    raise AssertionError(f"no message {text!r}")


def _pins(engine: Engine, group_id: bytes) -> list[tuple[str, str, str]]:
    return [(p.sender_name, p.text, p.pinned_by) for p in engine.pins.pins(group_id)]


def test_organizers_pin_and_every_member_sees_the_same_pins(world: World) -> None:
    alice, bob, carol = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob, carol)
        await bob.send_text(group_id, "Strike vote on Friday")
        await carol.send_text(group_id, "Rates sheet v2")
        await alice.sync()
        vote, rates = (
            _id(alice, group_id, "Strike vote on Friday"),
            _id(alice, group_id, "Rates sheet v2"),
        )
        await alice.pins.pin(group_id, vote)
        await alice.pins.pin(group_id, rates)
        await alice.pins.unpin(group_id, vote)
        await alice.pins.pin(group_id, vote)
        with pytest.raises(ClientError, match="already pinned"):
            await alice.pins.pin(group_id, vote)
        with pytest.raises(NotPermittedHere, match="only organizers"):
            await bob.pins.pin(group_id, rates)
        await sync_all(bob, carol, alice)
        return group_id

    group_id = run(scenario())
    expected = [("Carol", "Rates sheet v2", "Alice"), ("Bob", "Strike vote on Friday", "Alice")]
    for engine in (alice, bob, carol):
        assert _pins(engine, group_id) == expected
        # The pin shows as a line in the chat, in order, the same everywhere.
        lines = [m.text for m in engine.messages(group_id) if m.opens == "pins"]
        assert lines == [
            "pinned a message",
            "pinned a message",
            "unpinned a message",
            "pinned a message",
        ]

    async def delete() -> None:
        await carol.conversation.delete(group_id, _id(carol, group_id, "Rates sheet v2"))
        await sync_all(alice, bob)

    run(delete())
    for engine in (alice, bob, carol):  # a deleted message is no longer pinned
        assert _pins(engine, group_id) == [("Bob", "Strike vote on Friday", "Alice")]


def test_a_members_forged_pin_and_description_are_ignored_by_all(world: World) -> None:
    alice, bob, carol = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob, carol)
        await alice.description.describe(group_id, "Couriers of the east side")
        await alice.send_text(group_id, "Meeting at 6")
        await sync_all(bob, carol)
        target = _id(bob, group_id, "Meeting at 6")
        # A modified client skips its own check: a signed pin from Bob, a member.
        await bob.send_content(group_id, ContentType.PIN, PinBody(target).encode(), "pinned")
        with pytest.raises(NotPermittedHere):
            await bob.description.describe(group_id, "Bob's group now")
        await sync_all(alice, carol)
        return group_id

    group_id = run(scenario())
    for engine in (alice, carol):
        assert _pins(engine, group_id) == []
        warnings = [row[0] for row in engine.db.all("SELECT detail FROM warnings")]
        assert any("only organizers can pin" in w for w in warnings)
        assert engine.groups()[0].description == "Couriers of the east side"

    # And a DESCRIBE log entry authored by a member is refused by the group log itself.
    state: GroupState = bob._groups.session(group_id).state  # a modified client
    with pytest.raises(NotPermitted, match="only organizers may author DESCRIBE"):
        author_entry(
            state, bob.identity, EntryKind.DESCRIBE, describe_body("mine"), 1, bob.context.rng
        )


def test_description_limits_are_one_clear_error(world: World) -> None:
    alice, bob, _ = world

    async def scenario() -> None:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob)
        with pytest.raises(ClientError, match="at most 1024 bytes"):
            await alice.description.describe(group_id, "x" * 1025)
        with pytest.raises(ClientError, match="control"):
            await alice.description.describe(group_id, "tab\there")
        await alice.description.describe(group_id, "Line one\nLine two")
        with pytest.raises(ClientError, match="already has"):
            await alice.description.describe(group_id, "Line one\nLine two")
        await alice.description.describe(group_id, "")
        await bob.sync()
        assert bob.description.get(group_id) == ""
        lines = [m.text for m in bob.messages(group_id) if m.opens == "members"]
        assert lines[-2:] == [
            "Alice changed the group description",
            "Alice removed the group description",
        ]

    run(scenario())
