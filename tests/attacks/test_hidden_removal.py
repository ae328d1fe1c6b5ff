"""Issue #9, item 1: a relay hides a removal from some members (docs/protocol.md 4.4).

The model, as simple as it can be while staying faithful. A malicious relay that hides
Alice's REMOVE of Mallory from Bob, Carol and Mallory must keep two views of one mailbox:
the real one, where the REMOVE closed epoch k and only epoch k+1 may write, and a forked
one still in epoch k, where Bob's sends are accepted and shown to Carol and Mallory. We
run those two views as two real relay processes: the real relay, and a second process
started on an online backup of the real relay's database taken just before the removal
(``caucus-relay backup``: the same mailboxes, capabilities, sequence numbers and
generation). The man in the middle forwards every request of Bob, Carol and Mallory to
the forked process and Alice's to the real one; each view is self-consistent, so no
header gives the fork away. "Healing" replays Alice's writes since the fork into the
forked process and mirrors her later writes there: from then on the relay tells Bob,
Carol and Mallory the truth (the REMOVE, then Alice's heads).

The members share one controllable clock, moved a minute at a time; Alice's client is
online throughout and publishes heads as it does in production (``Engine.sync``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.core.engine import Engine
from app.core.freshness import HOLD_AFTER_MS
from app.core.send_gate import SendHeld
from app.core.views import MessageView
from tests.attacks.relay_process import RelayProcess
from tests.attacks.world import AttackWorld
from tests.core.harness import befriend, run

pytestmark = pytest.mark.socket

_HOP_HEADERS = ("host", "content-length", "content-encoding", "transfer-encoding")


@dataclass
class Fork:
    """The forked view: a second relay process, who is sent there, Alice's writes."""

    relay: RelayProcess
    members: set[str]
    alice_posts: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    mirror_alice: bool = False

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            answer = client.request(method, self.relay.url + path, headers=headers, content=body)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        return httpx.Response(answer.status_code, headers=kept, content=answer.content)

    def rule(self, member: str, request: httpx.Request, body: bytes) -> httpx.Response | None:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        path = request.url.raw_path.decode()
        if member in self.members:
            return self.send(request.method, path, headers, body)
        if member == "alice" and request.method == "POST" and "/mailboxes/" in path:
            self.alice_posts.append((request.method, path, headers, body))
            if self.mirror_alice:
                self.send(request.method, path, headers, body)
        return None  # Alice's requests reach the real relay

    def heal(self) -> None:
        """The relay stops hiding: Alice's writes since the fork reach the forked view,
        and so do her later ones."""
        for method, path, headers, body in self.alice_posts:
            self.send(method, path, headers, body)
        self.mirror_alice = True


def _warnings(engine: Engine, group_id: bytes, kind: str) -> list[str]:
    rows = engine.db.all(
        "SELECT detail FROM warnings WHERE group_id = ? AND kind = ? ORDER BY id", (group_id, kind)
    )
    return [str(row[0]) for row in rows]


def _try_send(engine: Engine, group_id: bytes, text: str) -> MessageView | None:
    """Send; None when the send is held (the message stays queued)."""
    try:
        return run(engine.send_text(group_id, text))
    except SendHeld:
        return None


def test_a_hidden_removal_exposes_nothing_sent_more_than_t_after_it_and_is_reported(
    attack_world: AttackWorld, tmp_path: Path
) -> None:
    world = attack_world
    alice, bob, carol, mallory = (world.member(n) for n in ("alice", "bob", "carol", "mallory"))

    async def setup() -> bytes:
        group_id = await alice.create_group("Depot")
        await befriend(alice, group_id, bob, carol, mallory)
        for engine in (alice, bob, carol, mallory):
            await engine.sync()
        return group_id

    group_id = run(setup())
    assert not bob.freshness.status(group_id).held

    # The fork: a second relay process on a copy of the real relay's state.
    world.relay.backup(tmp_path / "fork.db")
    fork = Fork(RelayProcess(tmp_path / "fork.db"), {"bob", "carol", "mallory"})
    fork.relay.start()
    try:
        world.adversary.intercept(fork.rule)
        _attack_and_heal(world, fork, group_id)
    finally:
        fork.relay.stop()


