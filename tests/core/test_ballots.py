"""Anonymous ballots through real engines against the real relay app in-process (P6).

Three members (Alice creates, Bob and Carol vote) with small rings, so the ring
signatures stay fast. Covered: every kind end to end, identical tallies, hidden results,
quorum, re-votes, one key image per member, replays, rejection of late, outside and
tampered votes by every client alike, the closing rules, and that neither the relay nor
an organizer holding the roster and the reveal key can tell who voted what.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from app.core.ballots import CLOSE_GRACE_MS, BallotService
from app.core.engine import Engine
from app.core.errors import ClientError, NotPermittedHere, RelayError, RelayUnavailable
from crypto.ballot import (
    Answer,
    BallotDefinition,
    BallotKeyPair,
    BallotKind,
    RevealKey,
    SingleChoice,
    YesNoChoice,
    cast_vote,
    ristretto,
    verify_vote,
)
from crypto.ballot.choice import open_choice
from crypto.ballot.transport import (
    CONTENT_TYPE_CLOSE,
    CONTENT_TYPE_DEFINITION,
    BallotNotice,
    inner_item_type,
    open_vote_item,
    seal_vote_item,
)
from crypto.errors import RemoteError
from crypto.identity import fingerprint
from crypto.items import ItemType, peek_item
from crypto.key_schedule import EpochKeys
from relay.http import RelayApp
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all

HOUR = 3_600_000


class Switch(httpx.AsyncBaseTransport):
    """The in-process relay, with a switch to make it unreachable, and misbehaviours:
    acknowledge a vote item without storing it; answer every message item with
    ``stale_epoch`` and deliver no commit (a withheld commit). A relay cannot tell a vote
    from a message (protocol 4.3), so this one is handed the epoch's keys to find them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.swallow_votes = 0
        self.keys: EpochKeys | None = None
        self.withhold_for_messages = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("relay switched off", request=request)
        body = await request.aread()
        if (
            self.swallow_votes
            and request.method == "POST"
            and request.url.path.endswith("/items")
            and self.keys is not None
            and is_vote(self.keys, body)
        ):
            self.swallow_votes -= 1
            return httpx.Response(200, json={"seq": 1})
        if (
            self.withhold_for_messages
            and request.method == "POST"
            and request.url.path.endswith("/items")
            and not (self.keys is not None and is_vote(self.keys, body))
        ):
            return httpx.Response(409, json={"error": "stale_epoch"})
        return await self.inner.handle_async_request(request)


@dataclass
class World:
    app: RelayApp
    clock: Clock
    transport: Switch
    group_id: bytes
    alice: Engine
    bob: Engine
    carol: Engine

    @property
    def members(self) -> tuple[Engine, Engine, Engine]:
        return self.alice, self.bob, self.carol


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = Switch(httpx.ASGITransport(app=app))
    alice, bob, carol = (
        make_engine(tmp_path, name, transport, clock) for name in ("alice", "bob", "carol")
    )

    async def setup() -> bytes:
        group_id = await alice.create_group("Riders Union")
        await befriend(alice, group_id, bob, carol)
        # Each member's first syncs register their ballot key; one more round spreads them.
        await sync_all(alice, bob, carol)
        await sync_all(alice, bob, carol)
        return group_id

    group_id = run(setup())
    yield World(app, clock, transport, group_id, alice, bob, carol)
    for engine in (alice, bob, carol):
        run(engine.close())
    app.close()


def svc(engine: Engine) -> BallotService:
    return engine.ballots


def create(w: World, kind: BallotKind = BallotKind.SINGLE, **kwargs: object) -> bytes:
    params: dict[str, object] = {"closes_at": w.clock.now + HOUR}
    if kind in (BallotKind.SINGLE, BallotKind.APPROVAL, BallotKind.RANKED):
        params["options"] = ("Accept", "Reject", "Counter-offer")
    params.update(kwargs)
    return run(svc(w.alice).create(w.group_id, "Do we take the offer?", kind=kind, **params))  # type: ignore[arg-type]


def vote(engine: Engine, ballot_id: bytes, choice: str) -> None:
    run(svc(engine).vote(ballot_id, choice, delay_ms=0))


