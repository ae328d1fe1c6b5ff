"""Linked devices end to end (docs/protocol.md section 8): real engines over the real relay
app in-process. Alice links a laptop; both of her devices read everything, her history
moves to the laptop, and a removed laptop reads nothing sent afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import httpx
import pytest

from app.core.backup import create_backup, read_recovery_words, restore_backup
from app.core.commands import SetVerified
from app.core.engine import Engine
from app.core.errors import NotPermittedHere
from app.core.events import GroupJoined, MessageAdded
from app.core.views import MemberView
from crypto.ballot import BallotKind
from crypto.commit import seal_commit
from crypto.device import DeviceAddBody, device_id
from crypto.device_channel import DeviceWelcome, channel_secrets
from crypto.device_link import LinkKind, open_link_item, seal_link_item
from crypto.errors import DecryptionFailed, NotPermitted
from crypto.freshness import open_head_item
from crypto.group_log import EntryKind, LogEntry
from crypto.identity import DeliveryCert
from crypto.items import ItemType, peek_type
from crypto.key_schedule import EpochKeys, cap_hash, epoch_commitment
from crypto.message import open_sender_data
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all
from tests.core.test_cli import RelayProcess
from tests.core.test_group_flow import _relay_items
from tests.core.test_rewind import member as rewind_member
from tests.core.test_rewind import relay_admin

NAMES = ("alice", "bob", "laptop", "tablet")


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.clock = Clock()
        self.app = make_relay(tmp_path, self.clock)
        self.transport = httpx.ASGITransport(app=self.app)
        self.engines = [
            make_engine(tmp_path, name, self.transport, self.clock) for name in NAMES[:3]
        ]

    def add_tablet(self) -> None:
        """A fourth profile (index 3) for tests with two linked devices."""
        self.engines.append(make_engine(self.tmp_path, NAMES[3], self.transport, self.clock))

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
        home = self.tmp_path / NAMES[index]
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
    # Alice's own first device added her laptop to the later group (protocol 8.4, later
    # groups); Bob's copy of her certificate added nothing: no entry of his is in her log.
    adds = [e for e in alice.log(second) if e.kind == EntryKind.DEVICE_ADD]
    assert [e.author for e in adds] == [alice.identity.public_key]
    assert alice.group_state(second)[0].devices_of(alice.identity.public_key) == (laptop_pk,)
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


# -- later groups (protocol 8.4, "Later groups") ----------------------------------------


def test_a_group_created_after_linking_reaches_the_laptop_without_linking_again(world) -> None:
    """Alice links her laptop, then creates a group and Bob joins: after a sync the laptop
    reads Bob, its own message reaches both, and its vote is Alice's one vote."""
    alice, bob, _ = world.engines

    async def scenario() -> tuple[bytes, bytes]:
        laptop = await world.link(alice, 2)  # Alice is in no group yet
        later = await alice.create_group("Couriers")
        await befriend(alice, later, bob)
        await sync_all(alice, bob)  # the ballot keys are registered and seen
        report = await laptop.sync()
        assert report.joined == (later,), report
        assert not report.warnings, report
        await bob.send_text(later, "hello to both of your computers")
        await sync_all(laptop)
        await laptop.send_text(later, "typed on the laptop")
        await sync_all(alice, bob, laptop)
        ballot_id = await bob.ballots.create(
            later,
            "Strike on Friday?",
            kind=BallotKind.SINGLE,
            options=("Yes", "No"),
            closes_at=world.clock.now + 3_600_000,
        )
        await sync_all(alice, laptop)
        await laptop.ballots.vote(ballot_id, "Yes", delay_ms=0)
        await sync_all(laptop, bob, alice)
        with pytest.raises(NotPermittedHere):  # Alice voted already, from her laptop
            await alice.ballots.vote(ballot_id, "No", delay_ms=0)
        return later, ballot_id

    later, ballot_id = run(scenario())
    laptop = world.engines[2]
    said = {("bob", "hello to both of your computers"), ("alice", "typed on the laptop")}
    for engine in (alice, bob, laptop):
        assert said <= set(texts(engine, later)), engine.name
        assert all(m.warning is None for m in engine.messages(later)), engine.name
        assert sorted(m.name for m in engine.members(later)) == ["alice", "bob"]
    mine = {m.text for m in laptop.messages(later) if m.is_mine and m.kind == "text"}
    assert mine == {"typed on the laptop"}
    assert laptop.ballots.ballot(later, ballot_id).i_am_eligible
    assert bob.ballots.ballot(later, ballot_id).voted == 1
    assert alice.ballots.ballot(later, ballot_id).voted_on_another_device
    # Each group got its own delivery key for the laptop (protocol 3.2): none repeats.
    slot = [
        alice.group_state(later)[0].member(laptop.identity.public_key).delivery_cert.delivery_pk
    ]
    for group_id in alice.active_group_ids():
        if group_id != later:
            state = alice.group_state(group_id)[0]
            if state.is_member(laptop.identity.public_key):
                slot.append(state.member(laptop.identity.public_key).delivery_cert.delivery_pk)
    assert len(slot) == len(set(slot))
    assert [v.name for v in alice.devices.list() if not v.is_identity] == ["laptop"]
    # Nothing of it is readable on the relay: not the group's name, a message, the
    # device's name (in its certificate, inside the sealed welcome and commit).
    stored = b"".join(p.read_bytes() for p in world.tmp_path.glob("relay.db*"))
    for canary in (b"Couriers", b"typed on the laptop", b"Strike on Friday", b"laptop"):
        assert canary not in stored, canary


