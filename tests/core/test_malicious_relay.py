"""A malicious relay: drops, reorders, replays, injects, tampers, forks, substitutes keys
and forges roster entries. Every attack is detected or harmless (P2, P3, P4).

``EvilTransport`` wraps the real relay app; each client gets its own, so the relay can
show different members different things, as a real malicious operator could.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.core.engine import Engine
from app.core.relay_client import parse_frames
from crypto.commit import SEALED_DELIVERY_SIZE, seal_commit
from crypto.content import ContentType, TextBody
from crypto.group_log import EntryKind, LogEntry, Role, add_body, author_entry
from crypto.identity import Identity
from crypto.items import ItemType, peek_item
from crypto.key_schedule import EpochKeys, epoch_commitment
from crypto.message import seal_message
from crypto.ratchet import SendChain
from crypto.sealed import seal
from crypto.wire import Reader, Writer
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all

Frames = list[tuple[int, bytes]]
Hook = Callable[[Frames], Frames]


class EvilTransport(httpx.AsyncBaseTransport):
    """The real relay behind a layer that rewrites what one client fetches."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.hooks: list[Hook] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        path = request.url.path
        if (
            request.method == "GET"
            and path.startswith("/v1/mailboxes/")
            and response.status_code == 200
        ):
            frames = list(parse_frames(content))
            for hook in self.hooks:
                frames = hook(frames)
            content = b"".join(struct.pack(">QI", s, len(i)) + i for s, i in frames)
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=content)


@dataclasses.dataclass
class World:
    app: object
    clock: Clock
    alice: Engine
    bob: Engine
    carol: Engine
    evil: dict[str, EvilTransport]


@pytest.fixture
def world(tmp_path: Path):
    clock = Clock()
    app = make_relay(tmp_path, clock)
    inner = httpx.ASGITransport(app=app)
    evil = {name: EvilTransport(inner) for name in ("alice", "bob", "carol")}
    alice, bob, carol = (
        make_engine(tmp_path, n, evil[n], clock) for n in ("alice", "bob", "carol")
    )
    yield World(app, clock, alice, bob, carol, evil)
    for engine in (alice, bob, carol):
        run(engine.close())
    app.close()  # type: ignore[attr-defined]


def setup_group(w: World) -> bytes:
    async def go() -> bytes:
        group_id = await w.alice.create_group("Freelancers")
        await befriend(w.alice, group_id, w.bob, w.carol)
        await sync_all(w.alice, w.bob, w.carol)
        return group_id

    return run(go())


def messages_of(engine: Engine, group_id: bytes) -> list[tuple[str, str | None]]:
    return [(m.text, m.warning) for m in engine.messages(group_id) if m.kind == "text"]


def warnings_of(engine: Engine, group_id: bytes) -> list[str]:
    return [
        row[0] + ": " + row[1]
        for row in engine.db.all(
            "SELECT kind, detail FROM warnings WHERE group_id = ? ORDER BY id", (group_id,)
        )
    ]


def is_message(item: bytes) -> bool:
    return peek_item(item)[1] == ItemType.MESSAGE


def test_dropped_message_is_detected_when_the_next_one_arrives(world: World) -> None:
    group_id = setup_group(world)
    first: list[bytes] = []

    def drop_first_message(frames: Frames) -> Frames:
        kept = []
        for seq, item in frames:
            if is_message(item) and not first:
                first.append(item)
                continue
            kept.append((seq, item))
        return kept

    world.evil["bob"].hooks.append(drop_first_message)

    async def go() -> None:
        await world.alice.send_text(group_id, "one")
        await world.alice.send_text(group_id, "two")
        await world.bob.sync()

    run(go())
    received = messages_of(world.bob, group_id)
    assert [text for text, _ in received] == ["two"]
    assert received[0][1] is not None and "missing" in received[0][1]


def test_reordered_messages_are_flagged(world: World) -> None:
    group_id = setup_group(world)

    def swap_messages(frames: Frames) -> Frames:
        idx = [i for i, (_, item) in enumerate(frames) if is_message(item)]
        if len(idx) >= 2:
            a, b = idx[0], idx[1]
            frames[a], frames[b] = (frames[a][0], frames[b][1]), (frames[b][0], frames[a][1])
        return frames

    world.evil["bob"].hooks.append(swap_messages)

    async def go() -> None:
        await world.alice.send_text(group_id, "one")
        await world.alice.send_text(group_id, "two")
        await world.bob.sync()

    run(go())
    received = messages_of(world.bob, group_id)
    assert [t for t, _ in received] == ["two", "one"]
    assert all(warning is not None for _, warning in received)


