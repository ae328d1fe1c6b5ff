"""Recoverable key delivery (issue #9, item 4; docs/protocol.md 4.4, 7.2, 7.4.1), run for
real: a real relay process, real profiles, a man in the middle per member, and modified
member clients built from ``crypto/`` and ``app/core/``.

- a member's REKEY with a garbage key box for Bob: Bob's cursor stays before it, everyone
  is told who authored the commit, another member sends Bob the key, Bob reads on;
- the relay substituting Bob's box: the same, and the warning does not blame the author
  alone;
- an answer from a lying member with the wrong secret is refused;
- a member's rule-breaking commit wedges the group; an organizer moves it to a new
  mailbox, removing the rule-breaker; the others talk again, the bad commit ignored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import struct
import subprocess
import sys

import httpx
import pytest

from app.core.engine import Engine
from app.core.errors import NotPermittedHere, RelayError
from app.core.events import Event, IntegrityWarning, MessageAdded
from app.core.store import groups as group_store
from app.core.store import recovery as recovery_store
from crypto.commit import SEALED_DELIVERY_SIZE, seal_commit
from crypto.group_log import EntryKind, LogEntry, MemberRecord, Role, add_body, author_entry
from crypto.group_move import seal_group_move
from crypto.help_box import HelpBox, HelpKind, open_help_item, seal_help_item
from crypto.identity import Identity
from crypto.items import ItemType, peek_item
from crypto.key_request import KeyRequest
from crypto.key_schedule import EpochKeys, cap_hash, epoch_commitment
from crypto.sealed import seal
from crypto.wire import Writer
from relay.codec import decode_frames, encode_frames
from tests.attacks.world import AttackWorld
from tests.core.harness import befriend, run

pytestmark = pytest.mark.socket


def _group(world: AttackWorld, *names: str) -> bytes:
    engines = [world.member(name) for name in names]

    async def go() -> bytes:
        group_id = await engines[0].create_group("Depot")
        await befriend(engines[0], group_id, *engines[1:])
        for engine in engines:
            await engine.sync()
        return group_id

    return run(go())


def _warnings(engine: Engine, group_id: bytes) -> list[tuple[str, str]]:
    rows = engine.db.all(
        "SELECT kind, detail FROM warnings WHERE group_id = ? ORDER BY id", (group_id,)
    )
    return [(str(kind), str(detail)) for kind, detail in rows]


def _texts(engine: Engine, group_id: bytes) -> list[str]:
    return [m.text for m in engine.messages(group_id)]


def _box_offset(item: bytes, index: int) -> int:
    """Where the sealed box at ``index`` starts in a commit item (protocol 4.2)."""
    (length,) = struct.unpack_from(">I", item, 10 + 24)
    start = 10 + 24 + 4 + length + 4
    return start + index * SEALED_DELIVERY_SIZE


def _replace_box(item: bytes, index: int, box: bytes) -> bytes:
    offset = _box_offset(item, index)
    return item[:offset] + box + item[offset + SEALED_DELIVERY_SIZE :]


async def _rekey_with_garbage_box_for(author: Engine, group_id: bytes, victim: bytes) -> int:
    """A modified client: a valid REKEY whose sealed box for ``victim`` is garbage.
    Returns the commit's relay sequence number."""
    await author.sync_group(group_id)
    session = author.session(group_id)
    keys = session.keys
    assert keys is not None
    entry, secret, new_state = author_entry(
        session.state, author.identity, EntryKind.REKEY, b"", author.context.now(), os.urandom
    )
    item = seal_commit(keys, entry, new_state, secret, os.urandom)
    item = _replace_box(item, new_state.sender_index(victim), os.urandom(SEALED_DELIVERY_SIZE))
    new_cap = EpochKeys.derive(group_id, entry.seq, secret).mailbox_cap
    return await author.relay(session.relay_url).post_commit(
        session.mailbox_id,
        keys.mailbox_cap,
        session.state.head,
        entry.hash,
        cap_hash(new_cap),
        item,
    )


