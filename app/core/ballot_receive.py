"""Incoming ballot messages (content types 16-19) and anonymous votes (item type 4).

Every handler runs inside the sync transaction, in relay order, with the roster of the
epoch the item arrived in (``app.core.content_handlers``). Every member's client applies
the same rules to the same sequence, so all of them store the same ballots, the same
verified votes, the same closing point and the same result (docs/ballots.md section 10):

- a definition (16) is accepted if its creator is its sender, it names this group, its
  id is new here and its roster is exactly the registered ballot keys of the epoch;
- the first close marker (17) whose signed ``sent_at >= closes_at``, or any close marker
  from the creator, closes the ballot at its relay position; later votes are refused;
- the creator's reveal (18) must match the definition's key; sent after the deadline it
  closes the ballot too. It triggers the tally over the votes before the close;
- a cancellation (19) by the creator ends the ballot with no result;
- a vote item (4) is opened with the epoch's vote key, verified once (ring signature
  against the frozen roster) and stored by its hash; a replay of it is a duplicate.

Rule violations raise ``BallotRejected`` (a ``RemoteError``): the engine drops the item
and records a warning, never stopping the sync. Registered when imported.
"""

from __future__ import annotations

from app.core.ballot_records import StoredBallot, all_ballots, load_ballot, stored_votes
from app.core.ballot_settle import ballot_name, note_eligibility, settle
from app.core.content_handlers import (
    PAYLOAD_HANDLERS,
    AnonymousItem,
    Received,
    register,
    register_item,
)
from app.core.database import Database
from app.core.device_ballots import note_vote
from app.core.events import BallotChanged
from app.core.store import ballot_tally as tally_store
from app.core.store import ballots as store
from app.core.store.ballot_tally import Repost
from app.core.store.ballots import BallotRow, ClosedBy, VoteRow
from crypto import kdf
from crypto.ballot import (
    BallotDefinition,
    BallotEvent,
    BallotState,
    WrongBallotState,
    advance,
    verify_vote,
)
from crypto.ballot.release import (
    CONTENT_TYPE_MISSING_VOTES,
    MissingVotes,
    RevealRelease,
    release_ballot_id,
)
from crypto.ballot.transport import (
    CONTENT_TYPE_CANCEL,
    CONTENT_TYPE_CLOSE,
    CONTENT_TYPE_DEFINITION,
    CONTENT_TYPE_REVEAL,
    BallotNotice,
    open_vote_item,
    peek_ballot_id,
)
from crypto.errors import Expired, RemoteError, Replay
from crypto.group_log import Role
from crypto.items import ItemType

__all__ = [
    "REPOST_ANSWERS",
    "BallotRejected",
    "StoredBallot",
    "all_ballots",
    "cancel_text",
    "close_text",
    "definition_text",
    "load_ballot",
    "missing_text",
    "reveal_text",
    "stored_votes",
]


REPOST_ANSWERS = 3
"""This client posts one vote again at most this many times, whoever keeps asking."""


class BallotRejected(RemoteError):
    """A ballot message or vote breaks a rule every member's client applies."""


# -- what the message list shows ----------------------------------------------------------


def definition_text(definition: BallotDefinition) -> str:
    return f"Ballot: {definition.question}"


def close_text(definition: BallotDefinition) -> str:
    return f"Ballot closed: {definition.question}"


def reveal_text(definition: BallotDefinition) -> str:
    return f"Ballot results released: {definition.question}"


def cancel_text(definition: BallotDefinition) -> str:
    return f"Ballot cancelled: {definition.question}"


def missing_text(definition: BallotDefinition, count: int) -> str:
    return f"Asked the group for {count} counted vote(s) of the ballot: {definition.question}"


# -- handlers ---------------------------------------------------------------------------


def _require(db: Database, group_id: bytes, ballot_id: bytes) -> StoredBallot:
    ballot = load_ballot(db, group_id, ballot_id)
    if ballot is None:
        raise BallotRejected("the message names a ballot this group does not have")
    return ballot


def _from_creator(received: Received, ballot: StoredBallot, what: str) -> None:
    if received.sender.identity_pk != ballot.creator_pk:
        raise BallotRejected(f"only the ballot's creator can {what}")