def results(engine: Engine, group_id: bytes, ballot_id: bytes) -> dict[str, object]:
    return svc(engine).results(group_id, ballot_id)


def stored_result(engine: Engine, ballot_id: bytes) -> str:
    (raw,) = engine.db.one("SELECT result FROM ballots WHERE ballot_id = ?", (ballot_id,))
    return str(raw)


def rejections(engine: Engine, group_id: bytes) -> list[str]:
    return [
        detail
        for (detail,) in engine.db.all(
            "SELECT detail FROM warnings WHERE group_id = ? AND kind = 'rejected' ORDER BY id",
            (group_id,),
        )
    ]


def relay_items(app: RelayApp, mailbox_id: bytes) -> list[tuple[int, bytes]]:
    conn = sqlite3.connect(app.relay.config.db_path)
    try:
        return [
            (seq, bytes(data))
            for seq, data in conn.execute(
                "SELECT i.seq, i.data FROM items i JOIN queues q ON q.id = i.queue"
                " WHERE q.qid = ? ORDER BY i.seq",
                (mailbox_id,),
            )
        ]
    finally:
        conn.close()


def is_vote(keys: EpochKeys, item: bytes) -> bool:
    """Only a member tells a vote from a message: after decryption (protocol 4.3)."""
    try:
        if peek_item(item)[1] is not ItemType.MESSAGE:
            return False
        return inner_item_type(keys, item) is ItemType.VOTE
    except RemoteError:
        return False


def vote_items(w: World) -> list[tuple[int, bytes]]:
    session = w.alice.session(w.group_id)
    assert session.keys is not None
    items = relay_items(w.app, session.mailbox_id)
    return [(seq, item) for seq, item in items if is_vote(session.keys, item)]


async def post_raw(engine: Engine, group_id: bytes, item: bytes) -> int:
    session = engine.session(group_id)
    assert session.keys is not None
    return await engine.relay(session.relay_url).post_item(
        session.mailbox_id, session.keys.mailbox_cap, item
    )


def definition_of(engine: Engine, ballot_id: bytes) -> BallotDefinition:
    (raw,) = engine.db.one("SELECT definition FROM ballots WHERE ballot_id = ?", (ballot_id,))
    return BallotDefinition.decode(raw)


def keypair(engine: Engine, group_id: bytes) -> BallotKeyPair:
    (secret,) = engine.db.one("SELECT secret FROM ballot_keys WHERE group_id = ?", (group_id,))
    return BallotKeyPair.from_secret(secret)


# -- keys and eligibility -----------------------------------------------------------------


def test_every_member_registers_a_ballot_key_automatically(world: World) -> None:
    w = world
    rosters = {e.session(w.group_id).state.ballot_roster() for e in w.members}
    (roster,) = rosters
    assert len(roster) == 3
    for engine in w.members:
        me = engine.identity.public_key
        assert (
            engine.session(w.group_id).state.ballot_keys[me] == keypair(engine, w.group_id).public
        )
    # Nothing to do on the next round: the key is registered once.
    seq = w.alice.session(w.group_id).state.seq
    run(sync_all(*w.members))
    assert w.alice.session(w.group_id).state.seq == seq


def test_a_member_who_joined_later_is_not_eligible(world: World, tmp_path: Path) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    dave = make_engine(tmp_path, "dave", w.transport, w.clock)
    try:
        run(befriend(w.alice, w.group_id, dave))
        run(sync_all(dave, w.alice, dave))
        assert dave.session(w.group_id).state.ballot_keys.get(dave.identity.public_key)
        # Dave never saw the definition (he reads from his admission on) ...
        with pytest.raises(ClientError):
            run(svc(dave).vote(ballot_id.hex(), "Accept", delay_ms=0))
        # ... and Bob's client refuses a vote from a key outside the frozen roster.
        definition = definition_of(w.bob, ballot_id)
        assert keypair(dave, w.group_id).public not in definition.roster
        forged = forge_outside_vote(definition, keypair(dave, w.group_id))
        run(post_raw(dave, w.group_id, seal_vote_item(dave.session(w.group_id).keys, forged, _rng)))  # type: ignore[arg-type]
        run(sync_all(*w.members))
        for engine in w.members:
            assert engine.db.one("SELECT count(*) FROM ballot_votes")[0] == 0
            assert rejections(engine, w.group_id)[-1].startswith("BadSignature")
    finally:
        run(dave.close())


