"""Issue #9 items 2 and 5, run for real: a man in the middle in front of a real relay
process splits a tally by hiding one vote from some members; a modified member client
closes a ballot early with a lying clock; a member removed after the definition
(docs/ballots.md section 13).

Votes are picked out by the relay position their voter's client recorded, never by the
item's type (votes become indistinguishable from messages at the relay in version 2).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from app.core.engine import Engine
from app.core.errors import NotPermittedHere
from crypto.ballot import BallotKind
from crypto.ballot.transport import CONTENT_TYPE_CLOSE, CONTENT_TYPE_REVEAL, BallotNotice
from tests.attacks.mitm import FetchedItem, HideRule
from tests.attacks.world import AttackWorld
from tests.core.harness import befriend, run

pytestmark = pytest.mark.socket

MINUTE = 60_000
QUESTION = "Accept the depot's new rate card?"


def _group(world: AttackWorld, *names: str) -> tuple[bytes, list[Engine]]:
    engines = [world.member(name) for name in names]

    async def go() -> bytes:
        group_id = await engines[0].create_group("Couriers")
        await befriend(engines[0], group_id, *engines[1:])
        for _ in range(2):  # ballot keys registered, then seen by everyone
            for engine in engines:
                await engine.sync()
        return group_id

    return run(go()), engines


def _sync(*engines: Engine) -> None:
    async def go() -> None:
        for engine in engines:
            await engine.sync()

    run(go())


def _create(world: AttackWorld, creator: Engine, group_id: bytes, minutes: int = 60) -> bytes:
    return run(
        creator.ballots.create(
            group_id,
            QUESTION,
            kind=BallotKind.SINGLE,
            options=("Accept", "Reject"),
            closes_at=world.clock.now + minutes * MINUTE,
        )
    )


def _vote(engine: Engine, ballot_id: bytes, choice: str) -> int:
    run(engine.ballots.vote(ballot_id, choice, delay_ms=0))
    (seq,) = engine.db.one(
        "SELECT relay_seq FROM ballot_outbox WHERE ballot_id = ? ORDER BY revision DESC LIMIT 1",
        (ballot_id,),
    )
    return int(seq)


def _hide_from(members: Iterable[str], seq: int) -> HideRule:
    targets = set(members)
    return lambda item: item.member in targets and item.seq == seq


def _result(engine: Engine, group_id: bytes, ballot_id: bytes) -> dict[str, object]:
    return engine.ballots.results(group_id, ballot_id)


def _stored(engine: Engine, ballot_id: bytes) -> str | None:
    (raw,) = engine.db.one("SELECT result FROM ballots WHERE ballot_id = ?", (ballot_id,))
    return None if raw is None else str(raw)


def _warned(engine: Engine, kind: str) -> list[str]:
    return [d for (d,) in engine.db.all("SELECT detail FROM warnings WHERE kind = ?", (kind,))]


def test_a_vote_dropped_for_some_members_only_heals_to_one_tally(
    attack_world: AttackWorld,
) -> None:
    """Issue #9 item 2: before version 2, Bob and Dave tallied without Carol's vote while
    Alice and Carol counted it, and Carol's client said "counted"."""
    group_id, (alice, bob, carol, dave) = _group(attack_world, "alice", "bob", "carol", "dave")
    ballot_id = _create(attack_world, alice, group_id)
    _sync(bob, carol, dave)
    carol_seq = _vote(carol, ballot_id, "Reject")
    attack_world.adversary.hide(_hide_from(("bob", "dave"), carol_seq))
    _vote(bob, ballot_id, "Accept")
    _sync(alice, bob, carol, dave)
    assert [e.ballots.ballot(group_id, ballot_id).voted for e in (alice, bob, carol, dave)] == [
        2,
        1,
        2,
        1,
    ]

    run(alice.ballots.close(ballot_id))
    _sync(bob, dave)
    for engine in (bob, dave):  # no result that differs: a flag and a request instead
        waiting = _result(engine, group_id, ballot_id)
        assert "counts" not in waiting
        assert str(waiting["integrity"]).startswith("results differ between members")
    _sync(alice, carol)  # the creator's and the voter's clients post the vote again
    _sync(bob, dave, alice, carol)

    every = [_result(e, group_id, ballot_id) for e in (alice, bob, carol, dave)]
    for data in every:
        assert data["counts"] == {"Accept": 1, "Reject": 1}
        assert data["integrity"] is None
        assert data["counted"] == every[0]["counted"]
    assert len({_stored(e, ballot_id) for e in (alice, bob, carol, dave)}) == 1
    assert _result(carol, group_id, ballot_id)["mine"] == {"counted": True, "choice": "Reject"}
    assert _warned(bob, "ballot-votes-missing") and _warned(dave, "ballot-votes-missing")
    # The re-posts crossed the relay as new items; Bob and Dave were shown one of them.
    shown_to_bob = {s.seq for s in attack_world.adversary.items(member="bob", direction="down")}
    assert carol_seq not in shown_to_bob


