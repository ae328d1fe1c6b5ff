"""The tally: every kind, instant-runoff rounds, quorum, re-votes, invalid choices, and the
same result from independent computations."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.ballot import (
    Answer,
    ApprovalChoice,
    BallotDefinition,
    BallotKeyPair,
    BallotKind,
    NumericChoice,
    RankedChoice,
    RevealKey,
    RevealKeyMismatch,
    SingleChoice,
    Status,
    VerifiedVote,
    YesNoChoice,
    blsag,
    cast_vote,
    tally,
    verify_vote,
)
from crypto.ballot.choice import Choice, encrypted_choice_size
from crypto.ballot.tally import instant_runoff, numeric_summary, select_latest
from crypto.ballot.vote import _message
from crypto.errors import UsageError
from crypto.sealed import seal
from crypto.wire import Writer
from tests.crypto.ballot.support import make_ballot, members

ROOT = Path(__file__).resolve().parents[3]
KEYS = members(8, os.urandom)


def ballot(
    kind: BallotKind, *, options: Sequence[str] = (), quorum: int = 0, numeric=(0, 0, 0)
) -> tuple[BallotDefinition, RevealKey]:
    return make_ballot(kind, KEYS, os.urandom, options=options, quorum=quorum, numeric=numeric)


def cast(definition: BallotDefinition, choices: Sequence[Choice]) -> list[VerifiedVote]:
    """Member i casts choices[i]."""
    return [
        verify_vote(definition, cast_vote(definition, KEYS[i], i, c, os.urandom))
        for i, c in enumerate(choices)
    ]


def raw_vote(
    definition: BallotDefinition, index: int, ciphertext: bytes, revision: int = 0
) -> VerifiedVote:
    """A correctly signed vote around arbitrary ciphertext (what a buggy or malicious
    client could post): the signature verifies, the choice inside is garbage."""
    message = _message(definition, revision, ciphertext)
    signature = blsag.sign(
        message, definition.ring, index, KEYS[index].secret, definition.tag, os.urandom
    )
    item = bytes(
        Writer()
        .u8(1)
        .fixed(definition.ballot_id, 16)
        .u32(revision)
        .var(ciphertext, 4096)
        .var(signature.encode(), 1 << 20)
    )
    return verify_vote(definition, item)


def test_yes_no_abstain() -> None:
    definition, reveal = ballot(BallotKind.YES_NO_ABSTAIN)
    answers = [Answer.YES, Answer.YES, Answer.NO, Answer.ABSTAIN, Answer.YES]
    result = tally(definition, cast(definition, [YesNoChoice(a) for a in answers]), reveal)
    as_json = result.to_json()
    assert as_json["status"] == "tallied"
    assert (as_json["eligible"], as_json["turnout"]) == (8, 5)
    assert as_json["counts"] == {"yes": 3, "no": 1, "abstain": 1}
    assert as_json["winners"] == ["yes"]


def test_abstain_never_wins() -> None:
    definition, reveal = ballot(BallotKind.YES_NO_ABSTAIN)
    votes = cast(definition, [YesNoChoice(Answer.ABSTAIN)] * 3 + [YesNoChoice(Answer.NO)])
    assert tally(definition, votes, reveal).winners == ("no",)


def test_single_with_tie_reports_both() -> None:
    definition, reveal = ballot(BallotKind.SINGLE, options=("red", "green", "blue"))
    votes = cast(definition, [SingleChoice(i) for i in (0, 1, 0, 1, 2)])
    result = tally(definition, votes, reveal)
    assert dict(result.counts) == {"red": 2, "green": 2, "blue": 1}
    assert result.winners == ("red", "green")


def test_approval_and_blank() -> None:
    definition, reveal = ballot(BallotKind.APPROVAL, options=("a", "b", "c"))
    choices = [
        ApprovalChoice(frozenset({0, 1})),
        ApprovalChoice(frozenset({1})),
        ApprovalChoice(frozenset({1, 2})),
        ApprovalChoice(frozenset()),
    ]
    result = tally(definition, cast(definition, choices), reveal)
    assert dict(result.counts) == {"a": 1, "b": 3, "c": 1}
    assert (result.turnout, result.valid, result.invalid) == (4, 4, 0)
    assert result.winners == ("b",)
    report: Any = result.to_json()
    assert report["ballots"][0]["choice"] in (["a", "b"], ["b"], ["b", "c"], [])


def test_ranked_instant_runoff_rounds() -> None:
    definition, reveal = ballot(BallotKind.RANKED, options=("A", "B", "C", "D"))
    rankings = [(0, 1)] * 3 + [(1, 2)] * 2 + [(2, 1)] * 2 + [(3, 2)]
    result = tally(definition, cast(definition, [RankedChoice(r) for r in rankings]), reveal)
    rounds = result.to_json()["rounds"]
    assert rounds == [
        {"counts": {"A": 3, "B": 2, "C": 2, "D": 1}, "exhausted": 0, "eliminated": "D"},
        # D's ballot moved to C; B alone has the fewest
        {"counts": {"A": 3, "B": 2, "C": 3}, "exhausted": 0, "eliminated": "B"},
        {"counts": {"A": 3, "C": 5}, "exhausted": 0, "eliminated": None},
    ]
    assert result.winners == ("C",)
    assert result.to_json()["counts"] == {"A": 3, "B": 2, "C": 2, "D": 1}


def test_irv_backward_tie_break_and_exhaustion() -> None:
    rankings = [(0, 1)] * 4 + [(1, 2)] * 3 + [(2, 1)] * 2 + [(3, 2)]
    rounds, winner = instant_runoff(4, rankings)
    assert [(counts, exhausted, out) for counts, exhausted, out in rounds] == [
        ({0: 4, 1: 3, 2: 2, 3: 1}, 0, 3),
        ({0: 4, 1: 3, 2: 3}, 0, 2),  # tie 3-3; round 1 had C (2) below B (3): C goes
        ({0: 4, 1: 5}, 1, None),  # D's ballot (D, C) is exhausted; 5 > 9/2
    ]
    assert winner == 1


def test_irv_last_resort_tie_break_and_empty() -> None:
    rounds, winner = instant_runoff(2, [(0,), (1,)])
    assert rounds[0] == ({0: 1, 1: 1}, 0, 1)
    assert winner == 0
    assert instant_runoff(3, []) == ([({0: 0, 1: 0, 2: 0}, 0, None)], None)
    assert instant_runoff(3, [()]) == ([({0: 0, 1: 0, 2: 0}, 1, None)], None)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=2, max_value=6).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.permutations(range(n)).flatmap(
                    lambda p: st.integers(0, len(p)).map(lambda k: tuple(p[:k]))
                ),
                max_size=30,
            ),
        )
    )
)
def test_irv_properties(case: tuple[int, list[tuple[int, ...]]]) -> None:
    n, rankings = case
    rounds, winner = instant_runoff(n, rankings)
    assert len(rounds) <= n
    final_counts, exhausted, eliminated = rounds[-1]
    assert eliminated is None
    active = len(rankings) - exhausted
    if winner is None:
        assert active == 0
    else:
        assert 2 * final_counts[winner] > active
        # A majority of first preferences always wins in the first round.
    firsts = [r[0] for r in rankings if r]
    for option in range(n):
        if 2 * firsts.count(option) > len(rankings):
            assert winner == option and len(rounds) == 1
    # Shuffling the ballots never changes anything.
    shuffled = list(rankings)
    random.Random(1).shuffle(shuffled)
    assert instant_runoff(n, shuffled) == (rounds, winner)


def test_numeric_summary_and_histogram() -> None:
    definition, reveal = ballot(BallotKind.NUMERIC, numeric=(0, 100, 4))
    votes = cast(definition, [NumericChoice(v) for v in (40, 10, 30, 20)])
    as_json = tally(definition, votes, reveal).to_json()
    assert as_json["numeric"] == {
        "count": 4,
        "min": 10,
        "max": 40,
        "mean": 25.0,
        "q1": 17.5,
        "median": 25.0,
        "q3": 32.5,
        "histogram": [
            {"low": 0, "high": 24, "count": 2},
            {"low": 25, "high": 49, "count": 2},
            {"low": 50, "high": 74, "count": 0},
            {"low": 75, "high": 100, "count": 0},
        ],
    }
    assert as_json["counts"] == {"10": 1, "20": 1, "30": 1, "40": 1}
    assert as_json["winners"] == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=-(2**50), max_value=2**50), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=100),
)
def test_quartiles_match_statistics_inclusive(values: list[int], bins: int) -> None:
    """Type 7 quartiles equal Python's ``statistics.quantiles(method="inclusive")``, computed
    exactly with Fractions; the histogram holds every value once."""
    summary = numeric_summary(values, -(2**50), 2**50, bins)
    if len(values) > 1:
        exact = statistics.quantiles([Fraction(v) for v in values], n=4, method="inclusive")
        assert [summary.q1, summary.median, summary.q3] == [float(q) for q in exact]
    else:
        assert summary.q1 == summary.median == summary.q3 == values[0]
    assert sum(b.count for b in summary.histogram) == len(values)
    assert summary.histogram[0].low == -(2**50) and summary.histogram[-1].high == 2**50
    for b in summary.histogram:
        assert b.count == sum(b.low <= v <= b.high for v in values)


def test_numeric_with_no_votes() -> None:
    summary = numeric_summary([], 1, 3, 10)
    assert summary.count == 0 and summary.median is None
    assert [(b.low, b.high) for b in summary.histogram] == [(1, 1), (2, 2), (3, 3)]


def test_quorum_not_met() -> None:
    definition, reveal = ballot(BallotKind.SINGLE, options=("a", "b"), quorum=4)
    result = tally(definition, cast(definition, [SingleChoice(0)] * 3), reveal)
    assert result.status is Status.QUORUM_NOT_MET
    assert result.to_json()["quorum"] == {"required": 4, "met": False}
    assert result.winners == ()
    assert dict(result.counts) == {"a": 3, "b": 0}
    more = cast(definition, [SingleChoice(0)] * 4)
    assert tally(definition, more, reveal).status is Status.TALLIED


def test_revote_replaces_and_replay_does_not_undo_it() -> None:
    definition, reveal = ballot(BallotKind.SINGLE, options=("a", "b"))
    first = verify_vote(definition, cast_vote(definition, KEYS[0], 0, SingleChoice(0), os.urandom))
    second = verify_vote(
        definition, cast_vote(definition, KEYS[0], 0, SingleChoice(1), os.urandom, revision=1)
    )
    assert first.key_image == second.key_image
    result = tally(definition, [first, second], reveal)
    assert (result.turnout, dict(result.counts)) == (1, {"a": 0, "b": 1})
    # The relay replays (or reorders) the old vote after the new one: still "b".
    result = tally(definition, [first, second, first], reveal)
    assert dict(result.counts) == {"a": 0, "b": 1}
    result = tally(definition, [second, first], reveal)
    assert dict(result.counts) == {"a": 0, "b": 1}
    # Same revision twice: the later in relay order counts.
    again = verify_vote(
        definition, cast_vote(definition, KEYS[0], 0, SingleChoice(0), os.urandom, revision=1)
    )
    assert dict(tally(definition, [second, again], reveal).counts) == {"a": 1, "b": 0}
    assert select_latest([second, again])[second.key_image][0] == 1


def test_invalid_choices_are_counted_not_fatal() -> None:
    definition, reveal = ballot(BallotKind.SINGLE, options=("a", "b"))
    size = encrypted_choice_size(definition)
    out_of_range = seal(definition.reveal_pk, bytes((1, BallotKind.SINGLE, 0, 7)), os.urandom)
    garbage = os.urandom(size)
    wrong_key = seal(RevealKey.generate(os.urandom).public, bytes((1, 2, 0, 0)), os.urandom)
    votes = [
        raw_vote(definition, 0, out_of_range),
        raw_vote(definition, 1, garbage),
        raw_vote(definition, 2, wrong_key),
        *cast(definition, [SingleChoice(0)] * 4)[3:],
    ]
    result = tally(definition, votes, reveal)
    assert (result.turnout, result.valid, result.invalid) == (4, 1, 3)
    assert dict(result.counts) == {"a": 1, "b": 0}
    assert sum(b.choice is None for b in result.ballots) == 3


def test_wrong_reveal_key_or_foreign_vote_is_refused() -> None:
    definition, reveal = ballot(BallotKind.SINGLE, options=("a", "b"))
    other, _ = ballot(BallotKind.SINGLE, options=("a", "b"))
    votes = cast(definition, [SingleChoice(0)])
    with pytest.raises(RevealKeyMismatch):
        tally(definition, votes, RevealKey.generate(os.urandom))
    with pytest.raises(UsageError):
        tally(definition, votes + cast(other, [SingleChoice(0)]), reveal)


def test_each_voter_finds_their_ballot() -> None:
    """Individual verifiability: my key image is listed with the choice I made."""
    definition, reveal = ballot(BallotKind.SINGLE, options=("a", "b", "c"))
    votes = cast(definition, [SingleChoice(i % 3) for i in range(6)])
    report: Any = tally(definition, votes, reveal).to_json()
    listed = {b["key_image"]: b["choice"] for b in report["ballots"]}
    for i in range(6):
        image = definition.key_image(KEYS[i].secret).hex()
        assert listed[image] == "abc"[i % 3]


_SUBPROCESS_TALLY = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app  # as every process of ours: rbcl's temporary library file is deleted once loaded
from crypto.ballot import BallotDefinition, RevealKey, tally, verify_vote
data = json.load(sys.stdin)
definition = BallotDefinition.decode(bytes.fromhex(data["definition"]))
reveal = RevealKey.decode_release(
    bytes.fromhex(data["release"]), definition.ballot_id, definition.reveal_pk
)
votes = [verify_vote(definition, bytes.fromhex(item)) for item in data["items"]]
print(json.dumps(tally(definition, votes, reveal).to_json(), sort_keys=True))
"""


