"""One tally for everyone: compare this client's votes with the set the reveal names, and
tally exactly that set once every named vote is here (docs/ballots.md section 13).

Runs inside the sync transaction (from the reveal and from each late vote the reveal
names), so every client decides from the same inputs. A mismatch is stored on the ballot
(``integrity``), recorded as a warning naming the ballot and told to listeners once the
batch commits. Also here: the eligibility rule applied at the close.
"""

from __future__ import annotations

import json

from app.core.ballot_records import StoredBallot, load_ballot, stored_votes
from app.core.database import Database
from app.core.events import Event, IntegrityWarning
from app.core.store import ballot_tally as tally_store
from app.core.store import ballots as store
from app.core.store.ballot_tally import Integrity
from app.core.store.groups import insert_warning
from crypto.ballot import BallotEvent, BallotState, RevealKey, advance, tally
from crypto.ballot.release import compare_counted
from crypto.ballot.tally import select_latest
from crypto.group_log import GroupState

__all__ = ["ballot_name", "counted_hashes", "note_eligibility", "settle"]

DIFFER = "results differ between members"


def ballot_name(ballot: StoredBallot) -> str:
    """How warnings name a ballot: its question and the start of its id."""
    question = ballot.definition.question
    if len(question) > 60:
        question = question[:57] + "..."
    return f"ballot “{question}” ({ballot.ballot_id.hex()[:8]})"


def _warn(
    db: Database, group_id: bytes, kind: str, detail: str, now: int, changed: list[Event]
) -> None:
    insert_warning(db, group_id, kind, detail, now)
    changed.append(IntegrityWarning(group_id, kind, detail))


def counted_hashes(db: Database, ballot: StoredBallot) -> tuple[bytes, ...]:
    """The votes this client counts (latest revision per key image, before the close):
    what the creator's reveal names."""
    votes = stored_votes(db, ballot.group_id, ballot.ballot_id, ballot.close_seq)
    return tuple(sorted(vote.vote_hash for _, vote in select_latest(votes).values()))


def note_eligibility(
    db: Database, ballot: StoredBallot, state: GroupState, now: int, changed: list[Event]
) -> None:
    """At the close (and, for display, after each sync while it is open): if a key of
    the ballot's ring is no longer a current member's registered ballot key (removed,
    left, or replaced it), mark the ballot, once. Votes stay valid (nobody can tell whose
    they are); everyone sees the mark; organizers may re-run."""
    gone = set(ballot.definition.roster) - set(state.ballot_roster())
    row = tally_store.load_tally(db, ballot.group_id, ballot.ballot_id)
    if not gone or row is None or row.eligibility_changed:
        return  # nothing changed, or marked already (while it was open)
    tally_store.mark_eligibility_changed(db, ballot.group_id, ballot.ballot_id)
    _warn(
        db,
        ballot.group_id,
        "ballot-eligibility-changed",
        f"{ballot_name(ballot)}: eligibility changed: {len(gone)} of its"
        f" {len(ballot.definition.roster)} eligible members left, were removed or replaced"
        " their ballot key before it closed; votes cast with their keys still count."
        " Organizers may run it again.",
        now,
        changed,
    )


def settle(db: Database, group_id: bytes, ballot_id: bytes, now: int, changed: list[Event]) -> None:
    """Tally a revealed ballot once every vote its reveal names is here; until then mark
    it ``waiting``. Votes this client counts that the reveal leaves out, or two named
    votes of one voter, mark it ``differs`` (final) and warn."""
    ballot = load_ballot(db, group_id, ballot_id)
    row = tally_store.load_tally(db, group_id, ballot_id)
    if (
        ballot is None
        or row is None
        or row.counted is None
        or ballot.state is not BallotState.REVEALED
        or ballot.reveal_secret is None
        or ballot.close_seq is None
    ):
        return
    name = ballot_name(ballot)
    held = tally_store.held_votes(db, group_id, ballot_id)
    before = stored_votes(db, group_id, ballot_id, ballot.close_seq)
    latest = {
        image: (vote.vote_hash, vote.revision) for image, (_, vote) in select_latest(before).items()
    }
    check = compare_counted(row.counted, held, latest)
    if check.missing:
        if row.integrity is not Integrity.WAITING:
            waiting = (
                f"{DIFFER}: {len(check.missing)} of the {len(row.counted)} votes the"
                " creator's reveal counts have not reached this client; it asks the group"
                " to post them again"
            )
            tally_store.set_integrity(db, group_id, ballot_id, Integrity.WAITING, waiting)
            _warn(db, group_id, "ballot-votes-missing", f"{name}: {waiting}", now, changed)
        return

    named = set(row.counted)
    votes = [v for v in stored_votes(db, group_id, ballot_id) if v.vote_hash in named]
    result = tally(ballot.definition, votes, RevealKey.from_secret(ballot.reveal_secret))
    problems: list[str] = []
    if check.left_out:
        problems.append(
            f"{len(check.left_out)} vote(s) this client received before the close are not"
            " among the votes the creator's reveal counts"
        )
    if check.duplicate_voters:
        problems.append(
            f"the creator's reveal counts two votes of {check.duplicate_voters} voter(s)"
        )
    detail: str | None = f"{DIFFER}: " + "; ".join(problems) if problems else None
    tally_store.set_integrity(
        db, group_id, ballot_id, Integrity.DIFFERS if problems else None, detail
    )
    state = advance(ballot.state, BallotEvent.TALLY)
    store.end_ballot(
        db,
        group_id,
        ballot_id,
        ballot.state,
        state,
        close_seq=ballot.close_seq,
        closed_by=ballot.closed_by,
        # to_json's order is fixed by the definition (options in their order), so every
        # member stores the same bytes; no key sorting, which would lose the option order.
        result=json.dumps(result.to_json(), ensure_ascii=False, separators=(",", ":")),
    )
    if detail is not None:
        _warn(db, group_id, "ballot-results-differ", f"{name}: {detail}", now, changed)
    mine = tally_store.own_vote_hashes(db, group_id, ballot_id)
    if mine and max(mine.items(), key=lambda item: item[1])[0] not in named:
        _warn(
            db,
            group_id,
            "ballot-my-vote-not-counted",
            f"{name}: your vote is not among the votes the creator's reveal counts;"
            " it was not counted",
            now,
            changed,
        )