def test_replayed_items_are_ignored(world: World) -> None:
    group_id = setup_group(world)

    def replay_everything(frames: Frames) -> Frames:
        if not frames:
            return frames
        top = frames[-1][0]
        return frames + [(top + 1 + i, item) for i, (_, item) in enumerate(frames)]

    world.evil["bob"].hooks.append(replay_everything)

    async def go() -> None:
        await world.alice.send_text(group_id, "pay rise vote on Monday")
        await world.bob.sync()
        await world.bob.sync()

    run(go())
    assert [t for t, _ in messages_of(world.bob, group_id)] == ["pay rise vote on Monday"]


def test_injected_and_tampered_items_are_rejected(world: World) -> None:
    group_id = setup_group(world)
    outsider = Identity.generate(os.urandom, world.clock())
    stranger_keys = EpochKeys.derive(
        group_id, world.bob.session(group_id).state.seq, os.urandom(32)
    )
    forged = seal_message(
        stranger_keys,
        SendChain.start(stranger_keys, 0),
        outsider,
        ContentType.TEXT,
        TextBody(bytes(16), "forged by the relay").encode(),
        world.clock(),
        bytes(32),
        bytes(32),
        os.urandom,
    ).item

    def inject_and_tamper(frames: Frames) -> Frames:
        out = []
        for seq, item in frames:
            if is_message(item):
                damaged = bytearray(item)
                damaged[-5] ^= 0x01
                out.append((seq, bytes(damaged)))
            else:
                out.append((seq, item))
        if frames:
            top = frames[-1][0]
            out += [(top + 1, forged), (top + 2, os.urandom(300)), (top + 3, b"\x01")]
        return out

    world.evil["bob"].hooks.append(inject_and_tamper)

    async def go() -> None:
        await world.alice.send_text(group_id, "real message")
        await world.bob.sync()

    run(go())
    assert messages_of(world.bob, group_id) == []
    assert len(warnings_of(world.bob, group_id)) >= 3
    # The same group keeps working for members the relay did not attack.
    run(world.carol.sync())
    assert [t for t, _ in messages_of(world.carol, group_id)] == ["real message"]


def test_member_cannot_post_as_another_member(world: World) -> None:
    """P3: Carol holds the epoch keys, but cannot sign as Alice."""
    group_id = setup_group(world)
    session = world.carol.session(group_id)
    keys = session.keys
    assert keys is not None
    alice_index = session.state.sender_index(world.alice.identity.public_key)
    # Carol keeps Alice's chain where she last read it (the epoch secret is not kept).
    alice_chain = session.recv_chains[alice_index]
    forged = seal_message(
        keys,
        SendChain(keys.epoch, alice_index, alice_chain.next_counter, alice_chain.chain_key),
        world.carol.identity,
        ContentType.TEXT,
        TextBody(bytes(16), "alice: I withdraw the strike").encode(),
        world.clock(),
        session.state.head,
        bytes(32),
        os.urandom,
    ).item

    async def go() -> None:
        await world.carol.relay(session.relay_url).post_item(
            session.mailbox_id, keys.mailbox_cap, forged
        )
        await world.bob.sync()

    run(go())
    assert messages_of(world.bob, group_id) == []
    assert any("BadSignature" in w for w in warnings_of(world.bob, group_id))


def _split_commit(item: bytes) -> tuple[bytes, list[bytes]]:
    reader = Reader(item)
    head = reader.fixed(10 + 24)
    ciphertext = reader.var(1 << 20)
    boxes = reader.items(10_000, lambda r: r.fixed(SEALED_DELIVERY_SIZE))
    reader.finish()
    prefix = bytes(Writer().fixed(head, len(head)).var(ciphertext, 1 << 20))
    return prefix, boxes


def _join_commit(prefix: bytes, boxes: list[bytes]) -> bytes:
    writer = Writer().u32(len(boxes))
    for box in boxes:
        writer.fixed(box, SEALED_DELIVERY_SIZE)
    return prefix + bytes(writer)


