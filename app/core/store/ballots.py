"""Every SQL statement on the ballot tables (migrations/0003_ballots.sql).

``ballots`` (one row per accepted definition), ``ballot_keys`` (this member's ballot key
per group), ``ballot_reveal_keys`` (reveal keys of our own ballots), ``ballot_votes``
(verified votes, in relay order) and ``ballot_outbox`` (our own anonymous votes). Rows are
frozen dataclasses; a ballot's ``state`` is a ``crypto.ballot.BallotState`` and moves only
forward along ``crypto.ballot.TRANSITIONS``; a vote's ``status`` is a ``VoteStatus`` and
moves only along ``VOTE_TRANSITIONS``. Both updates are guarded by the old value, and one
that the table does not allow raises ``UsageError`` (our bug) before anything is written.
Write functions join the caller's transaction (the sync's, or their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.core.database import Database
from app.core.status import VOTE_TRANSITIONS, VoteStatus, move
from crypto.ballot import BallotState
from crypto.ballot.state import TRANSITIONS
from crypto.errors import UsageError

__all__ = [
    "BallotKeyRow",
    "BallotRef",
    "BallotRow",
    "ClosedBy",
    "MyVotes",
    "OutboxRow",
    "RevealKeyRow",
    "SentVote",
    "VoteRow",
    "ballot_group",
    "ballot_key_public",
    "ballot_key_secret",
    "ballot_refs",
    "count_pending_votes",
    "count_voters",
    "delete_refused_ballot",
    "due_votes",
    "end_ballot",
    "groups_with_due_votes",
    "has_vote",
    "insert_ballot",
    "insert_ballot_key",
    "insert_outbox",
    "insert_reveal_key",
    "insert_vote",
    "load_ballot",
    "load_ballots",
    "load_outbox",
    "load_reveal_key",
    "load_votes",
    "mark_close_sent",
    "mark_outbox_sent",
    "mark_reveal_released",
    "max_outbox_revision",
    "max_seen_revision",
    "my_votes",
    "sent_votes_missing",
    "set_outbox_status",
    "supersede_pending",
    "unfinished_ballots",
]


class ClosedBy(StrEnum):
    """What ended a ballot's voting (``ballots.closed_by``)."""

    DEADLINE = "deadline"
    EARLY = "early"
    REVEAL = "reveal"
    CANCEL = "cancel"


# -- rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BallotRow:
    """One ``ballots`` row; ``definition`` is the signed definition as received."""

    group_id: bytes
    ballot_id: bytes
    definition: bytes
    creator_pk: bytes
    creator_name: str
    state: BallotState
    defined_seq: int
    received_at: int
    close_seq: int | None = None
    closed_by: ClosedBy | None = None
    reveal_secret: bytes | None = None
    result: str | None = None
    close_sent: bool = False


@dataclass(frozen=True)
class BallotRef:
    group_id: bytes
    ballot_id: bytes


@dataclass(frozen=True)
class BallotKeyRow:
    """This member's ballot key in one group (the secret never leaves the engine)."""

    group_id: bytes
    secret: bytes
    public: bytes
    created_at: int


@dataclass(frozen=True)
class RevealKeyRow:
    group_id: bytes
    ballot_id: bytes
    secret: bytes
    created_at: int
    released: bool = False


@dataclass(frozen=True)
class VoteRow:
    """One verified vote (``verify_vote``'s output) at its relay position."""

    group_id: bytes
    ballot_id: bytes
    vote_hash: bytes
    key_image: bytes
    revision: int
    encrypted_choice: bytes
    relay_seq: int


@dataclass(frozen=True)
class OutboxRow:
    """One of our own votes; the row's ``id`` is the key functions take."""

    group_id: bytes
    ballot_id: bytes
    revision: int
    vote: bytes
    vote_hash: bytes
    not_before: int
    created_at: int
    status: VoteStatus = VoteStatus.PENDING
    attempts: int = 0
    relay_seq: int | None = None


@dataclass(frozen=True)
class SentVote:
    """A sent vote not among its open ballot's votes, with its group's sync cursor."""

    id: int
    group_id: bytes
    relay_seq: int | None
    cursor: int


@dataclass(frozen=True)
class MyVotes:
    """Our latest live revision on a ballot (``None``: no vote) and whether one waits."""

    revision: int | None
    pending: bool