def on_definition(received: Received) -> str:
    # The roster is compared before its keys are validated (no curve work for a junk one).
    definition = BallotDefinition.decode(
        received.message.body, eligible=received.state.ballot_roster()
    )
    if definition.group_id != received.group_id:
        raise BallotRejected("the ballot names another group")
    if definition.creator_pk != received.sender.identity_pk:
        raise BallotRejected("the ballot is signed by someone other than its sender")
    if load_ballot(received.db, received.group_id, definition.ballot_id) is not None:
        raise BallotRejected("a ballot with this id exists already")
    state = advance(BallotState.DRAFT, BallotEvent.PUBLISH)
    store.insert_ballot(
        received.db,
        BallotRow(
            group_id=received.group_id,
            ballot_id=definition.ballot_id,
            definition=received.message.body,
            creator_pk=definition.creator_pk,
            creator_name=received.sender.name,
            state=state,
            defined_seq=received.relay_seq,
            received_at=received.now,
        ),
    )
    received.changed.append(BallotChanged(received.group_id, definition.ballot_id))
    return definition_text(definition)


def on_close(received: Received) -> str:
    notice = BallotNotice.decode(received.message.body)
    ballot = _require(received.db, received.group_id, notice.ballot_id)
    definition = ballot.definition
    if ballot.state is not BallotState.OPEN:
        return close_text(definition)  # closed already (several members may post one)
    # Version 2: a close marker's sent_at is the sender's own claim, so it cannot tell
    # "after the deadline" from a lying clock; only the creator and organizers (as of the
    # epoch the marker arrived in) close a ballot, at any time (docs/ballots.md 13.3).
    sender = received.sender
    if sender.identity_pk != ballot.creator_pk and sender.role != Role.ORGANIZER:
        raise BallotRejected("only the ballot's creator or an organizer can close it")
    early = received.message.sent_at < definition.closes_at
    state = advance(ballot.state, BallotEvent.CLOSE)
    store.end_ballot(
        received.db,
        ballot.group_id,
        ballot.ballot_id,
        ballot.state,
        state,
        close_seq=received.relay_seq,
        closed_by=ClosedBy.EARLY if early else ClosedBy.DEADLINE,
    )
    note_eligibility(received.db, ballot, received.state, received.now, received.changed)
    received.changed.append(BallotChanged(received.group_id, ballot.ballot_id))
    return close_text(definition)


def on_reveal(received: Received) -> str:
    body = received.message.body
    ballot = _require(received.db, received.group_id, release_ballot_id(body))
    _from_creator(received, ballot, "release its key")
    definition = ballot.definition
    release = RevealRelease.decode(body, ballot.ballot_id, definition.reveal_pk)
    if ballot.state in (BallotState.REVEALED, BallotState.TALLIED, BallotState.CANCELLED):
        return reveal_text(definition)  # a repeated release changes nothing
    close_seq, closed_by = ballot.close_seq, ballot.closed_by
    if ballot.state is BallotState.OPEN:
        # The creator may close at any time; its reveal then closes the ballot too.
        close_seq, closed_by = received.relay_seq, ClosedBy.REVEAL
        note_eligibility(received.db, ballot, received.state, received.now, received.changed)
    if close_seq is None:
        raise BallotRejected("a closed ballot without its closing position")
    state = advance(ballot.state, BallotEvent.REVEAL)
    store.end_ballot(
        received.db,
        ballot.group_id,
        ballot.ballot_id,
        ballot.state,
        state,
        close_seq=close_seq,
        closed_by=closed_by,
        reveal_secret=release.key.secret,
    )
    tally_store.set_counted(received.db, ballot.group_id, ballot.ballot_id, release.counted)
    settle(received.db, ballot.group_id, ballot.ballot_id, received.now, received.changed)
    received.changed.append(BallotChanged(received.group_id, ballot.ballot_id))
    return reveal_text(definition)