def _rng(size: int) -> bytes:
    import os

    return os.urandom(size)


def forge_outside_vote(definition: BallotDefinition, outsider: BallotKeyPair) -> bytes:
    """A vote signed over a ring where the outsider replaced the first member: its ballot
    id is the real one, its ring is not."""
    fake = replace(definition, roster=(outsider.public, *definition.roster[1:]))
    return cast_vote(fake, outsider, 0, SingleChoice(0), _rng)


def test_creator_lying_about_the_roster_is_rejected_by_everyone(world: World) -> None:
    w = world
    roster = w.alice.session(w.group_id).state.ballot_roster()
    definition, _ = BallotDefinition.create(
        w.alice.identity,
        w.group_id,
        "Only my friends vote",
        BallotKind.YES_NO_ABSTAIN,
        roster[:2],
        w.clock.now,
        w.clock.now + HOUR,
        _rng,
    )
    run(w.alice.send_content(w.group_id, CONTENT_TYPE_DEFINITION, definition.encode(), "x"))
    run(sync_all(*w.members))
    for engine in w.members:
        assert svc(engine).ballots(w.group_id) == []
        assert "registered ballot keys" in rejections(engine, w.group_id)[-1]


def test_a_definition_for_a_made_up_roster_is_refused_before_any_key_is_converted(
    world: World,
) -> None:
    """A (modified) member posts a ballot over hundreds of made-up keys: refused by
    everyone for its roster, without the curve work of checking and converting each
    key (about a second for 4,096 keys) and without pushing the real members' keys out
    of the conversion cache."""
    w = world
    made_up = [BallotKeyPair.generate(_rng).public for _ in range(200)]
    definition, _ = BallotDefinition.create(
        w.bob.identity,
        w.group_id,
        "Made-up members",
        BallotKind.YES_NO_ABSTAIN,
        made_up,
        w.clock.now,
        w.clock.now + HOUR,
        _rng,
    )
    run(w.bob.send_content(w.group_id, CONTENT_TYPE_DEFINITION, definition.encode(), "x"))
    ristretto.from_checked_edwards.cache_clear()
    run(sync_all(w.alice, w.carol))
    info = ristretto.from_checked_edwards.cache_info()
    assert (info.hits, info.misses) == (0, 0)
    for engine in (w.alice, w.carol):
        assert svc(engine).ballots(w.group_id) == []
        assert "registered ballot keys" in rejections(engine, w.group_id)[-1]


# -- every kind end to end, identical everywhere -------------------------------------------


