"""Delivery keys rotate and their old private halves are deleted (docs/protocol.md 3.2),
with real profiles against the real relay app in-process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from app.core.engine import Engine
from app.core.store import delivery_keys as key_store
from crypto.group_log import AddBody, EntryKind
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all


class CommitRace(httpx.AsyncBaseTransport):
    """Runs ``before_commit`` (once) just before the member's next commit reaches the
    relay: another member's commit lands first, authored on the same roster."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.before_commit: Callable[[], Awaitable[None]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        hook = self.before_commit
        if hook is not None and request.method == "POST" and request.url.path.endswith("/commits"):
            self.before_commit = None
            await hook()
        return await self.inner.handle_async_request(request)


@pytest.fixture
def world(tmp_path: Path):
    clock = Clock()
    transport = httpx.ASGITransport(app=make_relay(tmp_path, clock))
    race = CommitRace(transport)
    alice = make_engine(tmp_path, "alice", transport, clock)
    bob = make_engine(tmp_path, "bob", race, clock)
    yield clock, race, alice, bob
    for engine in (alice, bob):
        run(engine.close())


def _listed(engine: Engine, group_id: bytes, whose: Engine) -> bytes:
    state = engine.session(group_id).state
    return state.member(whose.identity.public_key).delivery_cert.delivery_pk


def _held(engine: Engine) -> set[bytes]:
    return key_store.public_keys(engine.db)


def _group(alice: Engine, bob: Engine) -> bytes:
    async def go() -> bytes:
        group_id = await alice.create_group("Rotation")
        await befriend(alice, group_id, bob)
        await sync_all(alice, bob)
        return group_id

    return run(go())


def _texts(engine: Engine, group_id: bytes) -> list[str]:
    return [m.text for m in engine.messages(group_id)]


def test_the_join_key_is_replaced_after_the_welcome_and_deleted(world) -> None:
    _, _, alice, bob = world
    group_id = _group(alice, bob)
    (add,) = [e for e in alice.log(group_id) if e.kind == EntryKind.ADD]
    join_key = AddBody.decode(add.body).member.delivery_cert.delivery_pk
    assert [e.kind for e in bob.log(group_id)].count(EntryKind.DELIVERY_KEY) == 1
    current = _listed(alice, group_id, bob)
    assert current != join_key and current == _listed(bob, group_id, bob)
    assert join_key not in _held(bob) and current in _held(bob)
    # The profile's own key was never published: not the join key, not the group's.
    assert bob.identity.delivery_cert.delivery_pk not in (join_key, current)

    async def go() -> None:
        await alice.rekey(group_id)
        await alice.send_text(group_id, "after bob's rotation")
        await bob.sync()
        await bob.send_text(group_id, "bob still reads and writes")
        await alice.sync()

    run(go())
    assert "after bob's rotation" in _texts(bob, group_id)
    assert "bob still reads and writes" in _texts(alice, group_id)


def test_a_week_old_key_that_received_a_commit_rotates(world) -> None:
    clock, _, alice, bob = world
    group_id = _group(alice, bob)
    before = _listed(bob, group_id, bob)
    creators = _listed(alice, group_id, alice)

    async def commit_then_sync() -> None:
        await alice.rekey(group_id)
        await bob.sync()
        await alice.sync()

    run(commit_then_sync())
    # Young keys stay, even with commits sealed to them.
    assert _listed(bob, group_id, bob) == before
    clock.advance(days=8)
    run(bob.sync())
    after = _listed(bob, group_id, bob)
    assert after != before
    assert bob.log(group_id)[-1].kind == EntryKind.DELIVERY_KEY
    run(alice.sync())
    assert _listed(alice, group_id, bob) == after
    assert before not in _held(bob)
    # The creator's key (certified by CREATE) is due the same way.
    assert _listed(alice, group_id, alice) != creators
    assert creators not in _held(alice)


def test_the_old_key_stays_until_the_rotation_is_applied(world) -> None:
    """Alice's commit, authored on the roster with Bob's old key, lands between Bob's
    sync and his rotation: Bob still opens it with the old key, then rotates."""
    _, race, alice, bob = world
    group_id = _group(alice, bob)
    old = _listed(bob, group_id, bob)

    async def alice_first() -> None:
        await alice.rekey(group_id)

    race.before_commit = alice_first

    async def go() -> None:
        await bob.rotate_delivery_key(group_id)
        await alice.sync()

    run(go())
    assert race.before_commit is None, "the race never ran"
    kinds = [e.kind for e in bob.log(group_id)[-2:]]
    assert kinds == [EntryKind.REKEY, EntryKind.DELIVERY_KEY]
    assert bob.session(group_id).active
    assert bob.session(group_id).state.head == alice.session(group_id).state.head
    assert old not in _held(bob) and _listed(alice, group_id, bob) in _held(bob)
    warnings = bob.db.all("SELECT detail FROM warnings WHERE group_id = ?", (group_id,))
    assert not [w for (w,) in warnings if "delivery" in w or "Decryption" in w]


def test_a_removed_member_keeps_no_key_of_the_group(world) -> None:
    _, _, alice, bob = world
    group_id = _group(alice, bob)

    async def go() -> None:
        await alice.remove_member(group_id, bob.fingerprint)
        await bob.sync()

    run(go())
    assert bob.group(group_id).status == "removed"
    assert key_store.group_keys(bob.db, group_id) == []


def test_deleted_rows_are_overwritten(world) -> None:
    _, _, alice, _ = world
    assert alice.db.one("PRAGMA secure_delete")[0] == 1