def test_substituted_epoch_key_is_refused(world: World) -> None:
    """The relay swaps Bob's sealed epoch secret for one it chose; Bob refuses it."""
    group_id = setup_group(world)
    relay_secret = os.urandom(32)
    bob_pk = world.bob.identity.public_key
    # Bob's delivery key in this group, as the roster lists it.
    bob_delivery = world.alice.session(group_id).state.member(bob_pk).delivery_cert.delivery_pk

    def substitute(frames: Frames) -> Frames:
        out = []
        for seq, item in frames:
            if peek_item(item)[1] == ItemType.COMMIT:
                prefix, boxes = _split_commit(item)
                state = world.alice.session(group_id).state
                index = state.sender_index(bob_pk)
                fake = (
                    bytes((1,))
                    + group_id
                    + struct.pack(">Q", state.seq)
                    + state.head
                    + relay_secret
                )
                boxes[index] = seal(bob_delivery, fake, os.urandom)
                item = _join_commit(prefix, boxes)
            out.append((seq, item))
        return out

    world.evil["bob"].hooks.append(substitute)

    async def go() -> None:
        await world.alice.rekey(group_id)
        await world.bob.sync()

    run(go())
    (bob_keys,) = world.bob.db.one("SELECT keys FROM epoch_keys WHERE group_id = ?", (group_id,))
    relay_keys = EpochKeys.derive(group_id, EpochKeys.decode(bob_keys).epoch, relay_secret)
    assert EpochKeys.decode(bob_keys).mailbox_cap != relay_keys.mailbox_cap
    assert any("EpochKeyMismatch" in w for w in warnings_of(world.bob, group_id))


def test_entry_forged_by_a_non_organizer_is_rejected_by_everyone(world: World) -> None:
    """P2: Bob (a plain member) and a colluding relay try to add Mallory."""
    group_id = setup_group(world)
    mallory = Identity.generate(os.urandom, world.clock())
    session = world.bob.session(group_id)
    keys = session.keys
    assert keys is not None
    state = session.state
    secret = os.urandom(32)
    from crypto.group_log import MemberRecord

    entry = LogEntry.sign(
        world.bob.identity,
        group_id=group_id,
        seq=state.seq + 1,
        prev_hash=state.head,
        timestamp=world.clock(),
        kind=EntryKind.ADD,
        body=add_body(MemberRecord.for_identity(mallory, "mallory", Role.ORGANIZER), bytes(16)),
        epoch_commitment=epoch_commitment(group_id, state.seq + 1, secret),
    )
    fake_state = dataclasses.replace(state, seq=entry.seq, head=entry.hash)
    item = seal_commit(keys, entry, fake_state, secret, os.urandom)

    async def go() -> None:
        from crypto.key_schedule import cap_hash

        new_cap = EpochKeys.derive(group_id, entry.seq, secret).mailbox_cap
        await world.bob.relay(session.relay_url).post_commit(
            session.mailbox_id, keys.mailbox_cap, state.head, entry.hash, cap_hash(new_cap), item
        )
        await world.alice.sync()
        await world.carol.sync()

    run(go())
    for engine in (world.alice, world.carol):
        assert "mallory" not in [m.name for m in engine.members(group_id)]
        assert any("NotPermitted" in w for w in warnings_of(engine, group_id))


def test_replayed_old_commit_is_rejected(world: World) -> None:
    group_id = setup_group(world)
    seen_commits: list[bytes] = []

    def replay_old_commits(frames: Frames) -> Frames:
        for _, item in frames:
            if peek_item(item)[1] == ItemType.COMMIT:
                seen_commits.append(item)
        if seen_commits and any(is_message(item) for _, item in frames):
            top = frames[-1][0]
            return [*frames, (top + 1, seen_commits[0])]
        return frames

    world.evil["carol"].hooks.append(replay_old_commits)
    before = [m.name for m in world.carol.members(group_id)]

    async def go() -> None:
        await world.alice.rekey(group_id)
        await world.alice.send_text(group_id, "after rekey")
        await world.carol.sync()

    run(go())
    assert [m.name for m in world.carol.members(group_id)] == before
    assert [t for t, _ in messages_of(world.carol, group_id)] == ["after rekey"]
    assert warnings_of(world.carol, group_id)


