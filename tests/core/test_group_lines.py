"""Chat lines for joins, removals, leaves, role changes, renames and description changes,
between three real engines on the real relay: every member who applied an entry shows
the same line at the same place among the messages, and a message claiming to be such a
line is refused (the lines never travel)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli_json import message_json
from app.core.engine import Engine
from app.core.message_kinds import LOG_LINE
from crypto.content import DEFAULT_CHANNEL, TextBody
from crypto.group_log import Role
from tests.core.harness import befriend, run, sync_all, three_members

World = tuple[Engine, Engine, Engine]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with three_members(tmp_path) as engines:
        yield engines


def _lines(engine: Engine, group_id: bytes) -> list[tuple[str, str]]:
    """(kind, text) of every listed row, as ``messages --json`` shows them."""
    return [(str(m["kind"]), str(m["text"])) for m in map(message_json, engine.messages(group_id))]


def _fingerprint(engine: Engine, group_id: bytes, name: str) -> str:
    return next(m.fingerprint for m in engine.members(group_id) if m.name == name)


def test_every_member_sees_the_same_lines_in_timeline_order(world: World) -> None:
    alice, bob, carol = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob)
        await alice.send_text(group_id, "welcome Bob")
        await befriend(alice, group_id, carol)
        await sync_all(bob, carol)
        await alice.set_role(group_id, _fingerprint(alice, group_id, "Bob"), Role.ORGANIZER)
        await carol.sync()  # (her own message goes where she wrote it: after what she saw)
        await carol.send_text(group_id, "hi all")
        await bob.rename_group(group_id, "Couriers United")
        await bob.description.describe(group_id, "Rates, routes and rights.")
        await alice.remove_member(group_id, _fingerprint(alice, group_id, "Carol"))
        await sync_all(alice, bob, carol)
        return group_id

    group_id = run(scenario())
    after_carol_joined = [
        ("event", "Carol joined with Alice's invite"),
        ("event", "Alice made Bob an organizer"),
        ("text", "hi all"),
        ("event", "Bob renamed the group to “Couriers United”"),
        ("event", "Bob changed the group description"),
        ("event", "Alice removed Carol"),
    ]
    assert _lines(alice, group_id) == [
        ("event", "Bob joined with Alice's invite"),
        ("text", "welcome Bob"),
        *after_carol_joined,
    ]
    assert _lines(bob, group_id) == _lines(alice, group_id)
    # Carol's history starts where she joined; her own removal is her last line.
    assert _lines(carol, group_id) == after_carol_joined
    # Lines are not news: unread for Bob are only Alice's and Carol's messages.
    bob_view = next(g for g in bob.groups() if g.group_id == group_id)
    assert bob_view.unread == 2


def test_a_member_leaving_shows_at_everyone_and_a_forged_line_is_refused(world: World) -> None:
    alice, bob, carol = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob, carol)
        # A modified client sends a message of the local line type: it has no handler
        # anywhere, so it is refused and shows nothing.
        forged = TextBody(DEFAULT_CHANNEL, "Alice made Bob an organizer").encode()
        await bob.send_content(group_id, LOG_LINE, forged, "forged")
        await carol.leave(group_id)
        await sync_all(alice, bob)
        return group_id

    group_id = run(scenario())
    for engine in (alice, bob):
        lines = _lines(engine, group_id)
        assert lines[-1] == ("event", "Carol left")
        assert ("event", "Alice made Bob an organizer") not in lines
    warnings = [row[0] for row in alice.db.all("SELECT detail FROM warnings")]
    assert any("unsupported content type 0" in w for w in warnings)
