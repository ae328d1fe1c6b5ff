"""Three members against the real relay app in-process: the life of a group.

Covers P2 (membership decided by the signed log), P3 (sender authentication), P5 (a
removed member reads nothing afterwards; old epoch keys are deleted).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.core.delivery_keys import KeyPolicy
from app.core.engine import Engine
from app.core.errors import ClientError, NotFound, NotPermittedHere
from crypto.errors import DecryptionFailed
from crypto.freshness import open_head_item
from crypto.group_log import Role
from crypto.items import ItemType, peek_type
from crypto.key_schedule import EpochKeys
from crypto.message import open_sender_data
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all


@pytest.fixture
def world(tmp_path: Path):
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    engines = [make_engine(tmp_path, name, transport, clock) for name in ("alice", "bob", "carol")]
    yield app, clock, engines
    for engine in engines:
        run(engine.close())
    app.close()


def texts(engine: Engine, group_id: bytes) -> list[tuple[str, str]]:
    """What members said (the lines about joins are events, tests/core/test_group_lines)."""
    return [(m.sender_name, m.text) for m in engine.messages(group_id) if m.kind == "text"]


def test_three_members_talk_and_see_the_same_roster(world) -> None:
    _, _, (alice, bob, carol) = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        await alice.send_text(group_id, "contract draft is ready")
        await sync_all(bob)
        await bob.send_text(group_id, "thanks, reading it")
        await sync_all(alice, bob, carol)
        return group_id

    group_id = run(scenario())
    rosters = [
        sorted((m.name, m.role, m.fingerprint) for m in e.members(group_id))
        for e in (alice, bob, carol)
    ]
    assert rosters[0] == rosters[1] == rosters[2]
    assert [(name, role) for name, role, _ in rosters[0]] == [
        ("alice", "organizer"),
        ("bob", "member"),
        ("carol", "member"),
    ]
    expected = {("alice", "contract draft is ready"), ("bob", "thanks, reading it")}
    for engine in (alice, bob, carol):
        assert set(texts(engine, group_id)) == expected
        assert all(m.warning is None for m in engine.messages(group_id))
    said = [m for m in alice.messages(group_id) if m.kind == "text"]  # not the join lines
    assert said[0].status == "sent"
    first = next(m for m in carol.messages(group_id) if m.kind == "text")
    assert first.sender_fingerprint == alice.fingerprint


def test_removed_member_reads_nothing_sent_afterwards(world, tmp_path: Path) -> None:
    app, _, (alice, bob, carol) = world

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        await alice.send_text(group_id, "before removal")
        await sync_all(carol)
        # Carol keeps a copy of every key she holds before she is removed.
        (stolen_secret,) = carol.db.one(
            "SELECT keys FROM epoch_keys WHERE group_id = ?", (group_id,)
        )
        await alice.remove_member(group_id, carol.fingerprint)
        await alice.send_text(group_id, "after removal: the new rate card")
        await sync_all(bob, carol)
        return group_id, stolen_secret

    group_id, stolen = run(scenario())
    assert ("alice", "after removal: the new rate card") in texts(bob, group_id)
    assert texts(carol, group_id) == [("alice", "before removal")]
    assert carol.group(group_id).status == "removed"
    assert carol.db.one("SELECT count(*) FROM epoch_keys WHERE group_id = ?", (group_id,))[0] == 0
    assert [m.name for m in bob.members(group_id)] == ["alice", "bob"]

    # Even with the relay's whole database, Carol's last epoch key opens nothing newer.
    mailbox_id = alice.session(group_id).mailbox_id
    carol_keys = EpochKeys.decode(stolen)
    later = [
        item
        for seq, item in _relay_items(app, mailbox_id)
        if seq
        > alice.db.one(
            "SELECT relay_seq FROM log_entries WHERE group_id = ? ORDER BY seq DESC LIMIT 1",
            (group_id,),
        )[0]
    ]
    assert later, "the message after the removal must be on the relay"
    for item in later:
        # Alice's client also publishes a freshness head after the removal (section 4.4).
        opener = open_head_item if peek_type(item) is ItemType.HEAD else open_sender_data
        with pytest.raises(DecryptionFailed):
            opener(carol_keys, item)


def _relay_items(app, mailbox_id: bytes) -> list[tuple[int, bytes]]:
    import sqlite3

    path = app.relay.config.db_path
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        table = "items" if "items" in tables else tables[0]
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        seq_col = "seq" if "seq" in columns else columns[0]
        body_col = next(c for c in ("body", "item", "data") if c in columns)
        return [
            (seq, bytes(body))
            for seq, body in conn.execute(f"SELECT {seq_col}, {body_col} FROM {table}")
        ]
    finally:
        conn.close()


def test_member_offline_for_weeks_catches_up_across_epochs(world) -> None:
    _, clock, (alice, bob, carol) = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        # Bob goes away for three weeks; the group changes several times meanwhile.
        for day in range(21):
            clock.advance(days=1)
            await alice.send_text(group_id, f"day {day}")
        await befriend(alice, group_id, carol)
        await carol.send_text(group_id, "hello, I am new")
        await alice.remove_member(group_id, carol.fingerprint)
        await alice.send_text(group_id, "carol left for now")
        await sync_all(bob)
        return group_id

    group_id = run(scenario())
    received = texts(bob, group_id)
    assert [t for _, t in received[:21]] == [f"day {d}" for d in range(21)]
    assert received[21:] == [("carol", "hello, I am new"), ("alice", "carol left for now")]
    assert [m.name for m in bob.members(group_id)] == ["alice", "bob"]
    assert all(m.warning is None for m in bob.messages(group_id))


def test_only_organizers_change_the_roster(world) -> None:
    _, _, (alice, bob, carol) = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        with pytest.raises(NotPermittedHere):
            await bob.remove_member(group_id, carol.fingerprint)
        with pytest.raises(NotPermittedHere):
            await bob.create_invite(group_id)
        await alice.set_role(group_id, bob.fingerprint, Role.ORGANIZER)
        await sync_all(bob)
        await bob.remove_member(group_id, carol.fingerprint)
        await sync_all(alice, carol)
        return group_id

    group_id = run(scenario())
    assert [(m.name, m.role) for m in alice.members(group_id)] == [
        ("alice", "organizer"),
        ("bob", "organizer"),
    ]
    assert carol.group(group_id).status == "removed"


def test_join_that_needs_approval_waits_for_an_organizer(world) -> None:
    _, _, (alice, bob, _) = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        code = await alice.create_invite(group_id, needs_approval=True)
        await bob.join(code)
        report = await alice.sync()
        assert report.admitted == 0
        pending = alice.join_requests(group_id)
        assert [(r.name, r.status, r.fingerprint) for r in pending] == [
            ("bob", "pending", bob.fingerprint)
        ]
        assert (await bob.sync()).joined == ()
        await alice.approve(pending[0].request_id)
        assert (await bob.sync()).joined == (group_id,)
        return group_id

    group_id = run(scenario())
    assert [m.name for m in bob.members(group_id)] == ["alice", "bob"]
    assert alice.join_requests(group_id)[0].status == "admitted"


def test_spent_invite_cannot_admit_a_second_person(world) -> None:
    _, _, (alice, bob, carol) = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        code = await alice.create_invite(group_id, max_uses=1)
        await bob.join(code)
        await alice.sync()
        await bob.sync()
        with pytest.raises(Exception, match=r"no longer valid|not_found|forbidden"):
            await carol.join(code)
        await alice.sync()
        return group_id

    group_id = run(scenario())
    assert [m.name for m in alice.members(group_id)] == ["alice", "bob"]
    with pytest.raises(NotFound):
        carol.resolve_group("Freelancers")


def test_a_member_who_uses_the_invite_again_is_told_they_are_in(world) -> None:
    """Not "this invite is no longer valid" (issue #12): the code's invite is in a group
    this member already belongs to, and nothing is sent to the relay."""
    _, _, (alice, bob, _carol) = world

    async def scenario() -> int:
        group_id = await alice.create_group("Freelancers")
        code = await alice.create_invite(group_id, max_uses=5)
        await bob.join(code)
        await alice.sync()
        await bob.sync()
        with pytest.raises(ClientError, match="you are already a member of Freelancers"):
            await bob.join(code)
        with pytest.raises(ClientError, match="you are already a member of Freelancers"):
            await alice.join(code)  # the organizer who made it, too
        return (await alice.sync()).admitted

    assert run(scenario()) == 0  # no second request reached the inviter


def test_concurrent_commits_by_two_organizers_both_land(world) -> None:
    """Compare-and-set append: a lost race is retried on the new state, never forked."""
    _, _, (alice, bob, carol) = world
    import asyncio

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, role="organizer")
        await befriend(alice, group_id, carol)
        await sync_all(bob)
        await asyncio.gather(
            alice.create_channel(group_id, "rates", announce_only=False),
            bob.create_channel(group_id, "legal", announce_only=True),
        )
        await sync_all(alice, bob, carol)
        return group_id

    group_id = run(scenario())
    heads = {e.session(group_id).state.head for e in (alice, bob, carol)}
    assert len(heads) == 1
    names = {c.name for c in carol.group(group_id).channels}
    assert names == {"general", "rates", "legal"}


def test_announcement_channel_accepts_only_organizers(world) -> None:
    _, _, (alice, bob, _) = world

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        channel = await alice.create_channel(group_id, "announcements", announce_only=True)
        await sync_all(bob)
        with pytest.raises(NotPermittedHere):
            await bob.send_text(group_id, "may I?", channel)
        await alice.send_text(group_id, "meeting on Friday", channel)
        await sync_all(bob)
        return group_id, channel

    group_id, channel = run(scenario())
    assert [m.text for m in bob.messages(group_id, channel)] == ["meeting on Friday"]


def test_member_who_leaves_cannot_read_on_and_the_group_rekeys(world) -> None:
    """LEAVE's epoch secret was chosen by the leaver, so the others re-key before talking."""
    _, _, (alice, bob, carol) = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        await carol.leave(group_id)
        await alice.sync()  # sees the LEAVE and commits a REKEY
        await alice.send_text(group_id, "only for those still here")
        await sync_all(bob, carol)
        return group_id

    group_id = run(scenario())
    log = alice.log(group_id)
    assert [e.kind.name for e in log[-2:]] == ["LEAVE", "REKEY"]
    assert log[-1].author == alice.identity.public_key
    assert carol.group(group_id).status == "removed"
    assert "only for those still here" in [m.text for m in bob.messages(group_id)]
    assert "only for those still here" not in [m.text for m in carol.messages(group_id)]


def test_first_organizer_rekeys_a_week_old_epoch(world) -> None:
    _, clock, (alice, bob, _) = world
    # Delivery key rotation starts epochs of its own (tests/core/test_delivery_rotation.py).
    for engine in (alice, bob):
        engine.delivery_keys.policy = KeyPolicy(max_age_ms=365 * 86_400_000)

    async def scenario() -> tuple[bytes, int, int]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        await sync_all(alice, bob)
        before = alice.session(group_id).state.seq
        await sync_all(alice, bob)
        unchanged = alice.session(group_id).state.seq
        clock.advance(days=8)
        await sync_all(bob, alice, bob)
        return group_id, before, unchanged

    group_id, before, unchanged = run(scenario())
    assert unchanged == before
    after = alice.session(group_id).state.seq
    assert after == before + 1
    assert alice.log(group_id)[-1].kind.name == "REKEY"
    assert bob.session(group_id).state.seq == after


def test_removal_in_the_same_batch_as_messages_is_processed(world) -> None:
    """Bob was offline while Alice wrote and then removed him: one fetch holds both."""
    _, _, (alice, bob, _) = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        await alice.send_text(group_id, "last message Bob may read")
        await alice.remove_member(group_id, bob.fingerprint)
        await alice.send_text(group_id, "after Bob left")
        await bob.sync()
        return group_id

    group_id = run(scenario())
    assert [m.text for m in bob.messages(group_id) if m.kind == "text"] == [
        "last message Bob may read"
    ]
    assert bob.group(group_id).status == "removed"


def test_a_muted_group_stays_muted_in_the_profile(world) -> None:
    """Which groups are muted lives in the encrypted profile (not the desktop's plain
    settings file); the desktop test (tests/qt/test_notifications.py) covers its effect."""
    _, _, (alice, _bob, _carol) = world

    group_id = run(alice.create_group("Night shift"))
    assert not alice.group(group_id).muted
    alice.set_muted(group_id, True)
    assert alice.group(group_id).muted
    alice.forget(group_id)  # re-read from the database, not a cache
    assert alice.group(group_id).muted
    alice.set_muted(group_id, False)
    assert not alice.group(group_id).muted


def test_organizers_rename_the_group_for_everyone_and_members_cannot(world) -> None:
    _, _, (alice, bob, _carol) = world

    async def scenario() -> bytes:
        group_id = await alice.create_group("Night shift")
        await befriend(alice, group_id, bob)
        await alice.rename_group(group_id, "Night shift union")
        await bob.sync()
        with pytest.raises(NotPermittedHere):
            await bob.rename_group(group_id, "Bob's group")
        with pytest.raises(ClientError, match="already called"):
            await alice.rename_group(group_id, "Night shift union")
        with pytest.raises(ClientError):
            await alice.rename_group(group_id, "bad\nname")
        await sync_all(alice, bob)
        return group_id

    group_id = run(scenario())
    assert alice.group(group_id).name == bob.group(group_id).name == "Night shift union"