def test_a_group_alice_joins_after_linking_reaches_the_laptop(world) -> None:
    alice, bob, _ = world.engines

    async def scenario() -> tuple[bytes, bytes]:
        first = await alice.create_group("Riders")
        await befriend(alice, first, bob)
        laptop = await world.link(alice, 2)
        await sync_all(laptop)  # sends the first device its keys for later groups
        bobs = await bob.create_group("Bob's group")
        await befriend(bob, bobs, alice)  # admitted after the laptop was linked
        await sync_all(alice)  # Alice's first device adds her laptop
        report = await laptop.sync()
        assert report.joined == (bobs,), report
        assert not report.warnings, report
        await bob.send_text(bobs, "welcome alice")
        await sync_all(laptop, alice)
        await laptop.send_text(bobs, "thanks from the laptop")
        await sync_all(bob, alice)
        return first, bobs

    first, bobs = run(scenario())
    laptop = world.engines[2]
    assert set(laptop.active_group_ids()) == {first, bobs}
    for engine in (alice, bob, laptop):
        assert {("bob", "welcome alice"), ("alice", "thanks from the laptop")} <= set(
            texts(engine, bobs)
        ), engine.name
    state = bob.group_state(bobs)[0]
    assert state.devices_of(alice.identity.public_key) == (laptop.identity.public_key,)
    # The laptop was added by Alice's own first device, not by Bob or the relay.
    adds = [e for e in bob.log(bobs) if e.kind == EntryKind.DEVICE_ADD]
    assert [e.author for e in adds] == [alice.identity.public_key]


def test_a_removed_device_is_not_added_to_a_group_created_after_its_removal(world) -> None:
    alice, bob, _ = world.engines

    async def scenario() -> tuple[bytes, list[str]]:
        first = await alice.create_group("Riders")
        await befriend(alice, first, bob)
        laptop = await world.link(alice, 2)
        await sync_all(laptop)  # its keys for later groups are on the channel
        laptop_id = next(v.device_id for v in alice.devices.list() if not v.is_identity)
        assert await alice.devices.remove(laptop_id) == 1
        later = await alice.create_group("After the laptop")
        await befriend(alice, later, bob)
        await sync_all(alice, laptop, alice, bob)
        warnings = list((await laptop.sync()).warnings)
        return later, warnings

    later, warnings = run(scenario())
    laptop = world.engines[2]
    laptop_pk = laptop.identity.public_key
    assert not alice.group_state(later)[0].is_member(laptop_pk)
    assert not any(e.kind == EntryKind.DEVICE_ADD for e in alice.log(later))
    assert later not in laptop.active_group_ids()
    assert [v.is_identity for v in alice.devices.list()] == [True]
    # The channel was deleted on the relay; the laptop says so once.
    assert laptop.db.one("SELECT closed FROM device_channels")[0] == 1
    spares = "SELECT count(*) FROM delivery_keys WHERE join_code LIKE 'device-spare:%'"
    assert laptop.db.one(spares)[0] == 0  # nothing can be sealed to them any more
    assert alice.db.one("SELECT closed FROM device_channels")[0] == 1
    assert warnings == [], warnings  # said on the sync before; a closed channel is quiet