def test_a_vote_dropped_for_the_creator_is_flagged_and_never_called_counted(
    attack_world: AttackWorld,
) -> None:
    group_id, (alice, bob, carol) = _group(attack_world, "alice", "bob", "carol")
    ballot_id = _create(attack_world, alice, group_id)
    _sync(bob, carol)
    carol_seq = _vote(carol, ballot_id, "Reject")
    attack_world.adversary.hide(_hide_from(("alice",), carol_seq))
    _vote(bob, ballot_id, "Accept")
    _sync(alice, bob, carol)
    run(alice.ballots.close(ballot_id))
    _sync(bob, carol, alice)

    assert len({_stored(e, ballot_id) for e in (alice, bob, carol)}) == 1  # one tally
    for engine in (alice, bob, carol):
        assert _result(engine, group_id, ballot_id)["counts"] == {"Accept": 1, "Reject": 0}
    assert _result(carol, group_id, ballot_id)["mine"] == {"counted": False}
    (told,) = _warned(carol, "ballot-my-vote-not-counted")
    assert QUESTION in told
    for engine in (bob, carol):  # everyone who saw the vote before the close says so
        flag = str(_result(engine, group_id, ballot_id)["integrity"])
        assert flag.startswith("results differ between members: 1 vote(s)")
        assert any(QUESTION in d for d in _warned(engine, "ballot-results-differ"))


def test_a_vote_hidden_for_good_ends_in_a_loud_warning_naming_the_ballot(
    attack_world: AttackWorld,
) -> None:
    group_id, (alice, bob, carol) = _group(attack_world, "alice", "bob", "carol")
    ballot_id = _create(attack_world, alice, group_id)
    _sync(bob, carol)
    carol_seq = _vote(carol, ballot_id, "Reject")
    adversary = attack_world.adversary
    adversary.hide(_hide_from(("bob",), carol_seq))
    _sync(alice, bob, carol)
    run(alice.ballots.close(ballot_id))
    (reveal_seq,) = alice.db.one(
        "SELECT max(relay_seq) FROM messages WHERE group_id = ? AND content_type = ?",
        (group_id, CONTENT_TYPE_REVEAL),
    )

    def everything_after_the_reveal_but_his_own(item: FetchedItem) -> bool:
        own = {s.seq for s in adversary.items(member="bob", direction="up")}
        return item.member == "bob" and item.seq > reveal_seq and item.seq not in own

    adversary.hide(everything_after_the_reveal_but_his_own)
    for _ in range(4):  # three requests a minute apart, then the warning
        _sync(bob, alice, carol)
        attack_world.clock.advance(seconds=61)
    _sync(bob)

    data = _result(bob, group_id, ballot_id)
    assert "counts" not in data
    assert "never reached this client" in str(data["integrity"])
    assert any(
        QUESTION in d and "never reached" in d for d in _warned(bob, "ballot-results-differ")
    )
    assert _stored(alice, ballot_id) is not None and _stored(bob, ballot_id) is None


def test_a_modified_client_with_a_lying_clock_cannot_close_a_ballot_early(
    attack_world: AttackWorld,
) -> None:
    """Issue #9 item 5: Carol's client claims the deadline has passed (a clock two
    minutes fast) and posts a close marker; no client accepts it."""
    group_id, (alice, bob, carol) = _group(attack_world, "alice", "bob", "carol")
    ballot_id = _create(attack_world, alice, group_id, minutes=2)
    _sync(bob, carol)
    with pytest.raises(NotPermittedHere):
        run(carol.ballots.close(ballot_id))
    honest = attack_world.clock.now
    attack_world.clock.now = honest + 2 * MINUTE + 1_000  # Carol's lying clock
    run(
        carol.send_content(
            group_id, CONTENT_TYPE_CLOSE, BallotNotice(ballot_id).encode(), "Ballot closed"
        )
    )
    attack_world.clock.now = honest
    _sync(alice, bob, carol)
    for engine in (alice, bob, carol):
        assert engine.ballots.ballot(group_id, ballot_id).status == "open"
        refused = [
            d for (d,) in engine.db.all("SELECT detail FROM warnings WHERE kind = 'rejected'")
        ]
        assert any("only the ballot's creator or an organizer can close it" in d for d in refused)
    _vote(bob, ballot_id, "Accept")  # voting goes on
    run(alice.ballots.close(ballot_id))
    _sync(bob, carol, alice)
    for engine in (alice, bob, carol):
        got = _result(engine, group_id, ballot_id)
        assert got["counts"] == {"Accept": 1, "Reject": 0}
        assert got["closed_by"] == "early"


def test_a_vote_by_a_member_removed_before_the_close_marks_the_ballot_everywhere(
    attack_world: AttackWorld,
) -> None:
    """Issue #9 item 5: the rule is that the vote stays valid (nobody can tell it is
    hers) and every client marks the ballot "eligibility changed"."""
    group_id, (alice, bob, carol) = _group(attack_world, "alice", "bob", "carol")
    ballot_id = _create(attack_world, alice, group_id)
    _sync(bob, carol)
    _vote(carol, ballot_id, "Reject")
    _sync(alice, bob)
    run(alice.remove_member(group_id, carol.fingerprint))
    _sync(alice, bob)
    run(alice.ballots.close(ballot_id))
    _sync(bob, alice)
    for engine in (alice, bob):
        got = _result(engine, group_id, ballot_id)
        assert got["eligibility_changed"] is True
        assert got["counts"] == {"Accept": 0, "Reject": 1}
        (detail,) = _warned(engine, "ballot-eligibility-changed")
        assert QUESTION in detail and "organizers may run it again" in detail.lower()
    assert _stored(alice, ballot_id) == _stored(bob, ballot_id)
