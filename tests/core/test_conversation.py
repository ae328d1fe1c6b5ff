"""Replies, edits, deletions for everyone and reactions between three real engines on the
real relay: every member converges on one view, only the author edits or deletes (a
modified client that tries for someone else is refused by everyone), and a deleted
message leaves no text behind, not even in the search index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli_json import message_json
from app.core.engine import Engine
from app.core.errors import ClientError, NotPermittedHere
from crypto.content import ContentType
from crypto.conversation import EditBody, ReactionBody
from tests.core.harness import befriend, run, sync_all, three_members

World = tuple[Engine, Engine, Engine]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with three_members(tmp_path) as engines:
        yield engines


def _view(engine: Engine, group_id: bytes) -> list[dict[str, object]]:
    """What a member sees of what members wrote, without what differs by nature (our own
    delivery status; the lines about joins, which start where each member joined)."""
    return [
        {k: v for k, v in message_json(m).items() if k != "status"}
        for m in engine.messages(group_id)
        if m.kind == "text"
    ]


def _id(engine: Engine, group_id: bytes, text: str) -> bytes:
    for message in engine.messages(group_id):
        if message.text == text and message.message_id is not None:
            return message.message_id
    raise AssertionError(f"no message {text!r}")


def test_replies_edits_reactions_and_deletes_converge_for_everyone(world: World) -> None:
    alice, bob, carol = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob, carol)
        await alice.send_text(group_id, "Meeting at 6?")
        await sync_all(bob, carol)
        question = _id(bob, group_id, "Meeting at 6?")
        await bob.conversation.reply(group_id, question, "Yes, at the depot")
        await alice.conversation.edit(group_id, question, "Meeting at 7?")
        await bob.conversation.react(group_id, question, "👍")
        await carol.conversation.react(group_id, question, "👍")
        await carol.conversation.react(group_id, question, "✊")
        await carol.conversation.react(group_id, question, "✊", on=False)
        await sync_all(alice, bob, carol, alice)
        return group_id

    group_id = run(scenario())
    seen = _view(alice, group_id)
    assert seen == _view(bob, group_id) == _view(carol, group_id)
    question, reply = seen[0], seen[1]
    assert question["text"] == "Meeting at 7?" and question["edited"] is True
    assert question["reactions"] == {"👍": ["Bob", "Carol"]}
    assert reply["reply_to"] == question["id"] and reply["text"] == "Yes, at the depot"
    assert len(seen) == 2  # the edit and the reactions are not messages of their own

    async def delete() -> None:
        await alice.conversation.delete(group_id, bytes.fromhex(str(question["id"])))
        await sync_all(bob, carol)

    run(delete())
    for engine in (alice, bob, carol):
        gone = _view(engine, group_id)[0]
        assert (gone["deleted"], gone["text"], gone["reactions"]) == (True, "", {})
        assert engine.search("Meeting") == []  # gone from the search index too
        # ...and from every stored row: neither text, old or edited, is left in a body.
        stored = b"".join(
            bytes(body) + str(text).encode()
            for text, body in engine.db.all("SELECT text, body FROM messages")
        )
        assert b"Meeting at" not in stored
        assert _view(engine, group_id)[1]["reply_to"] == question["id"]  # the reply stays


def test_only_the_author_edits_or_deletes_and_a_forged_edit_is_refused_by_all(
    world: World,
) -> None:
    alice, bob, carol = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob, carol)
        await alice.send_text(group_id, "Rates are 14 an hour")
        await sync_all(bob, carol)
        target = _id(bob, group_id, "Rates are 14 an hour")
        with pytest.raises(NotPermittedHere):
            await bob.conversation.edit(group_id, target, "Rates are 9 an hour")
        with pytest.raises(NotPermittedHere):
            await bob.conversation.delete(group_id, target)
        # A modified client skips its own check and sends the edit anyway: a signed
        # message from Bob naming Alice's message.
        forged = EditBody(target, "Rates are 9 an hour").encode()
        await bob.send_content(group_id, ContentType.EDIT, forged, "edited")
        # ...and a reaction to a message that does not exist.
        stray = ReactionBody(bytes(16), "👍").encode()
        await bob.send_content(group_id, ContentType.REACTION, stray, "reacted")
        await sync_all(alice, carol)
        return group_id

    group_id = run(scenario())
    for engine in (alice, carol):
        (message,) = [m for m in engine.messages(group_id) if m.kind == "text"]
        assert (message.text, message.edited) == ("Rates are 14 an hour", False)
        warnings = [row[0] for row in engine.db.all("SELECT detail FROM warnings")]
        assert any("only the author of a message can edit it" in w for w in warnings)
        assert any("does not have" in w for w in warnings)


def test_bad_input_is_one_clear_error(world: World) -> None:
    alice, bob, _ = world

    async def scenario() -> None:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob)
        await alice.send_text(group_id, "hello")
        target = _id(alice, group_id, "hello")
        with pytest.raises(ClientError, match="one emoji"):
            await alice.conversation.react(group_id, target, "x" * 40)
        with pytest.raises(ClientError, match="spaces"):
            await alice.conversation.react(group_id, target, "a b")
        with pytest.raises(ClientError, match="no such message"):
            await alice.conversation.reply(group_id, bytes(16), "to nothing")
        with pytest.raises(ClientError, match="empty"):
            await alice.conversation.edit(group_id, target, "")
        await alice.conversation.delete(group_id, target)
        with pytest.raises(ClientError, match="deleted"):
            await alice.conversation.edit(group_id, target, "again")

    run(scenario())