def test_a_forged_later_welcome_on_the_device_channel_is_refused(world) -> None:
    """Bob holds the relay's whole view and, worse, the channel's key (as if he had seen
    the link code): he posts a later welcome to Alice's laptop for a group of his own,
    sealed to a spare key the laptop sent, and replays Alice's genuine welcome. The
    laptop refuses the forgery (only Alice signs) and the replay changes nothing."""
    alice, bob, _ = world.engines

    async def scenario() -> tuple[bytes, bytes, list[str]]:
        laptop = await world.link(alice, 2)
        riders = await alice.create_group("Riders")
        await sync_all(alice, laptop)  # a genuine later welcome, entered
        trap = await bob.create_group("Bob's trap")
        await sync_all(bob)
        (secret, relay_url) = alice.db.one("SELECT link_secret, relay_url FROM device_channels")
        (spare,) = alice.db.one("SELECT cert FROM device_spare_keys WHERE group_id IS NULL LIMIT 1")
        key = DeliveryCert.decode(bytes(spare))
        channel = channel_secrets(bytes(secret))
        relay = bob.relay(relay_url)
        # Bob signs where Alice must; the welcome inside is his to choose.
        forged = DeviceWelcome.seal(bob.identity, key, os.urandom(400), trap, bytes(32), os.urandom)
        forged_item = seal_link_item(channel, LinkKind.WELCOME, forged, os.urandom)
        await relay.post_item(channel.mailbox_id, channel.capability, forged_item)
        stored = await relay.fetch(channel.mailbox_id, channel.capability, 0)
        genuine = [
            item
            for _, item in stored.items
            if open_link_item(channel, item)[0] == LinkKind.WELCOME and item != forged_item
        ]
        assert len(genuine) == 1
        for item in genuine:  # as a relay replaying them would
            await relay.post_item(channel.mailbox_id, channel.capability, item)
        report = await laptop.sync()
        return riders, trap, list(report.warnings)

    riders, _trap, warnings = run(scenario())
    laptop = world.engines[2]
    assert laptop.active_group_ids() == [riders]
    refused = [w for w in warnings if "refused a welcome on the device channel" in w]
    assert len(refused) == 1 and "signature" in refused[0].lower(), warnings
    assert len(warnings) == 1, warnings  # the replay of Alice's welcome was skipped quietly


def test_the_desktop_loop_adds_and_enters_a_later_group_without_anyone_syncing(world) -> None:
    """Both of Alice's computers only run the desktop app's loop (``Engine.run``): she
    asked to join Bob's group before linking; once Bob admits her, her first device adds
    the laptop and the laptop enters the group and reads Bob."""
    alice, bob, _ = world.engines

    async def scenario() -> bytes:
        bobs = await bob.create_group("Bob's group")
        await alice.join(await bob.create_invite(bobs))  # pending while she links
        laptop = await world.link(alice, 2)
        entered, heard = asyncio.Event(), asyncio.Event()

        def listen(event: object) -> None:
            if isinstance(event, GroupJoined) and event.group_id == bobs:
                entered.set()
            if isinstance(event, MessageAdded) and event.message.text == "hello laptop":
                heard.set()

        laptop.subscribe(listen)
        stop = asyncio.Event()
        loops = [
            asyncio.create_task(engine.run(stop, poll=1, tick=0.05)) for engine in (alice, laptop)
        ]
        try:
            report = await bob.sync()
            assert report.admitted == 1, report
            await asyncio.wait_for(entered.wait(), timeout=120)
            await bob.sync()  # Bob's client reads the DEVICE_ADD
            await bob.send_text(bobs, "hello laptop")
            await asyncio.wait_for(heard.wait(), timeout=120)
        finally:
            stop.set()
            await asyncio.gather(*loops)
        return bobs

    bobs = run(scenario())
    assert ("bob", "hello laptop") in texts(world.engines[2], bobs)


