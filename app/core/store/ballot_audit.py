"""The SQL of a ballot's full re-check (``app.core.ballot_audit``): stored votes with the
bytes they were verified from."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.database import Database
from app.core.store.ballots import VoteRow

__all__ = ["StoredVote", "load_stored_votes"]


@dataclass(frozen=True)
class StoredVote:
    """A stored vote row and the bytes it was verified from (``None`` if not kept)."""

    row: VoteRow
    raw: bytes | None


def load_stored_votes(db: Database, group_id: bytes, ballot_id: bytes) -> list[StoredVote]:
    """A ballot's stored votes with their bytes, in relay order."""
    rows = db.all(
        "SELECT vote_hash, key_image, revision, encrypted_choice, relay_seq, vote"
        " FROM ballot_votes WHERE group_id = ? AND ballot_id = ? ORDER BY relay_seq",
        (group_id, ballot_id),
    )
    return [
        StoredVote(
            VoteRow(
                group_id=group_id,
                ballot_id=ballot_id,
                vote_hash=bytes(vote_hash),
                key_image=bytes(key_image),
                revision=int(revision),
                encrypted_choice=bytes(encrypted_choice),
                relay_seq=int(relay_seq),
            ),
            None if vote is None else bytes(vote),
        )
        for vote_hash, key_image, revision, encrypted_choice, relay_seq, vote in rows
    ]
