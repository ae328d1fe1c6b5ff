"""A tallied ballot's outcome as typed view values, built in one place from the stored tally.

The tally (``crypto.ballot.tally.Result.to_json``) is stored as JSON beside the ballot,
because that is the form members compare and ``caucus ballot results --json`` prints.
Views never see that JSON: ``BallotResultView.from_tally`` reads it strictly here, and a
stored tally that does not have the expected shape is a ``ClientError``, not a crash in
a widget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.errors import ClientError

__all__ = [
    "BallotResultView",
    "HistogramBar",
    "MyVoteCheck",
    "NumericResult",
    "OptionCount",
    "RunoffRound",
    "choice_text",
]


@dataclass(frozen=True)
class OptionCount:
    label: str
    count: int


@dataclass(frozen=True)
class RunoffRound:
    """One instant-runoff round: the continuing options' counts, ballots that ranked no
    continuing option, and the option eliminated after it (``None`` in the last)."""

    counts: tuple[OptionCount, ...]
    exhausted: int
    eliminated: str | None


@dataclass(frozen=True)
class HistogramBar:
    low: int
    high: int
    count: int


@dataclass(frozen=True)
class NumericResult:
    """Statistics of a numeric survey's valid answers (``None`` when there are none)."""

    count: int
    minimum: float | None
    maximum: float | None
    mean: float | None
    q1: float | None
    median: float | None
    q3: float | None
    histogram: tuple[HistogramBar, ...]


@dataclass(frozen=True)
class MyVoteCheck:
    """Individual verifiability: whether this member's key image is among the counted
    ballots, and the choice counted under it (as text)."""

    counted: bool
    choice: str | None


@dataclass(frozen=True)
class BallotResultView:
    kind: str  # "yes-no", "single", "approval", "ranked", "numeric"
    status: str  # "tallied" or "quorum_not_met"
    eligible: int
    turnout: int
    valid: int
    invalid: int
    quorum_required: int
    quorum_met: bool
    counts: tuple[OptionCount, ...]
    winners: tuple[str, ...]
    rounds: tuple[RunoffRound, ...]
    numeric: NumericResult | None
    mine: MyVoteCheck | None = None

    @classmethod
    def from_tally(
        cls, data: Mapping[str, Any], mine: MyVoteCheck | None = None
    ) -> BallotResultView:
        """The stored tally JSON (already parsed) as a typed value."""
        try:
            quorum = _mapping(data["quorum"])
            numeric = data.get("numeric")
            return cls(
                kind=_kind(str(data["kind"])),
                status=str(data["status"]),
                eligible=_int(data["eligible"]),
                turnout=_int(data["turnout"]),
                valid=_int(data["valid"]),
                invalid=_int(data["invalid"]),
                quorum_required=_int(quorum["required"]),
                quorum_met=bool(quorum["met"]),
                counts=_counts(data["counts"]),
                winners=tuple(str(w) for w in data["winners"]),
                rounds=tuple(
                    RunoffRound(
                        counts=_counts(_mapping(r)["counts"]),
                        exhausted=_int(_mapping(r)["exhausted"]),
                        eliminated=None if r["eliminated"] is None else str(r["eliminated"]),
                    )
                    for r in data.get("rounds", [])
                ),
                numeric=None if numeric is None else _numeric(_mapping(numeric)),
                mine=mine,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ClientError(f"the stored tally is malformed ({type(exc).__name__})") from None


def choice_text(choice: Any) -> str:
    """A counted ballot's choice as the tally JSON has it, as text for a person."""
    if isinstance(choice, list):
        return ", ".join(str(c) for c in choice) or "none"
    return "none" if choice is None else str(choice)


# The tally names yes/no/abstain ballots after the enum ("yes_no_abstain"); views and
# the command line call that kind "yes-no".
_KINDS = {"yes_no_abstain": "yes-no", "single": "single", "approval": "approval",
          "ranked": "ranked", "numeric": "numeric"}  # fmt: skip


def _kind(name: str) -> str:
    if name in _KINDS.values():
        return name
    return _KINDS[name]


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError("expected an object")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    return value


def _float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return float(value)


def _counts(value: Any) -> tuple[OptionCount, ...]:
    return tuple(OptionCount(str(label), _int(count)) for label, count in _mapping(value).items())


def _numeric(data: Mapping[str, Any]) -> NumericResult:
    return NumericResult(
        count=_int(data["count"]),
        minimum=_float(data["min"]),
        maximum=_float(data["max"]),
        mean=_float(data["mean"]),
        q1=_float(data["q1"]),
        median=_float(data["median"]),
        q3=_float(data["q3"]),
        histogram=tuple(
            HistogramBar(_int(b["low"]), _int(b["high"]), _int(b["count"]))
            for b in data["histogram"]
        ),
    )