def test_a_later_welcome_that_expired_on_the_relay_is_reported_on_the_laptop(world) -> None:
    """The relay keeps items 90 days (docs/protocol.md 6.2). A laptop away longer misses a
    welcome posted meanwhile: it is not in that group, and its sync says what to do."""
    alice, bob, _ = world.engines

    async def scenario() -> tuple[bytes, tuple[str, ...]]:
        laptop = await world.link(alice, 2)
        later = await alice.create_group("While the laptop was away")
        await befriend(alice, later, bob)  # Alice's device adds the laptop, posts the welcome
        assert alice.group_state(later)[0].is_member(laptop.identity.public_key)
        world.clock.advance(days=91)
        assert (await world.app.relay.purge()).items > 0
        return later, (await laptop.sync()).warnings

    later, warnings = run(scenario())
    assert later not in world.engines[2].active_group_ids()
    assert any("expired on the relay" in w and "link this computer again" in w for w in warnings)


def test_a_device_removed_by_another_linked_device_is_not_added_to_a_later_group(world) -> None:
    """The laptop removes the tablet (both Alice's); Alice's first device learns it from
    the DEVICE_REMOVE in the log and never adds the tablet to a group created afterwards."""
    alice, bob, _ = world.engines
    world.add_tablet()

    async def scenario() -> bytes:
        first = await alice.create_group("Riders")
        await befriend(alice, first, bob)
        laptop = await world.link(alice, 2)
        tablet = await world.link(alice, 3)
        await sync_all(laptop, tablet, alice)
        tablet_id = device_id(tablet.identity.public_key)
        assert await laptop.devices.remove(tablet_id) == 1
        await sync_all(alice, bob)
        later = await alice.create_group("Couriers")
        await befriend(alice, later, bob)
        await sync_all(alice, laptop, tablet, alice)
        return later

    later = run(scenario())
    laptop, tablet = world.engines[2], world.engines[3]
    state = alice.group_state(later)[0]
    assert state.devices_of(alice.identity.public_key) == (laptop.identity.public_key,)
    assert later in laptop.active_group_ids() and later not in tablet.active_group_ids()
    assert [v.name for v in alice.devices.list() if not v.is_identity] == ["laptop"]


def test_keys_that_expired_unread_are_asked_for_again_and_the_device_still_gets_added(
    world,
) -> None:
    """The laptop's keys expire on the relay before Alice's first device reads them (it
    was away 91 days). Her device asks the laptop for keys (kind 5), the laptop sends new
    ones on its next sync, and the group created meanwhile reaches it."""
    alice, _, _ = world.engines

    async def scenario() -> tuple[bytes, tuple[str, ...]]:
        laptop = await world.link(alice, 2)  # the laptop posted its keys while installing
        world.clock.advance(days=91)
        assert (await world.app.relay.purge()).items > 0
        later = await alice.create_group("After the holidays")
        first = await alice.sync()
        assert not alice.group_state(later)[0].is_member(laptop.identity.public_key)
        await laptop.sync()  # sees the request, sends fresh keys
        await alice.sync()  # adds the laptop
        report = await laptop.sync()
        assert report.joined == (later,), report
        return later, first.warnings

    later, warnings = run(scenario())
    assert any("has no unused keys here" in w for w in warnings), warnings
    assert later in world.engines[2].active_group_ids()


def test_a_first_device_restored_from_a_backup_never_gives_a_spent_key_to_another_group(
    world,
) -> None:
    """Alice backs up, then her first device spends one of the laptop's keys on a new
    group; she restores the backup (which still lists that key as unused) and creates
    another group. The restored copy asks the laptop for fresh keys instead of sealing a
    second group's welcome to a key already serving the first (protocol 3.2, 8.4)."""
    alice, _, _ = world.engines
    home = world.tmp_path / "alice-restored"

    async def scenario() -> tuple[bytes, bytes, Engine]:
        laptop = await world.link(alice, 2)
        await sync_all(alice)  # stores the laptop's keys
        made = create_backup(
            alice.db, world.tmp_path / "alice", world.tmp_path / "b", rng=os.urandom, now=1
        )
        assert made.recovery_words is not None
        first = await alice.create_group("After the backup")
        await sync_all(alice, laptop)
        await alice.close()
        restore_backup(
            made.path,
            read_recovery_words(made.recovery_words),
            home,
            "restored passphrase for alice",
            rng=os.urandom,
            now=2,
            cost="interactive",
        )
        restored = Engine.open(
            home, "restored passphrase for alice", transport=world.transport, clock_ms=world.clock
        )
        world.engines[0] = restored
        second = await restored.create_group("After the restore")
        await sync_all(restored, laptop, restored)
        report = await laptop.sync()
        assert report.joined == (second,), report
        return first, second, laptop

    first, second, laptop = run(scenario())
    restored = world.engines[0]
    laptop_pk = laptop.identity.public_key

    def added_with(engine: Engine, group_id: bytes) -> bytes:
        """The delivery key the DEVICE_ADD of the laptop listed (it rotates later)."""
        (body,) = [
            DeviceAddBody.decode(e.body)
            for e in engine.log(group_id)
            if e.kind == EntryKind.DEVICE_ADD
        ]
        assert body.cert.device_pk == laptop_pk
        return body.delivery_cert.delivery_pk

    assert added_with(laptop, first) != added_with(restored, second)
    assert set(laptop.active_group_ids()) >= {first, second}