def test_every_kind_end_to_end_with_identical_results(world: World) -> None:
    w = world
    single = create(w, BallotKind.SINGLE)
    yes_no = create(w, BallotKind.YES_NO_ABSTAIN)
    approval = create(w, BallotKind.APPROVAL)
    ranked = create(w, BallotKind.RANKED)
    numeric = create(w, BallotKind.NUMERIC, numeric_min=0, numeric_max=1000, histogram_bins=4)
    answers = {
        single: ("Accept", "2", "reject"),
        yes_no: ("yes", "no", "yes"),
        approval: ("Accept,Counter-offer", "1", ""),
        ranked: ("Counter-offer,Accept", "Reject,Counter-offer,Accept", "Accept"),
        numeric: ("350", "400", "900"),
    }
    run(sync_all(*w.members))
    for ballot_id, choices in answers.items():
        for engine, choice in zip(w.members, choices, strict=True):
            vote(engine, ballot_id, choice)
    run(sync_all(*w.members))

    for ballot_id in answers:
        for engine in w.members:
            view = svc(engine).ballot(w.group_id, ballot_id)
            assert (view.status, view.progress) == ("open", "3 of 3 have voted")
            hidden = results(engine, w.group_id, ballot_id)
            assert "counts" not in hidden and hidden["turnout"] == 3
    # The deadline passes: Alice's client releases every key on its next sync.
    w.clock.advance(seconds=3601)
    run(sync_all(*w.members))

    for ballot_id in answers:
        texts = {stored_result(e, ballot_id) for e in w.members}
        assert len(texts) == 1, "every member computes the same result"
    got = {b: results(w.carol, w.group_id, b) for b in answers}
    assert got[single]["counts"] == {"Accept": 1, "Reject": 2, "Counter-offer": 0}
    assert got[single]["winners"] == ["Reject"]
    assert list(got[single]["counts"]) == ["Accept", "Reject", "Counter-offer"]  # type: ignore[call-overload]
    assert got[single]["status"] == "tallied"
    assert got[yes_no]["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert got[approval]["counts"] == {"Accept": 2, "Reject": 0, "Counter-offer": 1}
    assert got[approval]["valid"] == 3  # the empty approval is a valid blank ballot
    rounds = got[ranked]["rounds"]
    assert isinstance(rounds, list) and rounds[0]["counts"] == {
        "Accept": 1,
        "Reject": 1,
        "Counter-offer": 1,
    }
    assert got[ranked]["winners"] == ["Accept"]
    summary = got[numeric]["numeric"]
    assert isinstance(summary, dict)
    assert (summary["count"], summary["median"], summary["q1"], summary["q3"]) == (
        3,
        400.0,
        375.0,
        650.0,
    )
    assert [(b["low"], b["high"], b["count"]) for b in summary["histogram"]] == [
        (0, 249, 0),
        (250, 499, 2),
        (500, 749, 0),
        (750, 1000, 1),
    ]
    # Each voter finds their own ballot, counted as cast (individual verifiability).
    assert results(w.bob, w.group_id, single)["mine"] == {"counted": True, "choice": "Reject"}
    assert results(w.alice, w.group_id, numeric)["mine"] == {"counted": True, "choice": 350}


def test_quorum_not_met(world: World) -> None:
    w = world
    ballot_id = create(w, BallotKind.YES_NO_ABSTAIN, quorum=2)
    run(sync_all(*w.members))
    vote(w.bob, ballot_id, "yes")
    run(svc(w.alice).close(ballot_id))
    run(sync_all(*w.members))
    for engine in w.members:
        got = results(engine, w.group_id, ballot_id)
        assert got["status"] == "quorum_not_met"
        assert got["quorum"] == {"required": 2, "met": False}
        assert got["winners"] == [] and got["counts"] == {"yes": 1, "no": 0, "abstain": 0}


# -- one vote per member -------------------------------------------------------------------


def test_a_new_vote_replaces_the_old_one(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    vote(w.bob, ballot_id, "Accept")
    vote(w.bob, ballot_id, "Reject")
    vote(w.carol, ballot_id, "Reject")
    run(sync_all(*w.members))
    view = svc(w.alice).ballot(w.group_id, ballot_id)
    assert view.progress == "2 of 3 have voted"
    assert svc(w.bob).ballot(w.group_id, ballot_id).my_revision == 1
    images = w.alice.db.all("SELECT key_image, revision FROM ballot_votes ORDER BY relay_seq")
    assert len(images) == 3 and images[0][0] == images[1][0]  # Bob's two votes, one image
    run(svc(w.alice).close(ballot_id))
    run(sync_all(*w.members))
    got = results(w.carol, w.group_id, ballot_id)
    assert got["turnout"] == 2
    assert got["counts"] == {"Accept": 0, "Reject": 2, "Counter-offer": 0}


def test_a_replayed_vote_is_counted_once(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    vote(w.bob, ballot_id, "Accept")
    ((_, item),) = vote_items(w)
    # The relay (or anyone with the capability) posts the same bytes twice more.
    run(post_raw(w.carol, w.group_id, item))
    run(post_raw(w.carol, w.group_id, item))
    run(sync_all(*w.members))
    for engine in w.members:
        assert svc(engine).ballot(w.group_id, ballot_id).voted == 1
        assert engine.db.one("SELECT count(*) FROM ballot_votes")[0] == 1
        assert rejections(engine, w.group_id) == []  # duplicates are quiet, not attacks


def test_a_member_cannot_vote_with_a_second_key_image(world: World) -> None:
    """Bob's ballot key is frozen in the roster. A fresh key of his gives a new key image
    only with a ring it is not in: every client refuses that vote; with the real key
    every vote of his carries the same image."""
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    definition = definition_of(w.bob, ballot_id)
    bob_key = keypair(w.bob, w.group_id)
    index = definition.roster.index(bob_key.public)
    images = {
        verify_vote(
            definition, cast_vote(definition, bob_key, index, SingleChoice(i), _rng)
        ).key_image
        for i in range(3)
    }
    assert len(images) == 1
    second = BallotKeyPair.generate(_rng)
    forged = forge_outside_vote(definition, second)
    run(post_raw(w.bob, w.group_id, seal_vote_item(w.bob.session(w.group_id).keys, forged, _rng)))  # type: ignore[arg-type]
    run(sync_all(*w.members))
    for engine in w.members:
        assert engine.db.one("SELECT count(*) FROM ballot_votes")[0] == 0
        assert rejections(engine, w.group_id)[-1].startswith("BadSignature")
    # His real vote still counts, once.
    run(svc(w.bob).vote(ballot_id, "Accept", delay_ms=0))
    run(svc(w.bob).vote(ballot_id, "Reject", delay_ms=0))
    assert svc(w.bob).ballot(w.group_id, ballot_id).voted == 1


# -- rejections, identical in every client ---------------------------------------------


def test_late_tampered_and_cancelled_votes_are_rejected_alike(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    definition = definition_of(w.carol, ballot_id)
    carol_key = keypair(w.carol, w.group_id)
    index = definition.roster.index(carol_key.public)
    keys = w.carol.session(w.group_id).keys
    assert keys is not None

    # Tampered: a valid vote with one byte of its ring signature changed, sealed anew.
    good = cast_vote(definition, carol_key, index, SingleChoice(1), _rng)
    bad = bytearray(good)
    bad[-5] ^= 0x40
    run(post_raw(w.carol, w.group_id, seal_vote_item(keys, bytes(bad), _rng)))
    # Garbage that does not even open under the vote key.
    item = bytearray(seal_vote_item(keys, good, _rng))
    item[40] ^= 1
    run(post_raw(w.carol, w.group_id, bytes(item)))
    run(sync_all(*w.members))

    # Closed by the creator; then Carol's (valid) vote arrives: too late for everyone.
    run(svc(w.alice).close(ballot_id))
    run(post_raw(w.carol, w.group_id, seal_vote_item(keys, good, _rng)))
    run(sync_all(*w.members))
    per_member = [rejections(e, w.group_id) for e in w.members]
    assert per_member[0] == per_member[1] == per_member[2]
    kinds = [detail.split(":")[0] for detail in per_member[0]]
    assert kinds == ["BadSignature", "DecryptionFailed", "Expired"]
    for engine in w.members:
        got = results(engine, w.group_id, ballot_id)
        assert got["turnout"] == 0 and got["status"] == "tallied"


def test_cancelled_ballot_takes_no_votes_and_has_no_result(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    vote(w.bob, ballot_id, "Accept")
    run(svc(w.alice).cancel(ballot_id))
    with pytest.raises(ClientError):
        vote(w.carol, ballot_id, "Reject")
    w.clock.advance(seconds=3601)
    run(sync_all(*w.members))
    for engine in w.members:
        got = results(engine, w.group_id, ballot_id)
        assert got["status"] == "cancelled" and "counts" not in got
    assert w.alice.db.one("SELECT count(*) FROM messages WHERE content_type = 18")[0] == 0


# -- closing ---------------------------------------------------------------------------


def test_a_member_with_a_lying_clock_cannot_close_a_ballot(world: World) -> None:
    """Issue #9, item 5: a member sets her clock past the deadline and posts a close
    marker; every client refuses it (only the creator or an organizer closes)."""
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    with pytest.raises(NotPermittedHere):
        run(svc(w.carol).close(ballot_id))
    honest_now = w.clock.now
    w.clock.now = definition_of(w.carol, ballot_id).closes_at + 1  # Carol's lying clock
    notice = BallotNotice(ballot_id).encode()
    run(w.carol.send_content(w.group_id, CONTENT_TYPE_CLOSE, notice, "close"))
    w.clock.now = honest_now
    run(sync_all(*w.members))
    for engine in w.members:
        assert svc(engine).ballot(w.group_id, ballot_id).status == "open"
        assert "creator or an organizer" in rejections(engine, w.group_id)[-1]
    vote(w.bob, ballot_id, "Reject")
    run(svc(w.alice).close(ballot_id))
    run(sync_all(*w.members))
    for engine in w.members:
        assert results(engine, w.group_id, ballot_id)["counts"] == {
            "Accept": 0,
            "Reject": 1,
            "Counter-offer": 0,
        }


def test_an_organizer_closes_a_members_ballot_early_and_after_the_deadline(
    world: World,
) -> None:
    w = world  # Alice is the organizer; Bob creates the ballots
    early_id = run(
        svc(w.bob).create(w.group_id, "Strike?", kind=BallotKind.YES_NO_ABSTAIN,
                          closes_at=w.clock.now + HOUR)
    )  # fmt: skip
    run(sync_all(*w.members))
    vote(w.carol, early_id, "yes")
    run(svc(w.alice).close(early_id))  # an organizer closes someone else's ballot early
    run(sync_all(w.bob, w.alice, w.carol))  # Bob's client sees the close, releases the key
    for engine in w.members:
        got = results(engine, w.group_id, early_id)
        assert got["closed_by"] == "early"
        assert got["counts"] == {"yes": 1, "no": 0, "abstain": 0}

    # Bob is away. Past the deadline and the grace, Alice's client (an organizer) closes.
    late_id = run(
        svc(w.bob).create(w.group_id, "Picket?", kind=BallotKind.YES_NO_ABSTAIN,
                          closes_at=w.clock.now + HOUR)
    )  # fmt: skip
    run(sync_all(w.alice, w.carol))
    vote(w.carol, late_id, "no")
    w.clock.advance(seconds=3600 + CLOSE_GRACE_MS / 1000 + 1)
    run(sync_all(w.carol))  # a member's client does not close
    assert svc(w.carol).ballot(w.group_id, late_id).status == "open"
    run(sync_all(w.alice))
    vote_after = cast_vote(
        definition_of(w.carol, late_id),
        keypair(w.carol, w.group_id),
        definition_of(w.carol, late_id).roster.index(keypair(w.carol, w.group_id).public),
        YesNoChoice(Answer.YES),
        _rng,
        revision=1,
    )
    run(sync_all(w.carol))
    carol_keys = w.carol.session(w.group_id).keys
    assert carol_keys is not None
    run(post_raw(w.carol, w.group_id, seal_vote_item(carol_keys, vote_after, _rng)))
    run(sync_all(w.carol, w.alice))
    for engine in (w.alice, w.carol):
        view = svc(engine).ballot(w.group_id, late_id)
        assert (view.status, view.closed_by) == ("closed", "deadline")
    run(sync_all(w.bob, w.alice, w.carol))  # Bob comes back and releases the key
    for engine in w.members:
        assert results(engine, w.group_id, late_id)["counts"] == {"yes": 0, "no": 1, "abstain": 0}
    assert len({stored_result(e, late_id) for e in w.members}) == 1


def test_a_vote_waits_for_its_random_delay(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    receipt = run(svc(w.bob).vote(ballot_id, "Accept"))  # the app's default random delay
    assert not receipt.posted and receipt.not_before > w.clock.now
    assert vote_items(w) == []
    assert svc(w.bob).ballot(w.group_id, ballot_id).my_vote_pending
    w.clock.advance(seconds=11)
    run(sync_all(w.bob, w.alice))  # the engine's maintenance posts it
    assert len(vote_items(w)) == 1
    assert svc(w.alice).ballot(w.group_id, ballot_id).voted == 1


def test_vote_while_the_relay_is_down_goes_out_later(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    run(w.bob.sync())
    w.transport.down = True
    with pytest.raises(RelayUnavailable):
        run(svc(w.bob).vote(ballot_id, "Reject", delay_ms=0))
    w.transport.down = False
    run(sync_all(w.bob, w.alice))
    assert svc(w.alice).ballot(w.group_id, ballot_id).voted == 1


def test_a_vote_the_relay_acknowledged_but_dropped_is_posted_again(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    w.transport.swallow_votes = 1
    w.transport.keys = w.bob.session(w.group_id).keys
    receipt = run(svc(w.bob).vote(ballot_id, "Accept", delay_ms=0))
    assert receipt.posted and vote_items(w) == []
    run(sync_all(w.bob, w.alice))  # Bob's client notices and posts the same vote again
    assert svc(w.alice).ballot(w.group_id, ballot_id).voted == 1
    (kind,) = w.bob.db.one("SELECT kind FROM warnings WHERE kind = 'vote-lost'")
    assert kind == "vote-lost"


def test_a_vote_queued_before_a_commit_goes_out_in_the_new_epoch(world: World) -> None:
    """The outbox's one stale-epoch handling, for a vote: Bob's client has not seen the
    commit that ended its epoch, the relay answers stale_epoch, the client syncs, seals
    the vote again in the new epoch and posts it; it is counted."""
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    receipt = run(svc(w.bob).vote(ballot_id, "Reject", delay_ms=5_000))
    assert not receipt.posted
    old_epoch = w.bob.session(w.group_id).state.epoch
    run(w.alice.rekey(w.group_id))  # Bob has not seen it
    w.clock.advance(seconds=6)
    assert run(w.bob.flush_outbox()) == 0  # the one flush, not a sync
    assert w.bob.session(w.group_id).state.epoch == old_epoch + 1
    assert not svc(w.bob).ballot(w.group_id, ballot_id).my_vote_pending
    run(w.alice.sync())
    assert svc(w.alice).ballot(w.group_id, ballot_id).voted == 1
    (epoch_of_vote,) = {peek_item(item)[2] for _, item in vote_items(w)}
    assert epoch_of_vote == old_epoch + 1


def test_a_due_vote_is_not_held_back_by_a_message_stuck_on_a_withheld_commit(
    world: World,
) -> None:
    """Votes have no order with messages: a message of the group that stays queued (the
    relay claims our epoch ended and delivers no commit) does not keep a due vote in."""
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    receipt = run(svc(w.bob).vote(ballot_id, "Accept", delay_ms=5_000))
    w.transport.keys = w.bob.session(w.group_id).keys  # to let votes through: they look alike
    w.transport.withhold_for_messages = True
    with pytest.raises(RelayError, match="delivers no commit"):
        run(w.bob.send_text(w.group_id, "held by the relay"))
    w.clock.advance(seconds=6)
    assert receipt.not_before <= w.clock.now
    assert run(w.bob.flush_outbox()) == 1  # the message waits; the vote went out
    assert [m.status for m in w.bob.messages(w.group_id)][-1] == "pending"
    w.transport.withhold_for_messages = False
    run(w.alice.sync())
    assert svc(w.alice).ballot(w.group_id, ballot_id).voted == 1
    run(w.bob.sync())
    assert [m.status for m in w.bob.messages(w.group_id)][-1] == "sent"


def test_a_queued_message_survives_another_members_ballot_key_commit(
    world: World, tmp_path: Path
) -> None:
    """Regression: a message sealed while offline, then a commit by someone else (here a
    newcomer registering their ballot key) must still reach everyone."""
    w = world
    dave = make_engine(tmp_path, "dave", w.transport, w.clock)
    try:
        run(befriend(w.alice, w.group_id, dave))
        run(w.bob.sync())
        w.transport.down = True
        with pytest.raises(RelayUnavailable):
            run(w.bob.send_text(w.group_id, "sent while offline"))
        w.transport.down = False
        run(dave.sync())  # Dave registers his key: a new epoch
        run(sync_all(w.bob, w.carol))
        assert "sent while offline" in [m.text for m in w.carol.messages(w.group_id)]
    finally:
        run(dave.close())


# -- anonymity ---------------------------------------------------------------------------


def test_the_relay_stores_nothing_that_names_a_voter(world: World) -> None:
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    for engine, choice in zip(w.members, ("Accept", "Reject", "Reject"), strict=True):
        vote(engine, ballot_id, choice)
    run(svc(w.alice).close(ballot_id))
    run(sync_all(*w.members))
    path = Path(w.app.relay.config.db_path)
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert len(vote_items(w)) == 3
    for engine in w.members:
        identity_pk = engine.identity.public_key
        ballot_pk = keypair(engine, w.group_id).public
        print_ = fingerprint(identity_pk)
        for needle in (
            identity_pk,
            ballot_pk,
            print_,
            print_.hex().encode(),
            identity_pk.hex().encode(),
            ballot_pk.hex().encode(),
            engine.name.encode(),
        ):
            assert needle not in stored


def test_an_organizer_with_the_roster_and_the_reveal_key_cannot_link_votes(
    world: World,
) -> None:
    """Alice created the ballot: she holds the reveal key, the roster, the epoch keys and
    the relay's copy. Bob's and Carol's votes for the same option look alike: same size,
    same layout, same plaintext choice; nothing in them equals any per-member value."""
    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    vote(w.bob, ballot_id, "Reject")
    vote(w.carol, ballot_id, "Reject")
    run(sync_all(w.alice))
    keys = w.alice.session(w.group_id).keys
    assert keys is not None
    definition = definition_of(w.alice, ballot_id)
    (reveal_secret,) = w.alice.db.one(
        "SELECT secret FROM ballot_reveal_keys WHERE ballot_id = ?", (ballot_id,)
    )
    import nacl.public

    reveal = nacl.public.PrivateKey(RevealKey.from_secret(reveal_secret).secret)
    items = [item for _, item in vote_items(w)]
    votes = [open_vote_item(keys, item) for item in items]
    assert len({len(item) for item in items}) == 1
    assert len({len(v) for v in votes}) == 1
    verified = [verify_vote(definition, v) for v in votes]
    assert {v.revision for v in verified} == {0}
    assert {v[:21] for v in votes} == {votes[0][:21]}  # version, ballot id, revision
    assert {open_choice(definition, reveal, v.encrypted_choice) for v in verified} == {
        SingleChoice(1)
    }

    per_member: list[bytes] = []
    for engine in w.members:
        pk = engine.identity.public_key
        pair = keypair(engine, w.group_id)
        per_member += [
            pk,
            fingerprint(pk),
            pair.public,
            pair.secret_bytes(),
            engine.identity.delivery_cert.delivery_pk,
            engine.name.encode(),
        ]
    blob = b"".join(items) + b"".join(votes)
    for value in per_member:
        assert value not in blob
    # The roster index in the ring is not in the clear either: every response slot is a
    # random scalar, so the only structure left is the one the ring equations need.
    assert verified[0].key_image != verified[1].key_image
    assert json.dumps(svc(w.alice).results(w.group_id, ballot_id)).count("counts") == 0


def test_garbage_in_any_ballot_message_or_vote_never_stops_a_sync(world: World) -> None:
    """P10: random bodies for content types 16-19, random votes inside well-sealed vote
    items, a wrong reveal key and a reveal by someone else all become warnings."""
    import os

    w = world
    ballot_id = create(w)
    run(sync_all(*w.members))
    keys = w.bob.session(w.group_id).keys
    assert keys is not None

    async def attack() -> None:
        for content_type in range(16, 20):
            for size in (0, 1, 17, 49, 300):
                body = os.urandom(size)
                await w.bob.send_content(w.group_id, content_type, body, "garbage")
        for size in (1, 17, 40, 700):
            await post_raw(w.bob, w.group_id, seal_vote_item(keys, os.urandom(size), _rng))
            await post_raw(w.bob, w.group_id, b"\x01\x04" + os.urandom(size))
        wrong = RevealKey.from_secret(os.urandom(32)).encode_release(ballot_id)
        await w.alice.send_content(w.group_id, 18, wrong, "wrong key")
        await w.bob.send_content(w.group_id, 18, wrong, "not the creator")

    run(attack())
    run(sync_all(*w.members))
    vote(w.carol, ballot_id, "Accept")
    run(svc(w.alice).close(ballot_id))
    run(sync_all(*w.members))
    per_member = [rejections(e, w.group_id) for e in w.members]
    assert per_member[0] == per_member[1] == per_member[2]
    assert len(per_member[0]) >= 20 + 8 + 2
    for engine in w.members:
        got = results(engine, w.group_id, ballot_id)
        assert got["counts"] == {"Accept": 1, "Reject": 0, "Counter-offer": 0}
