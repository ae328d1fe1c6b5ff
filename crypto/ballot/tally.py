"""The tally: a pure, deterministic function every member runs on the same data.

Input: the definition, the verified votes in relay order (only those before the close
marker; the engine decides that), and the released reveal key.  Per key image the vote
with the highest revision counts (a later one in relay order wins a tie).  A choice that
does not decrypt or decode is counted as invalid, never an error.  Exact arithmetic only
(integers and ``Fraction``), so every member gets identical bytes from ``to_json``.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

import nacl.public

from crypto.ballot.choice import (
    ApprovalChoice,
    Choice,
    NumericChoice,
    RankedChoice,
    SingleChoice,
    YesNoChoice,
    open_choice,
)
from crypto.ballot.definition import BallotDefinition, BallotKind
from crypto.ballot.errors import InvalidChoice, RevealKeyMismatch
from crypto.ballot.reveal import RevealKey
from crypto.ballot.vote import VerifiedVote
from crypto.errors import UsageError

__all__ = [
    "CountedBallot",
    "HistogramBin",
    "IrvRound",
    "NumericSummary",
    "Result",
    "Status",
    "instant_runoff",
    "numeric_summary",
    "select_latest",
    "tally",
]

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class Status(StrEnum):
    TALLIED = "tallied"
    QUORUM_NOT_MET = "quorum_not_met"


@dataclass(frozen=True)
class CountedBallot:
    """One key image's counted vote; ``choice`` is ``None`` when it was invalid.

    Published in the result so each voter can find their own key image and check that
    their choice was counted as cast.
    """

    key_image: bytes
    revision: int
    choice: Choice | None


@dataclass(frozen=True)
class IrvRound:
    """One instant-runoff round: continuing options' counts, then who was eliminated."""

    counts: tuple[tuple[str, int], ...]
    exhausted: int
    eliminated: str | None


@dataclass(frozen=True)
class HistogramBin:
    low: int
    high: int
    count: int


@dataclass(frozen=True)
class NumericSummary:
    """Statistics of the valid numeric answers; ``None`` fields when there are none.

    Quartiles use linear interpolation between order statistics (Hyndman and Fan type 7,
    the default of R and numpy): ``h = (n-1)p``, ``q = x[floor h] + (h - floor h) *
    (x[floor h + 1] - x[floor h])``; the median is ``p = 1/2``.  Values are multiples of
    1/4 below 2^50, so the floats are exact.
    """

    count: int
    minimum: int | None
    maximum: int | None
    mean: float | None
    q1: float | None
    median: float | None
    q3: float | None
    histogram: tuple[HistogramBin, ...]


@dataclass(frozen=True)
class Result:
    """A ballot's outcome; ``to_json`` is what the client shows and members compare."""

    ballot_id: bytes
    kind: BallotKind
    status: Status
    eligible: int
    turnout: int
    valid: int
    invalid: int
    quorum: int
    quorum_met: bool
    counts: tuple[tuple[str, int], ...]
    winners: tuple[str, ...]
    rounds: tuple[IrvRound, ...]
    numeric: NumericSummary | None
    ballots: tuple[CountedBallot, ...]

    def to_json(self) -> dict[str, JsonValue]:
        labels = _labels_for(self.kind, self.counts)
        result: dict[str, JsonValue] = {
            "ballot_id": self.ballot_id.hex(),
            "kind": self.kind.name.lower(),
            "status": str(self.status),
            "eligible": self.eligible,
            "turnout": self.turnout,
            "valid": self.valid,
            "invalid": self.invalid,
            "quorum": {"required": self.quorum, "met": self.quorum_met},
            "counts": {label: count for label, count in self.counts},
            "winners": list(self.winners),
        }
        if self.kind is BallotKind.RANKED:
            result["rounds"] = [
                {
                    "counts": {label: count for label, count in r.counts},
                    "exhausted": r.exhausted,
                    "eliminated": r.eliminated,
                }
                for r in self.rounds
            ]
        if self.numeric is not None:
            summary = self.numeric
            result["numeric"] = {
                "count": summary.count,
                "min": summary.minimum,
                "max": summary.maximum,
                "mean": summary.mean,
                "q1": summary.q1,
                "median": summary.median,
                "q3": summary.q3,
                "histogram": [
                    {"low": b.low, "high": b.high, "count": b.count} for b in summary.histogram
                ],
            }
        result["ballots"] = [
            {
                "key_image": b.key_image.hex(),
                "revision": b.revision,
                "choice": _choice_json(b.choice, labels),
            }
            for b in self.ballots
        ]
        return result