def on_missing(received: Received) -> str:
    """A member lacks votes the reveal names. The creator's client (which named them) and
    each voter's client (for its own vote) queue them to be posted again; nobody else,
    so a request costs the group at most two posts per vote, and each of them posts a
    vote again at most ``REPOST_ANSWERS`` times in all."""
    request = MissingVotes.decode(received.message.body)
    db = received.db
    ballot = _require(db, received.group_id, request.ballot_id)
    row = tally_store.load_tally(db, ballot.group_id, ballot.ballot_id)
    named = set(() if row is None or row.counted is None else row.counted)
    creator_here = store.load_reveal_key(db, ballot.group_id, ballot.ballot_id) is not None
    own = tally_store.own_vote_hashes(db, ballot.group_id, ballot.ballot_id)
    for vote_hash in request.hashes:
        if vote_hash not in named or not (creator_here or vote_hash in own):
            continue
        if tally_store.raw_vote(db, ballot.group_id, ballot.ballot_id, vote_hash) is not None:
            tally_store.ask_repost(
                db,
                Repost(ballot.group_id, ballot.ballot_id, vote_hash),
                received.now,
                REPOST_ANSWERS,
            )
    return missing_text(ballot.definition, len(request.hashes))


def on_cancel(received: Received) -> str:
    notice = BallotNotice.decode(received.message.body)
    ballot = _require(received.db, received.group_id, notice.ballot_id)
    _from_creator(received, ballot, "cancel it")
    if ballot.state is BallotState.CANCELLED:
        return cancel_text(ballot.definition)
    try:
        state = advance(ballot.state, BallotEvent.CANCEL)
    except WrongBallotState:
        raise BallotRejected("a ballot cannot be cancelled once its result is out") from None
    store.end_ballot(
        received.db,
        ballot.group_id,
        ballot.ballot_id,
        ballot.state,
        state,
        close_seq=received.relay_seq if ballot.close_seq is None else ballot.close_seq,
        closed_by=ClosedBy.CANCEL if ballot.closed_by is None else ballot.closed_by,
    )
    received.changed.append(BallotChanged(received.group_id, ballot.ballot_id))
    return cancel_text(ballot.definition)


def on_vote(item: AnonymousItem) -> str | None:
    vote = open_vote_item(item.keys, item.item)
    other = PAYLOAD_HANDLERS.get(vote[0]) if vote else None
    if other is not None:  # an anonymous report travels as a vote does (union tools)
        return other(item, vote)
    ballot = _require(item.db, item.group_id, peek_ballot_id(vote))
    vote_hash = kdf.digest("ballot-vote-hash", vote)
    if store.has_vote(item.db, item.group_id, ballot.ballot_id, vote_hash):
        raise Replay("this vote was received before")
    if ballot.state is BallotState.REVEALED:
        # Version 2: after the reveal only the votes it names come in (re-posted for a
        # member that missed them), never a new one.
        row = tally_store.load_tally(item.db, item.group_id, ballot.ballot_id)
        if row is None or row.counted is None or vote_hash not in row.counted:
            raise Expired(f"a vote for {ballot_name(ballot)} arrived after its close")
    try:
        advance(ballot.state, BallotEvent.VOTE)  # Expired once the ballot has closed
    except WrongBallotState:
        raise BallotRejected("the ballot was cancelled") from None
    verified = verify_vote(ballot.definition, vote)
    store.insert_vote(
        item.db,
        VoteRow(
            group_id=item.group_id,
            ballot_id=verified.ballot_id,
            vote_hash=verified.vote_hash,
            key_image=verified.key_image,
            revision=verified.revision,
            encrypted_choice=verified.encrypted_choice,
            relay_seq=item.relay_seq,
        ),
    )
    tally_store.set_vote_bytes(item.db, item.group_id, verified.ballot_id, verified.vote_hash, vote)
    note_vote(  # cast on another of our devices? (docs/protocol.md 8.5)
        item.db,
        item.group_id,
        verified.ballot_id,
        ballot.definition,
        verified.key_image,
        verified.vote_hash,
        verified.revision,
    )
    if ballot.state is BallotState.REVEALED:
        settle(item.db, item.group_id, ballot.ballot_id, item.now, item.changed)
    item.changed.append(BallotChanged(item.group_id, verified.ballot_id))
    return None


register(CONTENT_TYPE_DEFINITION, on_definition)
register(CONTENT_TYPE_CLOSE, on_close)
register(CONTENT_TYPE_REVEAL, on_reveal)
register(CONTENT_TYPE_CANCEL, on_cancel)
register(CONTENT_TYPE_MISSING_VOTES, on_missing)
register_item(int(ItemType.VOTE), on_vote)
