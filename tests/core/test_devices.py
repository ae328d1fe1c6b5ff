"""Linked devices end to end (docs/protocol.md section 8): real engines over the real relay
app in-process. Alice links a laptop; both of her devices read everything, her history
moves to the laptop, and a removed laptop reads nothing sent afterwards."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import httpx
import pytest

from app.core.commands import SetVerified
from app.core.engine import Engine
from app.core.errors import NotPermittedHere
from app.core.views import MemberView
from crypto.ballot import BallotKind
from crypto.commit import seal_commit
from crypto.errors import DecryptionFailed, NotPermitted
from crypto.freshness import open_head_item
from crypto.group_log import EntryKind, LogEntry
from crypto.items import ItemType, peek_type
from crypto.key_schedule import EpochKeys, cap_hash, epoch_commitment
from crypto.message import open_sender_data
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all
from tests.core.test_group_flow import _relay_items


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.clock = Clock()
        self.app = make_relay(tmp_path, self.clock)
        self.transport = httpx.ASGITransport(app=self.app)
        self.engines = [
            make_engine(tmp_path, name, self.transport, self.clock)
            for name in ("alice", "bob", "laptop")
        ]

    async def link(self, first: Engine, index: int) -> Engine:
        """Link engine ``index`` as a device of ``first``; the new device's profile is
        opened again afterwards, as the next command or app start would."""
        new = self.engines[index]
        code = await first.link_device()
        assert code.startswith("caucus://link#")
        await new.devices.add(code)
        await first.sync()  # reads the request, adds the device to every group
        report = await new.sync()  # installs the bundle
        assert report.joined == tuple(first.active_group_ids())
        await new.close()
        home = self.tmp_path / ("alice", "bob", "laptop")[index]
        reopened = Engine.open(
            home,
            f"passphrase of {home.name}",
            transport=self.transport,
            clock_ms=self.clock,
        )
        self.engines[index] = reopened
        return reopened


@pytest.fixture
def world(tmp_path: Path):
    world = World(tmp_path)
    yield world
    for engine in world.engines:
        run(engine.close())
    world.app.close()


def texts(engine: Engine, group_id: bytes) -> list[tuple[str, str]]:
    """What members said (the lines about joins and devices are events)."""
    return [(m.sender_name, m.text) for m in engine.messages(group_id) if m.kind == "text"]


def test_a_linked_device_gets_history_and_every_message_and_both_devices_are_one_member(
    world,
) -> None:
    alice, bob, _ = world.engines

    async def scenario() -> bytes:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        await alice.send_text(group_id, "before the laptop")
        await sync_all(bob)
        await bob.send_text(group_id, "hi alice")
        await sync_all(alice)
        laptop = await world.link(alice, 2)
        await sync_all(bob, alice, laptop)
        await bob.send_text(group_id, "to both of you")
        await laptop.send_text(group_id, "from the laptop")
        await sync_all(alice, bob, laptop)
        await alice.send_text(group_id, "from the desktop")
        await sync_all(alice, bob, laptop)
        return group_id

    group_id = run(scenario())
    laptop = world.engines[2]
    everything = {
        ("alice", "before the laptop"),
        ("bob", "hi alice"),
        ("bob", "to both of you"),
        ("alice", "from the laptop"),
        ("alice", "from the desktop"),
    }
    for engine in (alice, bob, laptop):
        assert set(texts(engine, group_id)) == everything, engine.name
        bad = [(m.text, m.warning) for m in engine.messages(group_id) if m.warning]
        assert not bad, (engine.name, bad)
    # The history came with the link (end to end encrypted in the bundle).
    assert ("alice", "before the laptop") in texts(laptop, group_id)
    # One member with one fingerprint everywhere; her messages are "mine" on both devices.
    for engine in (alice, bob, laptop):
        members = engine.members(group_id)
        assert sorted(m.name for m in members) == ["alice", "bob"]
    assert laptop.fingerprint == alice.fingerprint
    for engine in (alice, laptop):
        mine = {m.text for m in engine.messages(group_id) if m.is_mine and m.kind == "text"}
        assert mine == {"before the laptop", "from the laptop", "from the desktop"}
    assert {m.sender_fingerprint for m in bob.messages(group_id) if m.sender_name == "alice"} == {
        alice.fingerprint
    }
    # Both devices list the same two devices.
    for engine in (alice, laptop):
        listed = engine.devices.list()
        assert len(listed) == 2
        assert sum(v.is_identity for v in listed) == 1
        assert sum(v.is_this_device for v in listed) == 1
    assert [v.name for v in alice.devices.list() if not v.is_identity] == ["laptop"]


def test_a_removed_device_reads_nothing_sent_after_its_removal(world) -> None:
    alice, bob, _ = world.engines
    canary = "CANARY after the laptop was removed"

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        laptop = await world.link(alice, 2)
        await sync_all(bob, laptop)
        await bob.send_text(group_id, "while linked")
        await sync_all(laptop)
        # The laptop keeps a copy of every epoch key it holds before it is removed.
        (stolen,) = laptop.db.one("SELECT keys FROM epoch_keys WHERE group_id = ?", (group_id,))
        laptop_id = next(v.device_id for v in alice.devices.list() if not v.is_identity)
        assert await alice.devices.remove(laptop_id) == 1
        await bob.sync()
        await bob.send_text(group_id, canary)
        await alice.send_text(group_id, canary + " (alice)")
        await sync_all(alice, bob, laptop)
        return group_id, stolen

    group_id, stolen = run(scenario())
    laptop = world.engines[2]
    assert ("bob", "while linked") in texts(laptop, group_id)
    assert all(canary not in text for _, text in texts(laptop, group_id))
    assert ("bob", canary) in texts(alice, group_id)
    assert laptop.group(group_id).status == "removed"
    assert [v.is_identity for v in alice.devices.list()] == [True]
    # Even with the relay's whole database, the laptop's last epoch keys open nothing
    # sent after its removal.
    removal_seq = alice.db.one(
        "SELECT relay_seq FROM log_entries WHERE group_id = ? ORDER BY seq DESC LIMIT 1",
        (group_id,),
    )[0]
    later = [
        item
        for seq, item in _relay_items(world.app, alice.session(group_id).mailbox_id)
        if seq > removal_seq
    ]
    assert len(later) >= 2, "the canaries must be on the relay"
    laptop_keys = EpochKeys.decode(stolen)
    for item in later:
        opener = open_head_item if peek_type(item) is ItemType.HEAD else open_sender_data
        with pytest.raises(DecryptionFailed):
            opener(laptop_keys, item)


def test_only_a_new_profile_can_be_linked_and_only_the_first_device_links(world) -> None:
    alice, bob, _ = world.engines

    async def scenario() -> None:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        code = await alice.link_device()
        with pytest.raises(NotPermittedHere):
            await bob.devices.add(code)  # bob is in a group already
        laptop = await world.link(alice, 2)
        with pytest.raises(NotPermittedHere):
            await laptop.link_device()
        other = await alice.create_group("Other")
        with pytest.raises(NotPermittedHere):  # it would join as a member of its own
            await laptop.join(await alice.create_invite(other))

    run(scenario())


def test_a_member_votes_once_whichever_device_it_uses(world) -> None:
    alice, bob, _ = world.engines

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        await sync_all(alice, bob)
        await sync_all(alice, bob)  # both ballot keys registered and seen
        laptop = await world.link(alice, 2)
        await sync_all(alice, bob, laptop)
        ballot_id = await bob.ballots.create(
            group_id,
            "Do we take the offer?",
            kind=BallotKind.SINGLE,
            options=("Accept", "Reject"),
            closes_at=world.clock.now + 3_600_000,
        )
        await sync_all(alice, laptop)
        await alice.ballots.vote(ballot_id, "Accept", delay_ms=0)
        await sync_all(bob, laptop)
        with pytest.raises(NotPermittedHere):
            await laptop.ballots.vote(ballot_id, "Reject", delay_ms=0)
        return group_id, ballot_id

    group_id, ballot_id = run(scenario())
    laptop = world.engines[2]
    on_laptop = laptop.ballots.ballot(group_id, ballot_id)
    assert on_laptop.voted_on_another_device and on_laptop.my_revision == 0
    assert on_laptop.i_am_eligible  # the member's key came with the link
    on_desktop = alice.ballots.ballot(group_id, ballot_id)
    assert on_desktop.my_revision == 0 and not on_desktop.voted_on_another_device
    assert bob.ballots.ballot(group_id, ballot_id).voted == 1  # one member, one vote
    assert not laptop.ballots.ballot(group_id, ballot_id).my_vote_pending


def test_the_safety_number_changes_for_a_verified_member_when_a_device_is_added(world) -> None:
    alice, bob, _ = world.engines

    def alice_as_bob_sees_her(group_id: bytes) -> MemberView:
        return next(m for m in bob.members(group_id) if m.name == "alice")

    async def scenario() -> tuple[bytes, str]:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        before = bob.member_safety_number(group_id, alice.fingerprint)
        # Bob compares numbers with Alice and marks her verified (as the dialog does).
        shown = alice_as_bob_sees_her(group_id)
        await SetVerified(shown.identity_pk, shown.name, True, shown.devices).run(bob)
        assert bob.verified_keys()[shown.identity_pk].covers(shown.devices)
        await world.link(alice, 2)
        await bob.sync()
        return group_id, before

    group_id, before = run(scenario())
    # The mark covered Alice as she was: with a device more, it no longer counts (the
    # desktop shows "changed, compare again"), though her identity key is the same.
    now = alice_as_bob_sees_her(group_id)
    mark = bob.verified_keys()[now.identity_pk]
    assert now.devices and not mark.covers(now.devices)
    after = bob.member_safety_number(group_id, alice.fingerprint)
    assert after != before and len(after) == 60
    assert after == alice.member_safety_number(group_id, bob.fingerprint)
    assert after == world.engines[2].member_safety_number(group_id, bob.fingerprint)
    # The change is visible where Bob reads: a line in the chat names whose number changed.
    lines = [m.text for m in bob.messages(group_id) if m.kind == "event"]
    assert "alice linked a new device; alice's safety number changed" in lines


def test_a_member_cannot_put_someone_elses_device_into_a_group(world) -> None:
    """A modified client (Bob's) copies Alice's genuine DEVICE_ADD body from one group's
    log into a commit of its own in another group: every honest client refuses it."""
    alice, bob, _ = world.engines

    async def scenario() -> tuple[bytes, bytes]:
        first = await alice.create_group("Riders")
        await befriend(alice, first, bob)
        laptop = await world.link(alice, 2)
        await sync_all(bob, laptop)
        second = await alice.create_group("Couriers")
        await befriend(alice, second, bob)
        copied = next(
            e for e in bob.log(first) if e.kind == EntryKind.DEVICE_ADD
        ).body  # Alice's certificate of the laptop and the laptop's delivery key
        session = bob.session(second)
        keys, state = session.keys, session.state
        assert keys is not None
        secret = os.urandom(32)
        entry = LogEntry.sign(
            bob.identity,
            group_id=second,
            seq=state.seq + 1,
            prev_hash=state.head,
            timestamp=world.clock(),
            kind=EntryKind.DEVICE_ADD,
            body=copied,
            epoch_commitment=epoch_commitment(second, state.seq + 1, secret),
        )
        with pytest.raises(NotPermitted):  # Bob's honest client would not even sign it
            state.apply(entry)
        fake_state = dataclasses.replace(state, seq=entry.seq, head=entry.hash)
        item = seal_commit(keys, entry, fake_state, secret, os.urandom)
        new_cap = EpochKeys.derive(second, entry.seq, secret).mailbox_cap
        await bob.relay(session.relay_url).post_commit(
            session.mailbox_id, keys.mailbox_cap, state.head, entry.hash, cap_hash(new_cap), item
        )
        await alice.sync()
        return second, laptop.identity.public_key

    second, laptop_pk = run(scenario())
    state = alice.group_state(second)[0]
    assert not state.is_member(laptop_pk)
    assert state.devices_of(alice.identity.public_key) == ()
    warnings = [
        row[0] + ": " + row[1]
        for row in alice.db.all("SELECT kind, detail FROM warnings WHERE group_id = ?", (second,))
    ]
    assert any("NotPermitted" in w for w in warnings), warnings


def test_any_device_of_a_member_edits_and_reacts_as_the_member(world) -> None:
    alice, bob, _ = world.engines

    async def scenario() -> bytes:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        laptop = await world.link(alice, 2)
        await sync_all(bob, laptop)
        await alice.send_text(group_id, "typed on the desktop")
        await sync_all(laptop)
        sent = next(m for m in laptop.messages(group_id) if m.text == "typed on the desktop")
        assert sent.is_mine and sent.message_id is not None
        await laptop.conversation.edit(group_id, sent.message_id, "fixed on the laptop")
        await laptop.conversation.react(group_id, sent.message_id, "👍")
        await sync_all(alice, bob, laptop)  # bob gets the message and its edit in one batch
        return group_id

    group_id = run(scenario())
    for engine in world.engines:
        shown = [m.text for m in engine.messages(group_id)]
        assert "fixed on the laptop" in shown and "typed on the desktop" not in shown
        assert all(m.warning is None for m in engine.messages(group_id))
