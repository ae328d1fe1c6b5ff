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
        "first close marker from the creator or an organizer (roster of that epoch);"
        " later votes are ignored unless the reveal names them",
    ),
    (S.OPEN, E.REVEAL): (
        S.REVEALED,
        "the creator's reveal also closes the ballot (the creator may close at any time)",
    ),
    (S.OPEN, E.CANCEL): (S.CANCELLED, "the creator withdraws the ballot; nothing is tallied"),
    (S.CLOSED, E.REVEAL): (
        S.REVEALED,
        "the creator releases the reveal key (it matches) and names the counted votes",
    ),
    (S.CLOSED, E.CANCEL): (S.CANCELLED, "the creator withdraws the ballot; nothing is tallied"),
    (S.REVEALED, E.VOTE): (
        S.REVEALED,
        "a vote the reveal names arrives late (re-posted on request); kept for the tally",
    ),
    (S.REVEALED, E.TALLY): (
        S.TALLIED,
        "every named vote is here: the client tallies exactly the named set",
    ),
    (S.TALLIED, E.TALLY): (S.TALLIED, "recomputing gives the identical result"),
}

_LATE_VOTE_STATES = frozenset({S.CLOSED, S.TALLIED})


def advance(state: BallotState, event: BallotEvent) -> BallotState:
    """The next state; ``Expired`` for a vote after the close (drop it), ``WrongBallotState``
    for any other event the table does not allow.  A vote in ``revealed`` is allowed by
    the table; the engine first checks that the reveal names it (``Expired`` otherwise)."""
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