# -- ballots ----------------------------------------------------------------------------

_BALLOT_COLUMNS = (
    "group_id, ballot_id, definition, creator_pk, creator_name, state, defined_seq,"
    " received_at, close_seq, closed_by, reveal_secret, result, close_sent"
)


def _ballot(row: Any) -> BallotRow:
    return BallotRow(
        group_id=bytes(row["group_id"]),
        ballot_id=bytes(row["ballot_id"]),
        definition=bytes(row["definition"]),
        creator_pk=bytes(row["creator_pk"]),
        creator_name=row["creator_name"],
        state=BallotState(row["state"]),
        defined_seq=int(row["defined_seq"]),
        received_at=int(row["received_at"]),
        close_seq=None if row["close_seq"] is None else int(row["close_seq"]),
        closed_by=None if row["closed_by"] is None else ClosedBy(row["closed_by"]),
        reveal_secret=None if row["reveal_secret"] is None else bytes(row["reveal_secret"]),
        result=row["result"],
        close_sent=bool(row["close_sent"]),
    )


def _named(db: Database, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Rows as column name -> value, so no caller reads a column by its position."""
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _named_one(db: Database, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    rows = _named(db, sql, params)
    return rows[0] if rows else None


def insert_ballot(db: Database, row: BallotRow) -> None:
    db.execute(
        f"INSERT INTO ballots ({_BALLOT_COLUMNS})"  # noqa: S608
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.group_id,
            row.ballot_id,
            row.definition,
            row.creator_pk,
            row.creator_name,
            str(row.state),
            row.defined_seq,
            row.received_at,
            row.close_seq,
            None if row.closed_by is None else str(row.closed_by),
            row.reveal_secret,
            row.result,
            int(row.close_sent),
        ),
    )


def load_ballot(db: Database, group_id: bytes, ballot_id: bytes) -> BallotRow | None:
    row = _named_one(
        db,
        f"SELECT {_BALLOT_COLUMNS} FROM ballots WHERE group_id = ? AND ballot_id = ?",  # noqa: S608
        (group_id, ballot_id),
    )
    return None if row is None else _ballot(row)


def load_ballots(db: Database, group_id: bytes | None = None) -> list[BallotRow]:
    """Ballots in the order their definitions arrived (of one group, or of all)."""
    rows = _named(
        db,
        f"SELECT {_BALLOT_COLUMNS} FROM ballots WHERE (? IS NULL OR group_id = ?)"  # noqa: S608
        " ORDER BY defined_seq, ballot_id",
        (group_id, group_id),
    )
    return [_ballot(row) for row in rows]


def ballot_group(db: Database, ballot_id: bytes) -> bytes | None:
    """The group of a ballot known by its id alone."""
    row = _named_one(db, "SELECT group_id FROM ballots WHERE ballot_id = ?", (ballot_id,))
    return None if row is None else bytes(row["group_id"])


def ballot_refs(db: Database) -> list[BallotRef]:
    """Every ballot of the profile, by its ids only."""
    rows = _named(db, "SELECT group_id, ballot_id FROM ballots", ())
    return [BallotRef(bytes(row["group_id"]), bytes(row["ballot_id"])) for row in rows]


def unfinished_ballots(db: Database, group_id: bytes) -> list[bytes]:
    """Ids of the group's ballots still open or closed without a result."""
    rows = _named(
        db,
        "SELECT ballot_id FROM ballots WHERE group_id = ? AND state IN (?, ?)",
        (group_id, BallotState.OPEN, BallotState.CLOSED),
    )
    return [bytes(row["ballot_id"]) for row in rows]


def mark_close_sent(db: Database, group_id: bytes, ballot_id: bytes) -> None:
    """We posted a close marker for this ballot (local only: post it once)."""
    db.execute(
        "UPDATE ballots SET close_sent = 1 WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )


def _reachable(old: BallotState, new: BallotState) -> bool:
    """Whether ``crypto.ballot.TRANSITIONS`` leads from ``old`` to a different ``new``."""
    seen, frontier = {old}, [old]
    while frontier:
        state = frontier.pop()
        for (source, _event), (target, _when) in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    return new is not old and new in seen


def end_ballot(
    db: Database,
    group_id: bytes,
    ballot_id: bytes,
    old: BallotState,
    new: BallotState,
    *,
    close_seq: int,
    closed_by: ClosedBy | None,
    reveal_secret: bytes | None = None,
    result: str | None = None,
) -> None:
    """Move a ballot from ``old`` to a later ``new`` with its closing point (and, once
    tallied, the released key and the result; otherwise those stay as they are).
    ``UsageError`` if the table has no way from ``old`` to ``new``, or the row is not in
    ``old`` (nothing is written then)."""
    if not _reachable(old, new):
        raise UsageError(f"ballot state {old} cannot become {new}")
    cursor = db.execute(
        "UPDATE ballots SET state = ?, close_seq = ?, closed_by = ?,"
        " reveal_secret = coalesce(?, reveal_secret), result = coalesce(?, result)"
        " WHERE group_id = ? AND ballot_id = ? AND state = ?",
        (
            str(new),
            close_seq,
            None if closed_by is None else str(closed_by),
            reveal_secret,
            result,
            group_id,
            ballot_id,
            str(old),
        ),
    )
    if cursor.rowcount != 1:
        raise UsageError(f"the ballot is no longer {old}")


# -- ballot keys --------------------------------------------------------------------------


def insert_ballot_key(db: Database, row: BallotKeyRow) -> None:
    db.execute(
        "INSERT INTO ballot_keys (group_id, secret, public, created_at) VALUES (?, ?, ?, ?)",
        (row.group_id, row.secret, row.public, row.created_at),
    )


def ballot_key_secret(db: Database, group_id: bytes) -> bytes | None:
    """This member's ballot secret in the group: engine side only, never a view's reader."""
    row = _named_one(db, "SELECT secret FROM ballot_keys WHERE group_id = ?", (group_id,))
    return None if row is None else bytes(row["secret"])


def ballot_key_public(db: Database, group_id: bytes) -> bytes | None:
    """This member's public ballot key in the group (selects no secret column)."""
    row = _named_one(db, "SELECT public FROM ballot_keys WHERE group_id = ?", (group_id,))
    return None if row is None else bytes(row["public"])


# -- reveal keys --------------------------------------------------------------------------


def insert_reveal_key(db: Database, row: RevealKeyRow) -> None:
    db.execute(
        "INSERT INTO ballot_reveal_keys (group_id, ballot_id, secret, released, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (row.group_id, row.ballot_id, row.secret, int(row.released), row.created_at),
    )


def load_reveal_key(db: Database, group_id: bytes, ballot_id: bytes) -> RevealKeyRow | None:
    row = _named_one(
        db,
        "SELECT group_id, ballot_id, secret, released, created_at FROM ballot_reveal_keys"
        " WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )
    if row is None:
        return None
    return RevealKeyRow(
        group_id=bytes(row["group_id"]),
        ballot_id=bytes(row["ballot_id"]),
        secret=bytes(row["secret"]),
        created_at=int(row["created_at"]),
        released=bool(row["released"]),
    )


def mark_reveal_released(db: Database, group_id: bytes, ballot_id: bytes) -> None:
    """The reveal key went out (or must never go out: a cancelled ballot)."""
    db.execute(
        "UPDATE ballot_reveal_keys SET released = 1 WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )


def delete_refused_ballot(
    db: Database, group_id: bytes, ballot_id: bytes, message_id: int, warning: str
) -> None:
    """Every client refused our definition: forget its reveal key and put ``warning`` on
    the message that carried it."""
    db.execute(
        "DELETE FROM ballot_reveal_keys WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )
    db.execute("UPDATE messages SET warning = ? WHERE id = ?", (warning, message_id))


# -- verified votes -----------------------------------------------------------------------


def insert_vote(db: Database, row: VoteRow) -> None:
    db.execute(
        "INSERT INTO ballot_votes (group_id, ballot_id, vote_hash, key_image, revision,"
        " encrypted_choice, relay_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            row.group_id,
            row.ballot_id,
            row.vote_hash,
            row.key_image,
            row.revision,
            row.encrypted_choice,
            row.relay_seq,
        ),
    )


def has_vote(db: Database, group_id: bytes, ballot_id: bytes, vote_hash: bytes) -> bool:
    row = _named_one(
        db,
        "SELECT 1 AS seen FROM ballot_votes WHERE group_id = ? AND ballot_id = ? AND vote_hash = ?",
        (group_id, ballot_id, vote_hash),
    )
    return row is not None


def load_votes(
    db: Database, group_id: bytes, ballot_id: bytes, before: int | None = None
) -> list[VoteRow]:
    """A ballot's verified votes in relay order (only those before ``before``)."""
    rows = _named(
        db,
        "SELECT group_id, ballot_id, vote_hash, key_image, revision, encrypted_choice,"
        " relay_seq FROM ballot_votes"
        " WHERE group_id = ? AND ballot_id = ? AND (? IS NULL OR relay_seq < ?)"
        " ORDER BY relay_seq",
        (group_id, ballot_id, before, before),
    )
    return [
        VoteRow(
            group_id=bytes(row["group_id"]),
            ballot_id=bytes(row["ballot_id"]),
            vote_hash=bytes(row["vote_hash"]),
            key_image=bytes(row["key_image"]),
            revision=int(row["revision"]),
            encrypted_choice=bytes(row["encrypted_choice"]),
            relay_seq=int(row["relay_seq"]),
        )
        for row in rows
    ]


def count_voters(db: Database, group_id: bytes, ballot_id: bytes) -> int:
    """Distinct voters (key images) among the ballot's verified votes."""
    row = _named_one(
        db,
        "SELECT count(DISTINCT key_image) AS voters FROM ballot_votes"
        " WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )
    return 0 if row is None else int(row["voters"])


def max_seen_revision(db: Database, group_id: bytes, ballot_id: bytes, image: bytes) -> int | None:
    """The highest revision the group saw under one key image."""
    row = _named_one(
        db,
        "SELECT max(revision) AS revision FROM ballot_votes"
        " WHERE group_id = ? AND ballot_id = ? AND key_image = ?",
        (group_id, ballot_id, image),
    )
    return None if row is None or row["revision"] is None else int(row["revision"])


# -- our own votes (the outbox) -----------------------------------------------------------


def insert_outbox(db: Database, row: OutboxRow) -> int:
    """Queue one of our votes; returns its row id."""
    cursor = db.execute(
        "INSERT INTO ballot_outbox (group_id, ballot_id, revision, vote, vote_hash,"
        " not_before, status, attempts, relay_seq, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.group_id,
            row.ballot_id,
            row.revision,
            row.vote,
            row.vote_hash,
            row.not_before,
            str(row.status),
            row.attempts,
            row.relay_seq,
            row.created_at,
        ),
    )
    return int(cursor.lastrowid)


def load_outbox(db: Database, row_id: int) -> OutboxRow | None:
    row = _named_one(
        db,
        "SELECT group_id, ballot_id, revision, vote, vote_hash, not_before, status,"
        " attempts, relay_seq, created_at FROM ballot_outbox WHERE id = ?",
        (row_id,),
    )
    if row is None:
        return None
    return OutboxRow(
        group_id=bytes(row["group_id"]),
        ballot_id=bytes(row["ballot_id"]),
        revision=int(row["revision"]),
        vote=bytes(row["vote"]),
        vote_hash=bytes(row["vote_hash"]),
        not_before=int(row["not_before"]),
        created_at=int(row["created_at"]),
        status=VoteStatus(row["status"]),
        attempts=int(row["attempts"]),
        relay_seq=None if row["relay_seq"] is None else int(row["relay_seq"]),
    )


def max_outbox_revision(db: Database, group_id: bytes, ballot_id: bytes) -> int | None:
    """The highest revision we cast on the ballot from this profile, in any status."""
    row = _named_one(
        db,
        "SELECT max(revision) AS revision FROM ballot_outbox WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )
    return None if row is None or row["revision"] is None else int(row["revision"])


def supersede_pending(db: Database, group_id: bytes, ballot_id: bytes) -> None:
    """Our votes on the ballot still waiting for their delay will never be needed."""
    db.execute(
        "UPDATE ballot_outbox SET status = ? WHERE group_id = ? AND ballot_id = ? AND status = ?",
        (
            move(VOTE_TRANSITIONS, VoteStatus.PENDING, VoteStatus.SUPERSEDED),
            group_id,
            ballot_id,
            VoteStatus.PENDING,
        ),
    )


def set_outbox_status(db: Database, row_id: int, old: VoteStatus, new: VoteStatus) -> bool:
    """Move one vote from ``old`` to ``new`` if it is still ``old``; returns whether it
    moved. ``UsageError`` for a move ``VOTE_TRANSITIONS`` does not have."""
    move(VOTE_TRANSITIONS, old, new)
    cursor = db.execute(
        "UPDATE ballot_outbox SET status = ? WHERE id = ? AND status = ?",
        (str(new), row_id, str(old)),
    )
    return bool(cursor.rowcount)


def mark_outbox_sent(db: Database, row_id: int, relay_seq: int) -> bool:
    """The relay took the pending vote at ``relay_seq``; returns whether it was pending."""
    cursor = db.execute(
        "UPDATE ballot_outbox SET status = ?, relay_seq = ?, attempts = attempts + 1"
        " WHERE id = ? AND status = ?",
        (
            move(VOTE_TRANSITIONS, VoteStatus.PENDING, VoteStatus.SENT),
            relay_seq,
            row_id,
            VoteStatus.PENDING,
        ),
    )
    return bool(cursor.rowcount)


def due_votes(db: Database, now: int, group_id: bytes | None = None) -> list[int]:
    """Ids of the pending votes whose delay is over (of one group, or of all), oldest first."""
    rows = _named(
        db,
        "SELECT id FROM ballot_outbox WHERE status = ? AND not_before <= ?"
        " AND (? IS NULL OR group_id = ?) ORDER BY id",
        (VoteStatus.PENDING, now, group_id, group_id),
    )
    return [int(row["id"]) for row in rows]


def groups_with_due_votes(db: Database, now: int) -> list[bytes]:
    """Groups with a pending vote whose delay is over."""
    rows = _named(
        db,
        "SELECT DISTINCT group_id FROM ballot_outbox WHERE status = ? AND not_before <= ?"
        " ORDER BY group_id",
        (VoteStatus.PENDING, now),
    )
    return [bytes(row["group_id"]) for row in rows]


def count_pending_votes(db: Database, group_id: bytes | None = None) -> int:
    row = _named_one(
        db,
        "SELECT count(*) AS waiting FROM ballot_outbox WHERE status = ?"
        " AND (? IS NULL OR group_id = ?)",
        (VoteStatus.PENDING, group_id, group_id),
    )
    return 0 if row is None else int(row["waiting"])


def sent_votes_missing(db: Database, attempt_limit: int, group_id: bytes | None) -> list[SentVote]:
    """Our sent votes (posted fewer than ``attempt_limit`` times) on still-open ballots
    that are not among those ballots' verified votes, with their group's cursor."""
    rows = _named(
        db,
        "SELECT o.id, o.group_id, o.relay_seq, g.cursor FROM ballot_outbox o"
        " JOIN groups g ON g.group_id = o.group_id"
        " JOIN ballots b ON b.group_id = o.group_id AND b.ballot_id = o.ballot_id"
        " WHERE o.status = ? AND b.state = ? AND o.attempts < ?"
        " AND (? IS NULL OR o.group_id = ?)"
        " AND NOT EXISTS (SELECT 1 FROM ballot_votes v WHERE v.group_id = o.group_id"
        " AND v.ballot_id = o.ballot_id AND v.vote_hash = o.vote_hash)",
        (VoteStatus.SENT, BallotState.OPEN, attempt_limit, group_id, group_id),
    )
    return [
        SentVote(
            id=int(row["id"]),
            group_id=bytes(row["group_id"]),
            relay_seq=None if row["relay_seq"] is None else int(row["relay_seq"]),
            cursor=int(row["cursor"]),
        )
        for row in rows
    ]


def my_votes(db: Database, group_id: bytes, ballot_id: bytes) -> MyVotes:
    """Our latest pending or sent revision on the ballot, and whether one still waits."""
    row = _named_one(
        db,
        "SELECT max(revision) AS revision, sum(status = ?) AS pending FROM ballot_outbox"
        " WHERE group_id = ? AND ballot_id = ? AND status IN (?, ?)",
        (VoteStatus.PENDING, group_id, ballot_id, VoteStatus.PENDING, VoteStatus.SENT),
    )
    if row is None:
        return MyVotes(None, False)
    revision = None if row["revision"] is None else int(row["revision"])
    return MyVotes(revision, bool(row["pending"]))