def test_fork_by_an_equivocating_organizer_and_relay_is_detected(world: World) -> None:
    """Alice and the relay show Bob and Carol two different entries for the same epoch
    (sharing one epoch secret so they can still talk); the log head carried inside every
    message exposes the fork (P4)."""
    group_id = setup_group(world)
    session = world.alice.session(group_id)
    keys = session.keys
    assert keys is not None
    state = session.state
    secret = os.urandom(32)
    fixed = iter([secret, secret])

    def rng_with_fixed_secret(n: int) -> bytes:
        return next(fixed) if n == 32 else os.urandom(n)

    from crypto.group_log import rename_body

    entry_b, _, state_b = author_entry(
        state,
        world.alice.identity,
        EntryKind.RENAME,
        rename_body("Branch for Bob"),
        world.clock(),
        rng_with_fixed_secret,
    )
    entry_c, _, state_c = author_entry(
        state,
        world.alice.identity,
        EntryKind.RENAME,
        rename_body("Branch for Carol"),
        world.clock(),
        rng_with_fixed_secret,
    )
    item_b = seal_commit(keys, entry_b, state_b, secret, os.urandom)
    item_c = seal_commit(keys, entry_c, state_c, secret, os.urandom)

    def show_carol_her_branch(frames: Frames) -> Frames:
        return [(seq, item_c if item == item_b else item) for seq, item in frames]

    world.evil["carol"].hooks.append(show_carol_her_branch)

    async def go() -> None:
        from crypto.key_schedule import cap_hash

        new_cap = EpochKeys.derive(group_id, entry_b.seq, secret).mailbox_cap
        await world.alice.relay(session.relay_url).post_commit(
            session.mailbox_id,
            keys.mailbox_cap,
            state.head,
            entry_b.hash,
            cap_hash(new_cap),
            item_b,
        )
        await world.bob.sync()
        await world.carol.sync()
        await world.bob.send_text(group_id, "which group name do you see?")
        await world.carol.sync()

    run(go())
    assert world.bob.group(group_id).name == "Branch for Bob"
    assert world.carol.group(group_id).name == "Branch for Carol"
    assert messages_of(world.carol, group_id) == []
    assert any("ForkDetected" in w for w in warnings_of(world.carol, group_id))


def test_withheld_commit_is_reported(world: World) -> None:
    group_id = setup_group(world)

    def withhold_commits(frames: Frames) -> Frames:
        return [(s, i) for s, i in frames if peek_item(i)[1] != ItemType.COMMIT]

    world.evil["carol"].hooks.append(withhold_commits)

    async def go() -> None:
        await world.alice.rekey(group_id)
        await world.carol.sync()

    run(go())
    assert any("withholding" in w for w in warnings_of(world.carol, group_id))


@pytest.mark.parametrize("forged_at", [(0,), (6,), (29, 30, 32), (38,), (5, 6, 21)])
def test_a_forged_signature_anywhere_in_a_page_is_refused(
    world: World, forged_at: tuple[int, ...]
) -> None:
    """A page of two senders where Carol's modified client posts messages in her own
    chain, some signed by a stranger's key, at the start, the middle, around a 32-item
    boundary and the end: Bob stores exactly the genuine ones, in relay order, and refuses
    each forgery (a catch-up that checks signatures in batches must not shift a verdict)."""
    group_id = setup_group(world)
    session = world.carol.session(group_id)
    keys, chain = session.keys, session.send_chain
    assert keys is not None and chain is not None
    stranger = Identity.generate(os.urandom, world.clock())
    relay = world.carol.relay(session.relay_url)
    expected: list[str] = []

    async def go() -> None:
        nonlocal chain
        prev = bytes(32)
        for i in range(40):
            if i % 4 == 3:  # Alice, an honest member, in the same page
                await world.alice.send_text(group_id, f"alice {i}")
                expected.append(f"alice {i}")
                continue
            forged = i in forged_at
            text = f"forged {i}" if forged else f"carol {i}"
            assert chain is not None
            sealed = seal_message(
                keys,
                chain,
                stranger if forged else world.carol.identity,
                ContentType.TEXT,
                TextBody(bytes(16), text).encode(),
                world.clock(),
                session.state.head,
                prev,
                os.urandom,
            )
            await relay.post_item(session.mailbox_id, keys.mailbox_cap, sealed.item)
            chain = sealed.chain
            if not forged:
                prev = sealed.message_hash
                expected.append(text)
        await world.bob.sync()

    run(go())
    assert [text for text, _ in messages_of(world.bob, group_id)] == expected
    refused = [w for w in warnings_of(world.bob, group_id) if "BadSignature" in w]
    assert len(refused) == len(forged_at)