def test_garbage_box_from_a_member_is_recovered_through_another_member(
    attack_world: AttackWorld,
) -> None:
    group_id = _group(attack_world, "alice", "bob", "carol")
    alice, bob, carol = (attack_world.member(n) for n in ("alice", "bob", "carol"))
    epoch_before = bob.session(group_id).state.seq

    async def attack() -> int:
        seq = await _rekey_with_garbage_box_for(alice, group_id, bob.identity.public_key)
        await alice.sync()
        await alice.send_text(group_id, "sent in the new epoch")
        return seq

    commit_seq = run(attack())
    # The author who sent the bad box is gone: only Carol can answer.
    attack_world.close_member("alice")

    report = run(bob.sync())
    assert bob.session(group_id).state.seq == epoch_before
    assert bob.session(group_id).cursor == commit_seq - 1, "the cursor passed the commit"
    assert "sent in the new epoch" not in _texts(bob, group_id)
    stuck = [d for k, d in _warnings(bob, group_id) if k == "stuck"]
    assert len(stuck) == 1 and "alice's commit or substituted by the relay" in stuck[0]
    assert any("alice" in w for w in report.warnings)
    request_posts = [
        s
        for s in attack_world.adversary.items(member="bob", direction="up")
        if s.box == f"mailboxes/{HelpBox.derive(group_id).mailbox_id.hex()}"
    ]
    assert len(request_posts) == 1

    # Syncing again neither moves the cursor nor repeats the warning or the request.
    run(bob.sync())
    assert bob.session(group_id).cursor == commit_seq - 1
    assert [k for k, _ in _warnings(bob, group_id)].count("stuck") == 1

    run(carol.sync())
    told = [d for k, d in _warnings(carol, group_id) if k == "bad-key-box"]
    assert told == [
        f"bob could not open the key for epoch {epoch_before + 1} sealed in alice's commit "
        "(the box did not open): a bad key box, from alice's commit or substituted by the relay"
    ]

    run(bob.sync())
    session = bob.session(group_id)
    # No member keeps an epoch's secret (protocol 3.1): Carol answered with a new epoch,
    # a REKEY she committed, so Bob skips epoch k+1 and is told so. What was sent in it,
    # Carol had already read: forward secrecy means no one can open it for him now.
    assert session.state.seq == epoch_before + 2
    assert session.state.head == carol.session(group_id).state.head
    assert "sent in the new epoch" not in _texts(bob, group_id)
    assert recovery_store.load_stuck(bob.db, group_id) is None
    recovered = [d for k, d in _warnings(bob, group_id) if k == "key-recovered"]
    assert len(recovered) == 1 and "carol" in recovered[0]
    assert f"epochs {epoch_before + 1} to {epoch_before + 1} could not be read" in recovered[0]
    assert all(m.warning is None for m in bob.messages(group_id))

    async def talk() -> None:
        await bob.send_text(group_id, "bob is back")
        await carol.sync()

    run(talk())
    assert _texts(carol, group_id)[-1] == "bob is back"
    alice = attack_world.reopen("alice")
    run(alice.sync())
    assert _texts(alice, group_id)[-1] == "bob is back"
    # Alice, back online, is told too, and answers nothing already answered.
    assert any(k == "bad-key-box" for k, _ in _warnings(alice, group_id))


def test_box_substituted_by_the_relay_is_recovered_and_blamed_truthfully(
    attack_world: AttackWorld,
) -> None:
    group_id = _group(attack_world, "alice", "bob", "carol")
    alice, bob, carol = (attack_world.member(n) for n in ("alice", "bob", "carol"))
    mailbox = f"mailboxes/{bob.session(group_id).mailbox_id.hex()}"
    bob_pk = bob.identity.public_key
    substituted: list[int] = []

    def substitute_bobs_box(member: str, request: httpx.Request, response: httpx.Response):
        if member != "bob" or request.method != "GET" or mailbox not in request.url.path:
            return None
        if response.status_code != 200:
            return None
        frames = []
        for seq, item in decode_frames(response.content):
            if peek_item(item)[1] == ItemType.COMMIT and peek_item(item)[2] >= epoch_now:
                roster = alice.session(group_id).state
                index = roster.sender_index(bob_pk)
                # A box to Bob's real delivery key, holding a secret of the relay's choosing.
                plaintext = os.urandom(89)
                box = seal(bob.identity.delivery_cert.delivery_pk, plaintext, os.urandom)
                item = _replace_box(item, index, box)
                substituted.append(seq)
            frames.append((seq, item))
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(200, headers=headers, content=encode_frames(frames))

    epoch_now = bob.session(group_id).state.seq
    attack_world.adversary.rewrite(substitute_bobs_box)

    async def go() -> None:
        await alice.rekey(group_id)
        await alice.send_text(group_id, "after the rekey")
        await bob.sync()

    run(go())
    assert substituted, "the relay never saw the commit"
    assert bob.session(group_id).state.seq == epoch_now
    stuck = [d for k, d in _warnings(bob, group_id) if k == "stuck"]
    assert len(stuck) == 1 and "substituted by the relay" in stuck[0]

    run(carol.sync())
    run(alice.sync())
    for engine in (alice, carol):
        told = [d for k, d in _warnings(engine, group_id) if k == "bad-key-box"]
        assert len(told) == 1
        assert "from alice's commit or substituted by the relay" in told[0]

    run(bob.sync())  # the relay still substitutes the box; the answer does not need it
    run(alice.sync())
    # The answer is a new epoch (a REKEY by whoever answered, protocol 4.5): Bob is
    # current again, and told that what was sent in the epoch he missed is lost to him.
    assert bob.session(group_id).state.seq == alice.session(group_id).state.seq
    assert bob.session(group_id).state.head == alice.session(group_id).state.head
    assert "after the rekey" not in _texts(bob, group_id)
    assert any(
        k == "key-recovered" and "could not be read" in d for k, d in _warnings(bob, group_id)
    )


