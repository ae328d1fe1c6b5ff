"""The attack harness itself, checked against properties that already hold: if these
fail, the harness (not the protocol) is broken, and every attack test built on it is
suspect."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from crypto.items import ItemType, peek_item
from tests.attacks.mitm import FetchedItem
from tests.attacks.world import AttackWorld
from tests.core.harness import befriend, run

pytestmark = pytest.mark.socket


def _group_of_three(world: AttackWorld) -> bytes:
    alice, bob, carol = (world.member(name) for name in ("alice", "bob", "carol"))

    async def go() -> bytes:
        group_id = await alice.create_group("Harness")
        await befriend(alice, group_id, bob, carol)
        for engine in (alice, bob, carol):
            await engine.sync()
        return group_id

    return run(go())


def test_an_item_hidden_from_one_member_still_reaches_the_others(
    attack_world: AttackWorld,
) -> None:
    group_id = _group_of_three(attack_world)
    alice, bob, carol = (attack_world.member(n) for n in ("alice", "bob", "carol"))
    hidden: list[int] = []

    def first_message_for_bob(item: FetchedItem) -> bool:
        if item.member != "bob" or peek_item(item.item)[1] != ItemType.MESSAGE:
            return False
        if not hidden or hidden == [item.seq]:
            hidden.append(item.seq)
            return True
        return False

    attack_world.adversary.hide(first_message_for_bob)

    async def go() -> None:
        await alice.send_text(group_id, "one")
        await alice.send_text(group_id, "two")
        await bob.sync()
        await carol.sync()

    run(go())
    assert [m.text for m in carol.messages(group_id)][-2:] == ["one", "two"]
    bob_texts = [(m.text, m.warning) for m in bob.messages(group_id)]
    assert [text for text, _ in bob_texts][-1:] == ["two"]
    assert "one" not in [text for text, _ in bob_texts]
    assert bob_texts[-1][1] is not None  # the gap is flagged (P4), through the harness
    assert hidden, "the rule never saw the message"


def test_the_recording_holds_every_item_and_no_plaintext(attack_world: AttackWorld) -> None:
    group_id = _group_of_three(attack_world)
    alice, bob = attack_world.member("alice"), attack_world.member("bob")
    canary = "canary-7f3a the union meets at the depot"

    async def go() -> None:
        await alice.send_text(group_id, canary)
        await bob.sync()

    run(go())
    posted = attack_world.adversary.items(member="alice", direction="up")
    shown = attack_world.adversary.items(member="bob", direction="down")
    assert posted and posted[-1].item in {seen.item for seen in shown}
    assert canary.encode() not in attack_world.adversary.traffic()
    assert [m.text for m in bob.messages(group_id)][-1] == canary


def test_a_restore_comes_back_on_the_same_address_with_a_new_generation(
    attack_world: AttackWorld, tmp_path: Path
) -> None:
    relay = attack_world.relay
    before = httpx.get(relay.url + "/health").json()["generation"]
    relay.backup(tmp_path / "copy.db")
    url = relay.url
    relay.restore(tmp_path / "copy.db")
    assert relay.url == url
    assert httpx.get(relay.url + "/health").json()["generation"] != before
