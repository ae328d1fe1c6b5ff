"""Stored ballots as typed records: a ``ballots`` row with its definition decoded, and a
ballot's verified votes. Shared by the receive handlers, the tally check and the views."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from app.core.database import Database
from app.core.store import ballots as store
from app.core.store.ballots import BallotRow, ClosedBy
from crypto.ballot import BallotDefinition, BallotState, VerifiedVote

__all__ = ["StoredBallot", "all_ballots", "load_ballot", "stored_votes"]


@dataclass(frozen=True)
class StoredBallot:
    """One ``ballots`` row with its definition decoded."""

    group_id: bytes
    ballot_id: bytes
    definition: BallotDefinition
    creator_name: str
    state: BallotState
    defined_seq: int
    close_seq: int | None
    closed_by: ClosedBy | None
    reveal_secret: bytes | None
    result: str | None
    close_sent: bool

    @property
    def creator_pk(self) -> bytes:
        return self.definition.creator_pk


@functools.lru_cache(maxsize=64)
def _decode(raw: bytes) -> BallotDefinition:
    """Stored definitions were verified on arrival; decoding again re-checks them, so
    the (frozen) result is cached for the votes that follow."""
    return BallotDefinition.decode(raw)


def _stored(row: BallotRow) -> StoredBallot:
    return StoredBallot(
        group_id=row.group_id,
        ballot_id=row.ballot_id,
        definition=_decode(row.definition),
        creator_name=row.creator_name,
        state=row.state,
        defined_seq=row.defined_seq,
        close_seq=row.close_seq,
        closed_by=row.closed_by,
        reveal_secret=row.reveal_secret,
        result=row.result,
        close_sent=row.close_sent,
    )


def load_ballot(db: Database, group_id: bytes, ballot_id: bytes) -> StoredBallot | None:
    row = store.load_ballot(db, group_id, ballot_id)
    return None if row is None else _stored(row)


def all_ballots(db: Database, group_id: bytes | None = None) -> list[StoredBallot]:
    """Ballots in the order their definitions arrived (of one group, or of all)."""
    return [_stored(row) for row in store.load_ballots(db, group_id)]


def stored_votes(
    db: Database, group_id: bytes, ballot_id: bytes, before: int | None = None
) -> list[VerifiedVote]:
    """The verified votes of a ballot in relay order (only those before ``before``)."""
    return [
        VerifiedVote(ballot_id, row.key_image, row.revision, row.encrypted_choice, row.vote_hash)
        for row in store.load_votes(db, group_id, ballot_id, before)
    ]
