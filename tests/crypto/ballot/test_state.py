"""The ballot life cycle table, and docs/ballots.md showing exactly that table."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto.ballot import BallotEvent, BallotState, WrongBallotState, advance
from crypto.ballot.state import TRANSITIONS, transition_table_markdown
from crypto.errors import Expired

DOC = Path(__file__).resolve().parents[3] / "docs" / "ballots.md"


def test_happy_path() -> None:
    state = BallotState.DRAFT
    for event in ("publish", "vote", "vote", "close", "reveal", "tally", "tally"):
        state = advance(state, BallotEvent(event))
    assert state is BallotState.TALLIED


def test_reveal_closes_an_open_ballot() -> None:
    assert advance(BallotState.OPEN, BallotEvent.REVEAL) is BallotState.REVEALED


@pytest.mark.parametrize("state", [BallotState.CLOSED, BallotState.TALLIED])
def test_votes_after_the_close_expire(state: BallotState) -> None:
    with pytest.raises(Expired):
        advance(state, BallotEvent.VOTE)


def test_a_named_vote_may_still_arrive_after_the_reveal() -> None:
    # Version 2: the engine lets in only votes the reveal names (docs/ballots.md 13).
    assert advance(BallotState.REVEALED, BallotEvent.VOTE) is BallotState.REVEALED


def test_everything_else_is_refused() -> None:
    allowed = set(TRANSITIONS)
    for state in BallotState:
        for event in BallotEvent:
            if (state, event) in allowed:
                continue
            with pytest.raises((WrongBallotState, Expired)):
                advance(state, event)
    with pytest.raises(WrongBallotState):
        advance(BallotState.CANCELLED, BallotEvent.TALLY)


def test_docs_show_the_table() -> None:
    assert transition_table_markdown() in DOC.read_text(encoding="utf-8")
