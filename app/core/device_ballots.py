"""Ballots across a member's devices (docs/protocol.md 8.5).

Every device of a member holds the member's ballot key, so a vote cast on one device
arrives at the others under their own key image.  A vote under our key image that this
device did not cast is recorded here: the ballot shows "you voted", and this device
refuses a second vote before sending anything.
"""

from __future__ import annotations

from app.core.database import Database
from app.core.store import ballots as ballot_store
from crypto.ballot.definition import BallotDefinition

__all__ = ["note_vote", "voted_elsewhere"]


def note_vote(
    db: Database,
    group_id: bytes,
    ballot_id: bytes,
    definition: BallotDefinition,
    image: bytes,
    vote_hash: bytes,
    revision: int,
) -> None:
    """Called for every verified vote: record it when it is ours but not from here."""
    secret = ballot_store.ballot_key_secret(db, group_id)
    if secret is None or definition.key_image(secret) != image:
        return
    mine = db.one(
        "SELECT 1 FROM ballot_outbox WHERE group_id = ? AND ballot_id = ? AND vote_hash = ?",
        (group_id, ballot_id, vote_hash),
    )
    if mine is not None:
        return
    db.execute(
        "INSERT INTO ballot_voted_elsewhere (group_id, ballot_id, revision) VALUES (?, ?, ?)"
        " ON CONFLICT (group_id, ballot_id)"
        " DO UPDATE SET revision = max(revision, excluded.revision)",
        (group_id, ballot_id, revision),
    )


def voted_elsewhere(db: Database, group_id: bytes, ballot_id: bytes) -> int | None:
    """The revision another of our devices cast on the ballot, if any."""
    row = db.one(
        "SELECT revision FROM ballot_voted_elsewhere WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )
    return None if row is None else int(row[0])