def _attack_and_heal(world: AttackWorld, fork: Fork, group_id: bytes) -> None:
    clock = world.clock
    alice, bob, carol, mallory = (world.engines[n] for n in ("alice", "bob", "carol", "mallory"))

    clock.advance(seconds=120)
    run(alice.remove_member(group_id, mallory.fingerprint))
    removed_at = clock.now
    assert [m.name for m in alice.members(group_id)] == ["alice", "bob", "carol"]

    # Fourteen minutes of the hidden removal: Alice is online (her client publishes heads
    # into epoch k+1, which the forked view never shows); Bob sends every minute.
    sent: list[MessageView] = []
    held: list[str] = []
    carol_sent = _try_send(carol, group_id, "carol, a minute after the removal")
    for minute in range(1, 15):
        clock.advance(seconds=60)
        run(alice.sync())
        text = f"bob, minute {minute} after the removal"
        view = _try_send(bob, group_id, text)
        if view is None:
            held.append(text)
        else:
            sent.append(view)
        run(carol.sync())
        run(mallory.sync())

    # The attack is real: Mallory, removed, read some of Bob's messages...
    read_by_mallory = {
        m.message_id: m for m in mallory.messages(group_id) if m.sender_name == "bob"
    }
    assert read_by_mallory, "the fork must expose something, or the bound proves nothing"
    assert carol_sent is not None and carol_sent.message_id is not None
    # ...but nothing sent more than T after the removal: Bob's client held those.
    assert all(m.sent_at <= removed_at + HOLD_AFTER_MS for m in read_by_mallory.values())
    assert held, "Bob's client must hold sends once it cannot confirm the group"
    assert all(v.sent_at <= removed_at + HOLD_AFTER_MS for v in sent)
    pending = [m for m in bob.messages(group_id) if m.status == "pending"]
    assert [m.text for m in pending] == held
    assert bob.freshness.status(group_id).held
    assert _warnings(bob, group_id, "unconfirmed"), "the hold must be told, not silent"
    # The relay's own headers gave nothing away: only the heads did.
    assert not _warnings(bob, group_id, "withheld-commit")
    assert not _warnings(bob, group_id, "withheld-items")
    with pytest.raises(SendHeld):
        run(carol.send_text(group_id, "carol, held too"))

    # The relay heals. Alice's client publishes its next head; Bob and Carol learn of the
    # removal and are told exactly which of their messages Mallory could read.
    fork.heal()
    clock.advance(seconds=300)
    run(alice.sync())
    report = run(bob.sync())
    run(carol.sync())

    assert [m.name for m in bob.members(group_id)] == ["alice", "bob", "carol"]
    assert not bob.freshness.status(group_id).held
    exposed_ids = {m.message_id for m in sent}
    assert exposed_ids == set(read_by_mallory), "the report names exactly what Mallory read"
    by_id = {m.message_id: m for m in bob.messages(group_id)}
    for message_id in exposed_ids:
        warning = by_id[message_id].warning
        assert warning is not None and "readable by mallory" in warning
    (summary,) = _warnings(bob, group_id, "exposed-after-removal")
    assert summary.startswith(f"{len(sent)} messages you sent after mallory's removal")
    assert all(f"#{m.row_id}" in summary for m in sent)
    (carol_summary,) = _warnings(carol, group_id, "exposed-after-removal")
    assert carol_summary.startswith("1 message you sent after mallory's removal")
    carol_view = {m.message_id: m for m in carol.messages(group_id)}[carol_sent.message_id]
    assert carol_view.warning is not None and "readable by mallory" in carol_view.warning
    assert report.unsent == 0, "the held messages go out once the group is confirmed"

    # The held messages went out in epoch k+1: Carol reads them, Mallory never does.
    carol_texts = [m.text for m in carol.messages(group_id)]
    assert all(text in carol_texts for text in held)
    run(mallory.sync())
    assert mallory.group(group_id).status == "removed"
    mallory_texts = {m.text for m in mallory.messages(group_id)}
    assert not mallory_texts & set(held)
