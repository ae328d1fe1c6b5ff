"""The full re-check of one ballot (``caucus ballot verify``): every stored vote verified
again from the bytes received, and the stored result recomputed from scratch.

Each vote was verified once, when it arrived (``ballot_receive.on_vote``); only votes
that verified were stored, and the verdict is this client's own (the relay delivers
sealed bytes, never a verdict), so closing and tallying a ballot verifies no ring
signature. This re-check is for an auditor, or for a member who doubts its own store: it
re-runs ``verify_vote`` on every stored vote (over a process pool when the ballot is big,
``ballot_check``), compares the outcome with the stored row, and for a tallied ballot
recomputes the tally over the counted votes and compares it with the stored result.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.ballot_check import Verdict, check_ballot_votes
from app.core.ballot_records import StoredBallot
from app.core.database import Database
from app.core.store import ballot_tally as tally_store
from app.core.store.ballot_audit import StoredVote, load_stored_votes
from app.core.store.ballots import VoteRow
from crypto.ballot import BallotDefinition, BallotState, RevealKey, VerifiedVote, tally

__all__ = ["BallotAudit", "audit_ballot", "audit_votes", "reference_result"]


@dataclass(frozen=True)
class BallotAudit:
    """What a full re-check found. ``result_matches`` is ``None`` before the tally."""

    ballot_id: bytes
    checked: int
    failed: tuple[str, ...]
    unchecked: int
    result_matches: bool | None

    @property
    def ok(self) -> bool:
        return not self.failed and self.result_matches is not False


def _agrees(row: VoteRow, vote: VerifiedVote) -> bool:
    return (
        vote.vote_hash == row.vote_hash
        and vote.key_image == row.key_image
        and vote.revision == row.revision
        and vote.encrypted_choice == row.encrypted_choice
    )


def audit_votes(
    stored: Sequence[StoredVote], verdicts: Sequence[Verdict]
) -> tuple[list[str], list[VerifiedVote]]:
    """Compare each stored row with the verdict on its bytes (``verdicts`` in the order
    of the stored votes that kept their bytes). Returns the one-line failures and the
    votes that verified again, in relay order."""
    failures: list[str] = []
    verified: list[VerifiedVote] = []
    kept = [vote for vote in stored if vote.raw is not None]
    for vote, verdict in zip(kept, verdicts, strict=True):
        name = vote.row.vote_hash.hex()[:16]
        if verdict.vote is None:
            failures.append(f"vote {name}: {verdict.reason}")
        elif not _agrees(vote.row, verdict.vote):
            failures.append(f"vote {name}: the stored row does not match the vote's bytes")
        else:
            verified.append(verdict.vote)
    return failures, verified


def reference_result(
    definition: BallotDefinition,
    votes: Sequence[VerifiedVote],
    counted: Sequence[bytes],
    reveal_secret: bytes,
) -> str:
    """The result JSON a tally over the counted ``votes`` gives, as ``settle`` stores it."""
    named = set(counted)
    result = tally(
        definition, [v for v in votes if v.vote_hash in named], RevealKey.from_secret(reveal_secret)
    )
    return json.dumps(result.to_json(), ensure_ascii=False, separators=(",", ":"))


async def audit_ballot(db: Database, ballot: StoredBallot) -> BallotAudit:
    """Re-check every stored vote of ``ballot`` (off the event loop, over the pool when
    the ballot is big) and, once it is tallied, its stored result."""
    stored = load_stored_votes(db, ballot.group_id, ballot.ballot_id)
    items = [vote.raw for vote in stored if vote.raw is not None]
    verdicts = await asyncio.to_thread(check_ballot_votes, ballot.definition, items)
    failures, verified = audit_votes(stored, verdicts)
    matches: bool | None = None
    row = tally_store.load_tally(db, ballot.group_id, ballot.ballot_id)
    if (
        ballot.state is BallotState.TALLIED
        and ballot.result is not None
        and ballot.reveal_secret is not None
        and row is not None
        and row.counted is not None
    ):
        recomputed = reference_result(
            ballot.definition, verified, row.counted, ballot.reveal_secret
        )
        matches = recomputed == ballot.result
    return BallotAudit(
        ballot_id=ballot.ballot_id,
        checked=len(items),
        failed=tuple(failures),
        unchecked=len(stored) - len(items),
        result_matches=matches,
    )