def test_a_lying_member_cannot_hand_over_a_wrong_secret(attack_world: AttackWorld) -> None:
    group_id = _group(attack_world, "alice", "bob", "carol")
    alice, bob, carol = (attack_world.member(n) for n in ("alice", "bob", "carol"))
    run(_rekey_with_garbage_box_for(alice, group_id, bob.identity.public_key))
    run(alice.sync())
    attack_world.close_member("alice")
    run(bob.sync())
    stuck = recovery_store.load_stuck(bob.db, group_id)
    assert stuck is not None and stuck.request is not None
    request = KeyRequest.open(stuck.request)

    async def lie() -> None:
        """Carol's modified client: a signed answer with a secret of her choosing."""
        box = HelpBox.derive(group_id)
        entries = [e for e in group_store.load_log(carol.db, group_id) if e.seq >= request.epoch]
        plaintext = (
            Writer()
            .u8(2)
            .fixed(group_id, 16)
            .u64(request.epoch)
            .fixed(request.entry_hash, 32)
            .fixed(request.request_id, 16)
            .fixed(request.requester, 32)
            .u32(len(entries))
        )
        for entry in entries:
            plaintext.var(entry.encode(), 131072)
        signed = bytes(plaintext.fixed(os.urandom(32), 32).fixed(carol.identity.public_key, 32))
        signed += carol.identity.sign("key-answer", signed)
        # To the delivery key Bob's roster entry lists (one per group, protocol 3.2).
        listed = carol.session(group_id).state.member(bob.identity.public_key).delivery_cert
        sealed = seal(listed.delivery_pk, signed, os.urandom)
        body = bytes(Writer().u8(2).fixed(request.request_id, 16).var(sealed, 262000))
        item = seal_help_item(box, HelpKind.KEY_ANSWER, body, os.urandom)
        await carol.relay(carol.session(group_id).relay_url).post_item(
            box.mailbox_id, box.capability, item
        )

    run(lie())
    run(bob.sync())
    assert recovery_store.load_stuck(bob.db, group_id) is not None
    bad = [d for k, d in _warnings(bob, group_id) if k == "bad-key-answer"]
    assert bad and "EpochKeyMismatch" in bad[0]

    run(carol.sync())  # the honest client answers
    run(bob.sync())
    assert recovery_store.load_stuck(bob.db, group_id) is None
    assert bob.session(group_id).state.head == carol.session(group_id).state.head


async def _append_rule_breaking_commit(breaker: Engine, group_id: bytes) -> bytes:
    """A member (not an organizer) appends an ADD of an outsider: valid for the relay,
    refused by every honest client (``NotPermitted``)."""
    await breaker.sync_group(group_id)
    session = breaker.session(group_id)
    keys = session.keys
    assert keys is not None
    state = session.state
    outsider = Identity.generate(os.urandom, breaker.context.now())
    secret = os.urandom(32)
    entry = LogEntry.sign(
        breaker.identity,
        group_id=group_id,
        seq=state.seq + 1,
        prev_hash=state.head,
        timestamp=breaker.context.now(),
        kind=EntryKind.ADD,
        body=add_body(MemberRecord.for_identity(outsider, "outsider", Role.ORGANIZER), bytes(16)),
        epoch_commitment=epoch_commitment(group_id, state.seq + 1, secret),
    )
    fake_state = dataclasses.replace(state, seq=entry.seq, head=entry.hash)
    item = seal_commit(keys, entry, fake_state, secret, os.urandom)
    new_cap = EpochKeys.derive(group_id, entry.seq, secret).mailbox_cap
    await breaker.relay(session.relay_url).post_commit(
        session.mailbox_id, keys.mailbox_cap, state.head, entry.hash, cap_hash(new_cap), item
    )
    return entry.hash