@pytest.mark.socket
def test_a_later_welcome_posted_after_a_relay_restore_is_not_missed(tmp_path: Path) -> None:
    """A real relay process restored from a backup hands the channel's sequence numbers
    out again: the laptop, whose cursor is past the backup, sees the new generation, reads
    its channel again and enters the group created after the restore."""
    relay = RelayProcess(tmp_path / "relay.db")
    relay.start()
    alice = rewind_member(tmp_path, "alice", relay.url)
    laptop = rewind_member(tmp_path, "laptop", relay.url)
    backup = tmp_path / "relay-backup.db"

    async def scenario() -> tuple[bytes, tuple[bytes, ...]]:
        try:
            return await steps()
        finally:
            await alice.close()
            await laptop.close()

    async def steps() -> tuple[bytes, tuple[bytes, ...]]:
        nonlocal laptop
        code = await alice.link_device()  # both mailboxes exist in the backup
        relay_admin("backup", "--db", str(relay.db), "--out", str(backup))
        await laptop.devices.add(code)
        await alice.sync()
        await laptop.sync()  # installs the bundle, posts its keys (channel item 1)
        await laptop.close()
        laptop = Engine.open(tmp_path / "laptop", "passphrase of laptop")
        await laptop.sync()  # reads its own item: its cursor is past the backup
        await alice.sync()  # stores the laptop's keys
        relay.stop()
        relay_admin("restore", "--from", str(backup), "--db", str(relay.db))
        relay.start()
        later = await alice.create_group("After the relay restore")
        await alice.sync()  # the welcome gets channel item 1 again
        report = await laptop.sync()
        return later, report.joined

    try:
        later, joined = run(scenario())
    finally:
        relay.stop()
    assert joined == (later,)


def test_a_device_linked_before_the_channel_existed_gets_later_groups_after_the_upgrade(
    world,
) -> None:
    """Profiles linked before migration 0024 have no device channel (no rows, no mailbox
    on the relay). After the upgrade the laptop opens the channel of the link it was
    linked with and posts its keys; Alice's first device finds them among its ended links
    and adds the laptop to a group created since."""
    alice, _, _ = world.engines

    async def scenario() -> tuple[bytes, tuple[bytes, ...]]:
        abandoned = await alice.link_device()  # a code shown and never used
        assert abandoned
        laptop = await world.link(alice, 2)
        # As before 0024: neither side has a channel, the relay has no channel mailbox.
        (secret, relay_url) = alice.db.one("SELECT link_secret, relay_url FROM device_channels")
        channel = channel_secrets(bytes(secret))
        await alice.relay(relay_url).delete_mailbox(channel.mailbox_id, channel.capability)
        for engine in (alice, laptop):
            with engine.db.transaction():
                engine.db.execute("DELETE FROM device_channels")
            with engine.db.transaction():
                engine.db.execute("DELETE FROM delivery_keys WHERE join_code LIKE 'device-spare:%'")
        with alice.db.transaction():
            alice.db.execute("DELETE FROM device_spare_keys")
        later = await alice.create_group("After the upgrade")
        await alice.sync()  # nothing to find yet
        assert not alice.group_state(later)[0].is_member(laptop.identity.public_key)
        await laptop.sync()  # opens the channel of its link, posts keys
        await alice.sync()  # finds the laptop's keys, adds it
        report = await laptop.sync()
        return later, report.joined

    later, joined = run(scenario())
    assert joined == (later,)
    rows = alice.db.all("SELECT device_pk FROM device_channels")
    assert [bytes(r[0]) for r in rows] == [world.engines[2].identity.public_key]
