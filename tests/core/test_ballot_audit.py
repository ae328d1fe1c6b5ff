"""Votes are verified once, on arrival, by each member's own client; the result needs no
bulk verification; the full re-check (``BallotService.verify``, ``caucus ballot verify``)
finds a stored vote that no longer verifies. Real engines over the real relay app.
"""

from __future__ import annotations

import json

from crypto.ballot import RevealKey, SingleChoice, cast_vote, tally, verify_vote
from crypto.ballot.transport import open_vote_item, seal_vote_item
from crypto.errors import BadSignature
from tests.core import test_ballots
from tests.core.harness import run, sync_all
from tests.core.test_ballots import (
    World,
    _rng,
    create,
    definition_of,
    keypair,
    post_raw,
    rejections,
    stored_result,
    svc,
    vote,
    vote_items,
)

world = test_ballots.world  # the three-member fixture, shared


def _reveal_secret(w: World, ballot_id: bytes) -> bytes:
    (secret,) = w.alice.db.one(
        "SELECT reveal_secret FROM ballots WHERE ballot_id = ?", (ballot_id,)
    )
    return bytes(secret)


def test_votes_are_verified_on_arrival_and_the_result_is_the_reference_tally(
    world: World,
) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    vote(w.bob, ballot_id, "Reject")
    vote(w.carol, ballot_id, "Accept")
    # The relay (or anyone holding the epoch keys) delivers a vote whose signature does
    # not verify. It carries no verdict: each client verifies it itself, on arrival.
    definition = definition_of(w.carol, ballot_id)
    carol = keypair(w.carol, w.group_id)
    keys = w.carol.session(w.group_id).keys
    assert keys is not None
    forged = bytearray(
        cast_vote(definition, carol, definition.roster.index(carol.public), SingleChoice(2), _rng)
    )
    forged[-5] ^= 0x01
    run(post_raw(w.carol, w.group_id, seal_vote_item(keys, bytes(forged), _rng)))
    run(sync_all(*w.members))
    for engine in w.members:
        assert rejections(engine, w.group_id)[-1].startswith("BadSignature")
        (stored,) = engine.db.one(
            "SELECT COUNT(*) FROM ballot_votes WHERE ballot_id = ?", (ballot_id,)
        )
        assert stored == 2  # only the two that verified on arrival

    run(svc(w.alice).close(ballot_id))
    run(sync_all(*w.members))

    # The reference: every vote item the relay holds, opened and verified from scratch,
    # tallied with the released key. Each member's stored result is exactly that.
    reference_votes = []
    for _, item in vote_items(w):
        try:
            reference_votes.append(verify_vote(definition, open_vote_item(keys, item)))
        except BadSignature:
            continue  # the forged one
    assert len(reference_votes) == 2
    reference = tally(
        definition, reference_votes, RevealKey.from_secret(_reveal_secret(w, ballot_id))
    )
    for engine in w.members:
        assert stored_result(engine, ballot_id) == _json(reference.to_json())
        audit = run(svc(engine).verify(ballot_id))
        assert (audit.checked, audit.failed, audit.unchecked) == (2, (), 0)
        assert audit.result_matches is True and audit.ok


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_the_full_check_rejects_a_stored_vote_whose_signature_does_not_verify(
    world: World,
) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    vote(w.bob, ballot_id, "Reject")
    vote(w.carol, ballot_id, "Accept")
    run(sync_all(*w.members))
    run(svc(w.alice).close(ballot_id))
    run(sync_all(*w.members))
    assert run(svc(w.bob).verify(ballot_id)).ok

    # Bob's store is altered behind the engine's back: one vote's bytes now carry a
    # changed ring-signature response. The full check verifies the bytes again.
    db = w.bob.db
    vote_hash, raw = db.one(
        "SELECT vote_hash, vote FROM ballot_votes WHERE ballot_id = ? ORDER BY relay_seq",
        (ballot_id,),
    )
    bad = bytearray(raw)
    bad[-5] ^= 0x01
    with db.transaction():
        db.execute(
            "UPDATE ballot_votes SET vote = ? WHERE ballot_id = ? AND vote_hash = ?",
            (bytes(bad), ballot_id, vote_hash),
        )
    audit = run(svc(w.bob).verify(ballot_id))
    assert audit.checked == 2 and not audit.ok
    (failure,) = audit.failed
    assert failure.startswith(f"vote {bytes(vote_hash).hex()[:16]}: BadSignature")
    # Without that vote a fresh tally no longer gives the stored result.
    assert audit.result_matches is False
    # Alice's and Carol's stores were not touched: their checks still pass.
    assert run(svc(w.alice).verify(ballot_id)).ok
    assert run(svc(w.carol).verify(ballot_id)).ok


def test_a_stored_row_that_disagrees_with_its_bytes_is_reported(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    vote(w.bob, ballot_id, "Reject")
    run(sync_all(*w.members))
    audit = run(svc(w.carol).verify(ballot_id))
    assert audit.ok and audit.result_matches is None  # open: nothing tallied yet
    db = w.carol.db
    with db.transaction():
        db.execute("UPDATE ballot_votes SET revision = 7 WHERE ballot_id = ?", (ballot_id,))
    (failure,) = run(svc(w.carol).verify(ballot_id)).failed
    assert failure.endswith("the stored row does not match the vote's bytes")