def test_organizer_moves_a_wedged_group_and_the_rule_breaker_is_left_behind(
    attack_world: AttackWorld,
) -> None:
    group_id = _group(attack_world, "alice", "bob", "carol", "mallory")
    alice, bob, carol, mallory = (
        attack_world.member(n) for n in ("alice", "bob", "carol", "mallory")
    )
    old_mailbox = alice.session(group_id).mailbox_id
    epoch = alice.session(group_id).state.seq

    bad_hash = run(_append_rule_breaking_commit(mallory, group_id))
    for engine in (alice, bob, carol):
        run(engine.sync())
        wedged = [d for k, d in _warnings(engine, group_id) if "wedged" in d]
        assert wedged and "NotPermitted" in wedged[0]
        assert engine.session(group_id).state.seq == epoch

    # Sent while wedged: the relay refuses epoch-k writes, so it stays queued.
    with pytest.raises(RelayError, match="stays queued"):
        run(alice.send_text(group_id, "queued while wedged"))
    assert [m.status for m in alice.messages(group_id)][-1] == "pending"

    with pytest.raises(NotPermittedHere, match="organizers"):
        run(bob.recover_group(group_id))
    mallory_fp = mallory.identity.fingerprint.hex()
    run(alice.recover_group(group_id, remove_fingerprint=mallory_fp))
    assert alice.session(group_id).mailbox_id != old_mailbox
    assert alice.session(group_id).state.seq == epoch + 1

    for engine in (bob, carol, mallory):
        run(engine.sync())
    run(alice.sync())  # delivers the queued message in the new mailbox

    for engine in (bob, carol):
        session = engine.session(group_id)
        assert session.mailbox_id == alice.session(group_id).mailbox_id
        assert session.state.head == alice.session(group_id).state.head
        assert sorted(m.name for m in engine.members(group_id)) == ["alice", "bob", "carol"]
        assert any(k == "group-moved" and "alice" in d for k, d in _warnings(engine, group_id))
    assert mallory.group_state(group_id)[1] == "removed"

    async def talk() -> None:
        await carol.sync()
        await bob.send_text(group_id, "bob in the new mailbox")
        await carol.send_text(group_id, "carol in the new mailbox")
        await alice.sync()
        await bob.sync()

    run(talk())
    run(carol.sync())
    carol_texts = _texts(carol, group_id)
    assert carol_texts.index("queued while wedged") < carol_texts.index("carol in the new mailbox")
    assert "bob in the new mailbox" in carol_texts
    assert all(m.warning is None for m in carol.messages(group_id))
    assert _texts(alice, group_id)[-2:] == ["bob in the new mailbox", "carol in the new mailbox"]
    assert _texts(bob, group_id)[-1] == "carol in the new mailbox"
    assert "bob in the new mailbox" not in _texts(mallory, group_id)
    # The rule-breaker's entry is in nobody's log; the move's REMOVE took its place.
    for engine in (alice, bob, carol):
        log = group_store.load_log(engine.db, group_id)
        assert bad_hash not in [e.hash for e in log]
        assert len(log) == epoch + 2 and log[-1].kind == EntryKind.REMOVE


def test_a_move_of_a_healthy_group_is_ignored(attack_world: AttackWorld) -> None:
    """An organizer cannot use a move to split a group whose mailbox is not wedged."""
    group_id = _group(attack_world, "alice", "bob")
    alice, bob = attack_world.member("alice"), attack_world.member("bob")

    async def forged_move() -> None:
        session = alice.session(group_id)
        keys = session.keys
        assert keys is not None
        entry, secret, new_state = author_entry(
            session.state, alice.identity, EntryKind.REKEY, b"", alice.context.now(), os.urandom
        )
        mailbox_id = os.urandom(16)
        new_cap = EpochKeys.derive(group_id, entry.seq, secret).mailbox_cap
        relay = alice.relay(session.relay_url)
        await relay.create_mailbox(mailbox_id, cap_hash(new_cap), entry.hash)
        body = seal_group_move(
            alice.identity, keys, entry, new_state, secret, mailbox_id, os.urandom
        )
        box = HelpBox.derive(group_id)
        await relay.create_mailbox(box.mailbox_id, cap_hash(box.capability), bytes(32))
        await relay.post_item(
            box.mailbox_id,
            box.capability,
            seal_help_item(box, HelpKind.GROUP_MOVE, body, os.urandom),
        )

    mailbox = bob.session(group_id).mailbox_id
    run(forged_move())
    run(bob.sync())
    assert bob.session(group_id).mailbox_id == mailbox
    assert any(k == "group-move-ignored" for k, _ in _warnings(bob, group_id))
    run(alice.send_text(group_id, "still here"))
    run(bob.sync())
    assert _texts(bob, group_id)[-1] == "still here"


