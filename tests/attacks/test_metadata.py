"""Issue #9 item 7, run as the attack: a man in the middle in front of a real relay process
records everything the members post and tries to learn from it what version 1 gave away
(docs/threat-model.md, "What the relay sees").

- Votes: to drop or delay votes (splitting a tally) it must first find them.  Version 1
  gave them away with type 4 in the clear; now a vote and a message of similar length are
  the same to it, and a rule that drops "type 4" items drops nothing.
- Commits: version 1 showed the roster size as the count of sealed boxes and the entry's
  kind through the size; now commits for 3 and 5 members, of any kind, are the same.
"""

from __future__ import annotations

import struct

import pytest

from app.core.engine import Engine
from tests.attacks.mitm import FetchedItem, Seen
from tests.attacks.world import AttackWorld
from tests.core.harness import befriend, run

pytestmark = pytest.mark.socket

HOUR = 3_600_000


def _group_of_three(world: AttackWorld) -> tuple[bytes, Engine, Engine, Engine]:
    alice, bob, carol = (world.member(name) for name in ("alice", "bob", "carol"))

    async def go() -> bytes:
        group_id = await alice.create_group("Metadata")
        await befriend(alice, group_id, bob, carol)
        for _ in range(2):  # ballot keys registered, then spread
            for engine in (alice, bob, carol):
                await engine.sync()
        return group_id

    return run(go()), alice, bob, carol


def _visible(seen: Seen) -> tuple[str, int, bytes, int]:
    """Everything the adversary can read of a posted item without a key: where it went,
    its size, its header (version, type, epoch) and the ciphertext length field."""
    item = seen.item
    return seen.box, len(item), item[:10], struct.unpack_from(">I", item, 58)[0]


def _posted_since(world: AttackWorld, member: str, count: int) -> list[Seen]:
    return world.adversary.items(member=member, direction="up")[count:]


def test_the_relay_cannot_find_votes_to_drop(attack_world: AttackWorld) -> None:
    world = attack_world
    group_id, alice, bob, carol = _group_of_three(world)
    dropped: list[int] = []

    def drop_votes_the_version_1_way(item: FetchedItem) -> bool:
        if item.box.startswith("mailboxes/") and item.item[1:2] == b"\x04":
            dropped.append(item.seq)
            return True
        return False

    world.adversary.hide(drop_votes_the_version_1_way)

    async def define() -> bytes:
        ballot_id = await alice.ballots.create(
            group_id,
            "Strike on Friday?",
            options=("Yes", "No", "Later"),
            closes_at=world.clock() + HOUR,
        )
        await bob.sync()
        await carol.sync()
        return ballot_id

    ballot_id = run(define())
    before = len(world.adversary.items(member="bob", direction="up"))
    run(bob.send_text(group_id, "y" * 100))
    run(bob.ballots.vote(ballot_id, "Yes", delay_ms=0))
    message, vote = _posted_since(world, "bob", before)
    assert _visible(vote) == _visible(message)
    assert vote.item != message.item

    run(sync_everyone(alice, bob, carol))
    assert dropped == []
    for engine in (alice, bob, carol):
        assert engine.ballots.ballot(group_id, ballot_id).voted == 1
        assert "y" * 100 in [m.text for m in engine.messages(group_id)]


def test_commits_tell_neither_the_roster_size_nor_the_kind(attack_world: AttackWorld) -> None:
    world = attack_world
    group_id, alice, bob, carol = _group_of_three(world)
    dave, erin = world.member("dave"), world.member("erin")
    before = len(world.adversary.items(member="alice", direction="up"))
    run(alice.rekey(group_id))  # 3 members
    run(befriend(alice, group_id, dave, erin))  # INVITE and ADD commits, up to 5
    run(alice.rekey(group_id))  # 5 members
    # Commits go to the group's mailbox; an inbox item (a sealed welcome) is random from
    # its first byte and has type 2 there once in 256.
    posted = _posted_since(world, "alice", before)
    commits = [s for s in posted if s.box.startswith("mailboxes/") and s.item[1] == 2]
    assert len(commits) >= 6  # REKEY, 2 x (INVITE, ADD), REKEY
    shapes = set()
    for commit in commits:
        (length,) = struct.unpack_from(">I", commit.item, 34)
        (boxes,) = struct.unpack_from(">I", commit.item, 38 + length)
        shapes.add((len(commit.item), boxes))
    assert shapes == {(2304, 8)}
    run(sync_everyone(alice, bob, carol, dave, erin))
    assert len(erin.session(group_id).state.members) == 5


async def sync_everyone(*engines: Engine) -> None:
    for engine in engines:
        await engine.sync()