def _labels_for(kind: BallotKind, counts: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    return () if kind is BallotKind.NUMERIC else tuple(label for label, _ in counts)


def _choice_json(choice: Choice | None, labels: tuple[str, ...]) -> JsonValue:
    if choice is None:
        return None
    if isinstance(choice, YesNoChoice):
        return labels[choice.answer]
    if isinstance(choice, SingleChoice):
        return labels[choice.option]
    if isinstance(choice, ApprovalChoice):
        return [labels[i] for i in sorted(choice.options)]
    if isinstance(choice, RankedChoice):
        return [labels[i] for i in choice.ranking]
    return choice.value


def select_latest(votes: Sequence[VerifiedVote]) -> dict[bytes, tuple[int, VerifiedVote]]:
    """Per key image, the vote with the highest revision; later in relay order wins ties.

    Returns ``{key_image: (relay_position, vote)}``.
    """
    latest: dict[bytes, tuple[int, VerifiedVote]] = {}
    for position, vote in enumerate(votes):
        current = latest.get(vote.key_image)
        if current is None or vote.revision >= current[1].revision:
            latest[vote.key_image] = (position, vote)
    return latest


def instant_runoff(
    option_count: int, rankings: Sequence[tuple[int, ...]]
) -> tuple[list[tuple[dict[int, int], int, int | None]], int | None]:
    """Instant-runoff over option indexes; ``([(counts, exhausted, eliminated)], winner)``.

    Each round counts every ranking for its highest-ranked continuing option.  An option
    with more than half of the non-exhausted rankings wins; otherwise the option with the
    fewest is eliminated.  Ties for fewest are broken backwards (the tied option with
    fewer votes in the latest earlier round where they differ goes), then by eliminating
    the option listed last.  With no non-exhausted ranking left there is no winner.
    """
    continuing = list(range(option_count))
    history: list[dict[int, int]] = []
    rounds: list[tuple[dict[int, int], int, int | None]] = []
    while True:
        still_in = set(continuing)
        counts = dict.fromkeys(continuing, 0)
        exhausted = 0
        for ranking in rankings:
            for option in ranking:
                if option in still_in:
                    counts[option] += 1
                    break
            else:
                exhausted += 1
        active = len(rankings) - exhausted
        history.append(counts)
        winner = next((o for o in continuing if 2 * counts[o] > active), None)
        if winner is not None or active == 0:
            rounds.append((counts, exhausted, None))
            return rounds, winner
        fewest = min(counts.values())
        tied = [o for o in continuing if counts[o] == fewest]
        for past in reversed(history[:-1]):
            if len(tied) == 1:
                break
            least = min(past[o] for o in tied)
            tied = [o for o in tied if past[o] == least]
        eliminated = max(tied)
        rounds.append((counts, exhausted, eliminated))
        continuing.remove(eliminated)


def _quantile(values: Sequence[int], p: Fraction) -> Fraction:
    h = (len(values) - 1) * p
    low = int(h)  # floor: h >= 0
    if low + 1 >= len(values):
        return Fraction(values[low])
    return values[low] + (h - low) * (values[low + 1] - values[low])


def numeric_summary(values: Sequence[int], low: int, high: int, bins: int) -> NumericSummary:
    """Count, min, max, mean, quartiles and an equal-width histogram over ``[low, high]``.

    The range's ``W = high - low + 1`` integers are cut at ``e_i = low + (i * W) // k`` for
    ``k = min(bins, W)``; bin ``i`` holds ``e_i <= v < e_(i+1)``.
    """
    ordered = sorted(values)
    width = high - low + 1
    k = min(bins, width)
    edges = [low + (i * width) // k for i in range(k + 1)]
    tallies = [0] * k
    for value in ordered:
        tallies[bisect.bisect_right(edges, value) - 1] += 1
    histogram = tuple(HistogramBin(edges[i], edges[i + 1] - 1, tallies[i]) for i in range(k))
    if not ordered:
        return NumericSummary(0, None, None, None, None, None, None, histogram)
    return NumericSummary(
        count=len(ordered),
        minimum=ordered[0],
        maximum=ordered[-1],
        mean=float(Fraction(sum(ordered), len(ordered))),
        q1=float(_quantile(ordered, Fraction(1, 4))),
        median=float(_quantile(ordered, Fraction(1, 2))),
        q3=float(_quantile(ordered, Fraction(3, 4))),
        histogram=histogram,
    )


def _top(counts: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    best = max((count for _, count in counts), default=0)
    if best == 0:
        return ()
    return tuple(label for label, count in counts if count == best)


def tally(
    definition: BallotDefinition, votes: Sequence[VerifiedVote], reveal_key: RevealKey
) -> Result:
    """Count ``votes`` (verified, relay order, before the close) with the released key.

    ``RevealKeyMismatch`` if the key is not the ballot's; ``UsageError`` if a vote belongs
    to another ballot (the engine mixed them up).
    """
    if reveal_key.public != definition.reveal_pk:
        raise RevealKeyMismatch("reveal key does not match the ballot")
    for vote in votes:
        if vote.ballot_id != definition.ballot_id:
            raise UsageError("a vote of another ballot was passed to the tally")
    secret = nacl.public.PrivateKey(reveal_key.secret)
    latest = select_latest(votes)
    counted: list[CountedBallot] = []
    for image in sorted(latest):
        vote = latest[image][1]
        choice: Choice | None
        try:
            choice = open_choice(definition, secret, vote.encrypted_choice)
        except InvalidChoice:
            choice = None
        counted.append(CountedBallot(image, vote.revision, choice))

    valid = [b.choice for b in counted if b.choice is not None]
    labels = definition.option_labels
    turnout = len(counted)
    quorum_met = turnout >= definition.quorum
    rounds: tuple[IrvRound, ...] = ()
    numeric: NumericSummary | None = None
    winners: tuple[str, ...]
    kind = definition.kind

    if kind is BallotKind.NUMERIC:
        values = [c.value for c in valid if isinstance(c, NumericChoice)]
        numeric = numeric_summary(
            values, definition.numeric_min, definition.numeric_max, definition.histogram_bins
        )
        frequency = Counter(values)
        counts = tuple((str(v), frequency[v]) for v in sorted(frequency))
        winners = ()
    elif kind is BallotKind.RANKED:
        rankings = [c.ranking for c in valid if isinstance(c, RankedChoice)]
        irv_rounds, winner = instant_runoff(len(labels), rankings)
        rounds = tuple(
            IrvRound(
                tuple((labels[o], n) for o, n in round_counts.items()),
                exhausted,
                None if eliminated is None else labels[eliminated],
            )
            for round_counts, exhausted, eliminated in irv_rounds
        )
        counts = rounds[0].counts
        winners = () if winner is None else (labels[winner],)
    else:
        tallies = [0] * len(labels)
        for c in valid:
            if isinstance(c, YesNoChoice):
                tallies[c.answer] += 1
            elif isinstance(c, SingleChoice):
                tallies[c.option] += 1
            elif isinstance(c, ApprovalChoice):
                for option in c.options:
                    tallies[option] += 1
        counts = tuple(zip(labels, tallies, strict=True))
        # Abstaining never wins a yes/no/abstain ballot.
        contenders = counts[:2] if kind is BallotKind.YES_NO_ABSTAIN else counts
        winners = _top(contenders)

    return Result(
        ballot_id=definition.ballot_id,
        kind=kind,
        status=Status.TALLIED if quorum_met else Status.QUORUM_NOT_MET,
        eligible=definition.eligible,
        turnout=turnout,
        valid=len(valid),
        invalid=turnout - len(valid),
        quorum=definition.quorum,
        quorum_met=quorum_met,
        counts=counts,
        winners=winners if quorum_met else (),
        rounds=rounds,
        numeric=numeric,
        ballots=tuple(counted),
    )