def test_help_items_hide_everything_from_the_relay(attack_world: AttackWorld) -> None:
    """The relay sees only padded ciphertext in the help mailbox: no identity key, no
    group id, no entry hash."""
    group_id = _group(attack_world, "alice", "bob", "carol")
    alice, bob, carol = (attack_world.member(n) for n in ("alice", "bob", "carol"))
    run(_rekey_with_garbage_box_for(alice, group_id, bob.identity.public_key))
    for engine in (alice, bob, carol, bob):
        run(engine.sync())
    box = HelpBox.derive(group_id)
    help_items = [
        s.item
        for s in attack_world.adversary.items(direction="up")
        if s.box == f"mailboxes/{box.mailbox_id.hex()}"
    ]
    assert len(help_items) >= 2  # the request and an answer
    traffic = attack_world.adversary.traffic()
    for secret in (group_id, bob.identity.public_key, alice.identity.public_key):
        assert secret not in traffic
    for item in help_items:
        assert len(item) in (256, 512, 768, 1024, 1280, 1536, 1792, 2048, 4096, 8192, 16384)
        assert open_help_item(box, item).kind in (HelpKind.KEY_REQUEST, HelpKind.KEY_ANSWER)


def _caucus(world: AttackWorld, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        CAUCUS_HOME=str(world.home(name)),
        CAUCUS_PASSPHRASE=world.passphrase(name),
        CAUCUS_KDF_COST="interactive",
    )
    env.pop("CAUCUS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_caucus_recover_moves_a_wedged_group_and_refuses_a_healthy_one(
    attack_world: AttackWorld,
) -> None:
    group_id = _group(attack_world, "alice", "bob", "carol")
    alice, bob, carol = (attack_world.member(n) for n in ("alice", "bob", "carol"))
    bob_fp = bob.identity.fingerprint.hex()
    attack_world.close_member("alice")

    healthy = _caucus(attack_world, "alice", "recover", "Depot")
    assert healthy.returncode != 0 and "Traceback" not in healthy.stderr
    assert healthy.stderr.strip() == (
        "caucus: the group's mailbox is not wedged: nothing to recover"
    )

    run(_append_rule_breaking_commit(bob, group_id))
    moved = _caucus(attack_world, "alice", "recover", "Depot", "--remove", bob_fp)
    assert moved.returncode == 0, moved.stderr
    assert "new mailbox" in moved.stdout

    run(carol.sync())
    run(bob.sync())
    alice = attack_world.reopen("alice")
    run(alice.send_text(group_id, "after the move"))
    run(carol.sync())
    assert _texts(carol, group_id)[-1] == "after the move"
    assert sorted(m.name for m in carol.members(group_id)) == ["alice", "carol"]
    assert bob.group_state(group_id)[1] == "removed"


def test_the_desktop_loop_recovers_a_stuck_member_by_itself(attack_world: AttackWorld) -> None:
    """Bob runs ``Engine.run`` (the desktop app's loop): it stops following the stuck
    mailbox (a loop that spun on it would starve this event loop and time out below),
    posts the request from its slower loop, and takes Carol's answer without any call."""
    group_id = _group(attack_world, "alice", "bob", "carol")
    alice, bob, carol = (attack_world.member(n) for n in ("alice", "bob", "carol"))

    async def scenario() -> None:
        arrived, recovered = asyncio.Event(), asyncio.Event()

        def listen(event: Event) -> None:
            if isinstance(event, MessageAdded) and event.message.text == "after bob is back":
                arrived.set()
            if isinstance(event, IntegrityWarning) and event.kind == "key-recovered":
                recovered.set()

        bob.subscribe(listen)
        stop = asyncio.Event()
        loop = asyncio.create_task(bob.run(stop, poll=1, tick=0.05))
        try:
            await _rekey_with_garbage_box_for(alice, group_id, bob.identity.public_key)
            await alice.sync()
            await alice.send_text(group_id, "while bob's loop runs")
            for _ in range(1200):  # bounded: Bob's loop posts the request within a few ticks
                stuck = recovery_store.load_stuck(bob.db, group_id)
                if stuck is not None and stuck.posted_at is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("Bob's loop never asked for the key")
            await carol.sync()  # Carol answers with a new epoch (protocol 4.5)
            await asyncio.wait_for(recovered.wait(), timeout=60)  # Bob's loop took it
            await carol.send_text(group_id, "after bob is back")
            await asyncio.wait_for(arrived.wait(), timeout=60)
        finally:
            stop.set()
            await loop

    run(scenario())
    assert recovery_store.load_stuck(bob.db, group_id) is None
    assert bob.session(group_id).state.head == carol.session(group_id).state.head