@pytest.mark.parametrize("kind", list(BallotKind))
def test_identical_result_from_independent_computations(kind: BallotKind) -> None:
    """Another process (other hash seed) re-verifying the bytes and any order of distinct
    voters give the identical JSON."""
    options = ("x", "y", "z") if kind in (2, 3, 4) else ()
    definition, reveal = ballot(
        kind, options=options, numeric=(0, 50, 5) if kind == 5 else (0, 0, 0)
    )
    rng = random.Random(kind)
    make: dict[BallotKind, Callable[[], Choice]] = {
        BallotKind.YES_NO_ABSTAIN: lambda: YesNoChoice(Answer(rng.randrange(3))),
        BallotKind.SINGLE: lambda: SingleChoice(rng.randrange(3)),
        BallotKind.APPROVAL: lambda: ApprovalChoice(frozenset(rng.sample(range(3), 2))),
        BallotKind.RANKED: lambda: RankedChoice(tuple(rng.sample(range(3), 3))),
        BallotKind.NUMERIC: lambda: NumericChoice(rng.randrange(51)),
    }
    choices = [make[kind]() for _ in range(6)]
    items = [cast_vote(definition, KEYS[i], i, c, os.urandom) for i, c in enumerate(choices)]
    mine = json.dumps(
        tally(definition, [verify_vote(definition, i) for i in items], reveal).to_json(),
        sort_keys=True,
    )
    shuffled = list(items)
    rng.shuffle(shuffled)
    assert mine == json.dumps(
        tally(definition, [verify_vote(definition, i) for i in shuffled], reveal).to_json(),
        sort_keys=True,
    )
    payload = json.dumps(
        {
            "definition": definition.encode().hex(),
            "release": reveal.encode_release(definition.ballot_id).hex(),
            "items": [i.hex() for i in items],
        }
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    theirs = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_TALLY, str(ROOT)],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    assert theirs == mine


def test_single_voter_ring() -> None:
    keys = [BallotKeyPair.generate(os.urandom)]
    definition, reveal = make_ballot(BallotKind.SINGLE, keys, os.urandom, options=("a", "b"))
    vote = verify_vote(definition, cast_vote(definition, keys[0], 0, SingleChoice(1), os.urandom))
    assert tally(definition, [vote], reveal).winners == ("b",)
