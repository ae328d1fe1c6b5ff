"""Anonymous ballots every member can verify: ring signatures over the roster's ballot keys,
choices sealed to a per-ballot reveal key, and a deterministic tally (docs/ballots.md).

The client engine needs only the names below; the submodules hold the details.
"""

from __future__ import annotations

from crypto.ballot.choice import (
    Answer,
    ApprovalChoice,
    Choice,
    NumericChoice,
    RankedChoice,
    SingleChoice,
    YesNoChoice,
)
from crypto.ballot.definition import BallotDefinition, BallotKind
from crypto.ballot.errors import InvalidChoice, RevealKeyMismatch, WrongBallotState
from crypto.ballot.keys import BallotKeyPair, BallotKeyRecord, make_pop, verify_pop
from crypto.ballot.reveal import RevealKey
from crypto.ballot.state import BallotEvent, BallotState, advance
from crypto.ballot.tally import Result, Status, tally
from crypto.ballot.vote import VerifiedVote, cast_vote, verify_vote

__all__ = [
    "Answer",
    "ApprovalChoice",
    "BallotDefinition",
    "BallotEvent",
    "BallotKeyPair",
    "BallotKeyRecord",
    "BallotKind",
    "BallotState",
    "Choice",
    "InvalidChoice",
    "NumericChoice",
    "RankedChoice",
    "Result",
    "RevealKey",
    "RevealKeyMismatch",
    "SingleChoice",
    "Status",
    "VerifiedVote",
    "WrongBallotState",
    "YesNoChoice",
    "advance",
    "cast_vote",
    "make_pop",
    "tally",
    "verify_pop",
    "verify_vote",
]
