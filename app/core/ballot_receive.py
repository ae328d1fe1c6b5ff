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

import functools
import json
from dataclasses import dataclass
from typing import Any

from app.core.content_handlers import AnonymousItem, Received, register, register_item
from app.core.database import Database
from crypto import kdf
from crypto.ballot import (
    BallotDefinition,
    BallotEvent,
    BallotState,
    RevealKey,
    VerifiedVote,
    WrongBallotState,
    advance,
    tally,
    verify_vote,
)
from crypto.ballot.transport import (
    CONTENT_TYPE_CANCEL,
    CONTENT_TYPE_CLOSE,
    CONTENT_TYPE_DEFINITION,
    CONTENT_TYPE_REVEAL,
    BallotNotice,
    open_vote_item,
    peek_ballot_id,
    reveal_ballot_id,
)
from crypto.errors import RemoteError, Replay
from crypto.items import ItemType

__all__ = [
    "BallotRejected",
    "StoredBallot",
    "all_ballots",
    "cancel_text",
    "close_text",
    "definition_text",
    "load_ballot",
    "reveal_text",
    "stored_votes",
]


class BallotRejected(RemoteError):
    """A ballot message or vote breaks a rule every member's client applies."""


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
    closed_by: str | None
    reveal_secret: bytes | None
    result: str | None
    close_sent: bool

    @property
    def creator_pk(self) -> bytes:
        return self.definition.creator_pk


_COLUMNS = (
    "group_id, ballot_id, definition, creator_name, state, defined_seq, close_seq,"
    " closed_by, reveal_secret, result, close_sent"
)


@functools.lru_cache(maxsize=64)
def _decode(raw: bytes) -> BallotDefinition:
    """Stored definitions were verified on arrival; decoding again re-checks them, so
    the (frozen) result is cached for the votes that follow."""
    return BallotDefinition.decode(raw)


def _stored(row: Any) -> StoredBallot:
    return StoredBallot(
        group_id=row[0],
        ballot_id=row[1],
        definition=_decode(row[2]),
        creator_name=row[3],
        state=BallotState(row[4]),
        defined_seq=row[5],
        close_seq=row[6],
        closed_by=row[7],
        reveal_secret=row[8],
        result=row[9],
        close_sent=bool(row[10]),
    )


def load_ballot(db: Database, group_id: bytes, ballot_id: bytes) -> StoredBallot | None:
    row = db.one(
        f"SELECT {_COLUMNS} FROM ballots WHERE group_id = ? AND ballot_id = ?",  # noqa: S608
        (group_id, ballot_id),
    )
    return None if row is None else _stored(row)


def all_ballots(db: Database, group_id: bytes | None = None) -> list[StoredBallot]:
    """Ballots in the order their definitions arrived (of one group, or of all)."""
    rows = db.all(
        f"SELECT {_COLUMNS} FROM ballots WHERE (? IS NULL OR group_id = ?)"  # noqa: S608
        " ORDER BY defined_seq, ballot_id",
        (group_id, group_id),
    )
    return [_stored(row) for row in rows]


def stored_votes(
    db: Database, group_id: bytes, ballot_id: bytes, before: int | None = None
) -> list[VerifiedVote]:
    """The verified votes of a ballot in relay order (only those before ``before``)."""
    rows = db.all(
        "SELECT key_image, revision, encrypted_choice, vote_hash FROM ballot_votes"
        " WHERE group_id = ? AND ballot_id = ? AND (? IS NULL OR relay_seq < ?)"
        " ORDER BY relay_seq",
        (group_id, ballot_id, before, before),
    )
    return [VerifiedVote(ballot_id, row[0], int(row[1]), row[2], row[3]) for row in rows]


# -- what the message list shows ----------------------------------------------------------


def definition_text(definition: BallotDefinition) -> str:
    return f"Ballot: {definition.question}"


def close_text(definition: BallotDefinition) -> str:
    return f"Ballot closed: {definition.question}"


def reveal_text(definition: BallotDefinition) -> str:
    return f"Ballot results released: {definition.question}"


def cancel_text(definition: BallotDefinition) -> str:
    return f"Ballot cancelled: {definition.question}"


# -- handlers ---------------------------------------------------------------------------


def _require(db: Database, group_id: bytes, ballot_id: bytes) -> StoredBallot:
    ballot = load_ballot(db, group_id, ballot_id)
    if ballot is None:
        raise BallotRejected("the message names a ballot this group does not have")
    return ballot


def _from_creator(received: Received, ballot: StoredBallot, what: str) -> None:
    if received.sender.identity_pk != ballot.creator_pk:
        raise BallotRejected(f"only the ballot's creator can {what}")


def _set(db: Database, ballot: StoredBallot, **columns: object) -> None:
    names = ", ".join(f"{name} = ?" for name in columns)
    db.execute(
        f"UPDATE ballots SET {names} WHERE group_id = ? AND ballot_id = ?",  # noqa: S608
        (*columns.values(), ballot.group_id, ballot.ballot_id),
    )


