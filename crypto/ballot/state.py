"""The ballot life cycle as a transition table (the engine keeps one state per ballot).

``docs/ballots.md`` shows ``transition_table_markdown()``; a test keeps the two equal.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from crypto.ballot.errors import WrongBallotState
from crypto.errors import Expired

__all__ = ["TRANSITIONS", "BallotEvent", "BallotState", "advance", "transition_table_markdown"]


class BallotState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    REVEALED = "revealed"
    TALLIED = "tallied"
    CANCELLED = "cancelled"


class BallotEvent(StrEnum):
    PUBLISH = "publish"
    VOTE = "vote"
    CLOSE = "close"
    REVEAL = "reveal"
    TALLY = "tally"
    CANCEL = "cancel"


S, E = BallotState, BallotEvent

# (state, event) -> (next state, when it happens)
TRANSITIONS: Final[dict[tuple[BallotState, BallotEvent], tuple[BallotState, str]]] = {
    (S.DRAFT, E.PUBLISH): (S.OPEN, "the signed definition is posted in the group"),
    (S.DRAFT, E.CANCEL): (S.CANCELLED, "the creator discards the draft"),
    (S.OPEN, E.VOTE): (S.OPEN, "a verified vote arrives; kept for the tally"),
    (S.OPEN, E.CLOSE): (
        S.CLOSED,
        "first close marker (any member, signed sent_at >= closes_at); later votes are ignored",
    ),
    (S.OPEN, E.REVEAL): (
        S.REVEALED,
        "the creator's reveal (sent_at >= closes_at) also closes the ballot",
    ),
    (S.OPEN, E.CANCEL): (S.CANCELLED, "the creator withdraws the ballot; nothing is tallied"),
    (S.CLOSED, E.REVEAL): (S.REVEALED, "the creator releases the reveal key and it matches"),
    (S.CLOSED, E.CANCEL): (S.CANCELLED, "the creator withdraws the ballot; nothing is tallied"),
    (S.REVEALED, E.TALLY): (S.TALLIED, "the member's client computes the result"),
    (S.TALLIED, E.TALLY): (S.TALLIED, "recomputing gives the identical result"),
}

_LATE_VOTE_STATES = frozenset({S.CLOSED, S.REVEALED, S.TALLIED})


def advance(state: BallotState, event: BallotEvent) -> BallotState:
    """The next state; ``Expired`` for a vote after the close (drop it), ``WrongBallotState``
    for any other event the table does not allow."""
    try:
        return TRANSITIONS[(state, event)][0]
    except KeyError:
        if event is E.VOTE and state in _LATE_VOTE_STATES:
            raise Expired("vote arrived after the ballot closed") from None
        raise WrongBallotState(f"event {event} is not allowed in state {state}") from None


def transition_table_markdown() -> str:
    """The table as Markdown, for docs/ballots.md."""
    lines = ["| state | event | next | when |", "|---|---|---|---|"]
    for (state, event), (target, when) in TRANSITIONS.items():
        lines.append(f"| {state} | {event} | {target} | {when} |")
    return "\n".join(lines) + "\n"