def on_definition(received: Received) -> str:
    definition = BallotDefinition.decode(received.message.body)
    if definition.group_id != received.group_id:
        raise BallotRejected("the ballot names another group")
    if definition.creator_pk != received.sender.identity_pk:
        raise BallotRejected("the ballot is signed by someone other than its sender")
    if definition.roster != received.state.ballot_roster():
        raise BallotRejected(
            "the ballot's eligible members are not the group's registered ballot keys"
        )
    if load_ballot(received.db, received.group_id, definition.ballot_id) is not None:
        raise BallotRejected("a ballot with this id exists already")
    state = advance(BallotState.DRAFT, BallotEvent.PUBLISH)
    received.db.execute(
        "INSERT INTO ballots (group_id, ballot_id, definition, creator_pk, creator_name,"
        " state, defined_seq, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            received.group_id,
            definition.ballot_id,
            received.message.body,
            definition.creator_pk,
            received.sender.name,
            str(state),
            received.relay_seq,
            received.now,
        ),
    )
    return definition_text(definition)


def on_close(received: Received) -> str:
    notice = BallotNotice.decode(received.message.body)
    ballot = _require(received.db, received.group_id, notice.ballot_id)
    definition = ballot.definition
    if ballot.state is not BallotState.OPEN:
        return close_text(definition)  # closed already (several members may post one)
    early = received.message.sent_at < definition.closes_at
    if early:
        _from_creator(received, ballot, "close it before its deadline")
    state = advance(ballot.state, BallotEvent.CLOSE)
    _set(
        received.db,
        ballot,
        state=str(state),
        close_seq=received.relay_seq,
        closed_by="early" if early else "deadline",
    )
    return close_text(definition)


def on_reveal(received: Received) -> str:
    body = received.message.body
    ballot = _require(received.db, received.group_id, reveal_ballot_id(body))
    _from_creator(received, ballot, "release its key")
    definition = ballot.definition
    key = RevealKey.decode_release(body, ballot.ballot_id, definition.reveal_pk)
    if ballot.state in (BallotState.REVEALED, BallotState.TALLIED, BallotState.CANCELLED):
        return reveal_text(definition)  # a repeated release changes nothing
    close_seq, closed_by = ballot.close_seq, ballot.closed_by
    if ballot.state is BallotState.OPEN:
        if received.message.sent_at < definition.closes_at:
            raise BallotRejected("the reveal key came before the deadline without a close")
        close_seq, closed_by = received.relay_seq, "reveal"
    if close_seq is None:
        raise BallotRejected("a closed ballot without its closing position")
    state = advance(advance(ballot.state, BallotEvent.REVEAL), BallotEvent.TALLY)
    result = tally(
        definition,
        stored_votes(received.db, ballot.group_id, ballot.ballot_id, close_seq),
        key,
    )
    _set(
        received.db,
        ballot,
        state=str(state),
        close_seq=close_seq,
        closed_by=closed_by,
        reveal_secret=key.secret,
        # to_json's order is fixed by the definition (options in their order), so every
        # member stores the same bytes; no key sorting, which would lose the option order.
        result=json.dumps(result.to_json(), ensure_ascii=False, separators=(",", ":")),
    )
    return reveal_text(definition)


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
    _set(
        received.db,
        ballot,
        state=str(state),
        close_seq=received.relay_seq if ballot.close_seq is None else ballot.close_seq,
        closed_by="cancel" if ballot.closed_by is None else ballot.closed_by,
    )
    return cancel_text(ballot.definition)


def on_vote(item: AnonymousItem) -> str | None:
    vote = open_vote_item(item.keys, item.item)
    ballot = _require(item.db, item.group_id, peek_ballot_id(vote))
    vote_hash = kdf.digest("ballot-vote-hash", vote)
    seen = item.db.one(
        "SELECT 1 FROM ballot_votes WHERE group_id = ? AND ballot_id = ? AND vote_hash = ?",
        (item.group_id, ballot.ballot_id, vote_hash),
    )
    if seen is not None:
        raise Replay("this vote was received before")
    try:
        advance(ballot.state, BallotEvent.VOTE)  # Expired once the ballot has closed
    except WrongBallotState:
        raise BallotRejected("the ballot was cancelled") from None
    verified = verify_vote(ballot.definition, vote)
    item.db.execute(
        "INSERT INTO ballot_votes (group_id, ballot_id, vote_hash, key_image, revision,"
        " encrypted_choice, relay_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            item.group_id,
            verified.ballot_id,
            verified.vote_hash,
            verified.key_image,
            verified.revision,
            verified.encrypted_choice,
            item.relay_seq,
        ),
    )
    return None


register(CONTENT_TYPE_DEFINITION, on_definition)
register(CONTENT_TYPE_CLOSE, on_close)
register(CONTENT_TYPE_REVEAL, on_reveal)
register(CONTENT_TYPE_CANCEL, on_cancel)
register_item(int(ItemType.VOTE), on_vote)
