"""Every SQL statement of ballot protocol 2's tally check (migrations/0011_ballot_tally_v2.sql).

Per ballot: the vote hashes the creator's reveal names (``counted``), whether this
client's votes agree with them (``integrity``), whether the eligible members changed
before the close, and this client's own missing-votes requests. Per vote: the vote as
received, so it can be posted again. ``ballot_reposts``: votes others asked us to post
again. Write functions join the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.core.database import Database
from crypto.ballot import BallotState

__all__ = [
    "Integrity",
    "Repost",
    "TallyRow",
    "ask_repost",
    "held_votes",
    "load_reposts",
    "load_tally",
    "mark_eligibility_changed",
    "mark_reposted",
    "note_repair_request",
    "own_vote_hashes",
    "raw_vote",
    "set_counted",
    "set_integrity",
    "set_vote_bytes",
    "waiting_ballots",
]

_HASH = 32


class Integrity(StrEnum):
    """How this client's votes compare with the set the reveal names (docs/ballots.md 13)."""

    WAITING = "waiting"  # named votes have not arrived here yet; asked for them
    DIFFERS = "differs"  # a mismatch that cannot heal


@dataclass(frozen=True)
class TallyRow:
    counted: tuple[bytes, ...] | None
    integrity: Integrity | None
    integrity_detail: str | None
    eligibility_changed: bool
    repair_requests: int
    repair_requested_at: int | None


@dataclass(frozen=True)
class Repost:
    group_id: bytes
    ballot_id: bytes
    vote_hash: bytes


def _one(db: Database, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column[0] for column in cursor.description]
    return dict(zip(names, row, strict=True))


def _all(db: Database, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _split(blob: bytes) -> tuple[bytes, ...]:
    return tuple(blob[i : i + _HASH] for i in range(0, len(blob), _HASH))


def load_tally(db: Database, group_id: bytes, ballot_id: bytes) -> TallyRow | None:
    row = _one(
        db,
        "SELECT counted, integrity, integrity_detail, eligibility_changed, repair_requests,"
        " repair_requested_at FROM ballots WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )
    if row is None:
        return None
    return TallyRow(
        counted=None if row["counted"] is None else _split(bytes(row["counted"])),
        integrity=None if row["integrity"] is None else Integrity(row["integrity"]),
        integrity_detail=row["integrity_detail"],
        eligibility_changed=bool(row["eligibility_changed"]),
        repair_requests=int(row["repair_requests"]),
        repair_requested_at=(
            None if row["repair_requested_at"] is None else int(row["repair_requested_at"])
        ),
    )


def set_counted(
    db: Database, group_id: bytes, ballot_id: bytes, counted: tuple[bytes, ...]
) -> None:
    db.execute(
        "UPDATE ballots SET counted = ? WHERE group_id = ? AND ballot_id = ?",
        (b"".join(counted), group_id, ballot_id),
    )


def set_integrity(
    db: Database, group_id: bytes, ballot_id: bytes, integrity: Integrity | None, detail: str | None
) -> None:
    db.execute(
        "UPDATE ballots SET integrity = ?, integrity_detail = ?"
        " WHERE group_id = ? AND ballot_id = ?",
        (None if integrity is None else str(integrity), detail, group_id, ballot_id),
    )


def mark_eligibility_changed(db: Database, group_id: bytes, ballot_id: bytes) -> None:
    db.execute(
        "UPDATE ballots SET eligibility_changed = 1 WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )


def note_repair_request(db: Database, group_id: bytes, ballot_id: bytes, at: int) -> None:
    db.execute(
        "UPDATE ballots SET repair_requests = repair_requests + 1, repair_requested_at = ?"
        " WHERE group_id = ? AND ballot_id = ?",
        (at, group_id, ballot_id),
    )


def waiting_ballots(db: Database, group_id: bytes) -> list[bytes]:
    """Revealed ballots of the group still missing votes the reveal names."""
    rows = _all(
        db,
        "SELECT ballot_id FROM ballots WHERE group_id = ? AND state = ? AND integrity = ?",
        (group_id, BallotState.REVEALED, Integrity.WAITING),
    )
    return [bytes(row["ballot_id"]) for row in rows]


# -- votes --------------------------------------------------------------------------------


def set_vote_bytes(
    db: Database, group_id: bytes, ballot_id: bytes, vote_hash: bytes, vote: bytes
) -> None:
    db.execute(
        "UPDATE ballot_votes SET vote = ? WHERE group_id = ? AND ballot_id = ? AND vote_hash = ?",
        (vote, group_id, ballot_id, vote_hash),
    )


def held_votes(db: Database, group_id: bytes, ballot_id: bytes) -> dict[bytes, tuple[bytes, int]]:
    """Every verified vote of the ballot held here: ``{vote_hash: (key_image, revision)}``."""
    rows = _all(
        db,
        "SELECT vote_hash, key_image, revision FROM ballot_votes"
        " WHERE group_id = ? AND ballot_id = ?",
        (group_id, ballot_id),
    )
    return {
        bytes(row["vote_hash"]): (bytes(row["key_image"]), int(row["revision"])) for row in rows
    }


def raw_vote(db: Database, group_id: bytes, ballot_id: bytes, vote_hash: bytes) -> bytes | None:
    """The vote with this hash as received here, or as this member cast it."""
    row = _one(
        db,
        "SELECT vote FROM ballot_votes WHERE group_id = ? AND ballot_id = ? AND vote_hash = ?"
        " AND vote IS NOT NULL UNION ALL SELECT vote FROM ballot_outbox"
        " WHERE group_id = ? AND ballot_id = ? AND vote_hash = ? LIMIT 1",
        (group_id, ballot_id, vote_hash, group_id, ballot_id, vote_hash),
    )
    return None if row is None else bytes(row["vote"])


def own_vote_hashes(db: Database, group_id: bytes, ballot_id: bytes) -> dict[bytes, int]:
    """The votes this member posted on the ballot: ``{vote_hash: revision}``."""
    rows = _all(
        db,
        "SELECT vote_hash, revision FROM ballot_outbox WHERE group_id = ? AND ballot_id = ?"
        " AND relay_seq IS NOT NULL",
        (group_id, ballot_id),
    )
    return {bytes(row["vote_hash"]): int(row["revision"]) for row in rows}


# -- reposts ------------------------------------------------------------------------------


def ask_repost(db: Database, repost: Repost, at: int, limit: int) -> None:
    """Queue a vote to post again, unless it was posted ``limit`` times already."""
    db.execute(
        "INSERT INTO ballot_reposts (group_id, ballot_id, vote_hash, asked_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (group_id, ballot_id, vote_hash) DO UPDATE"
        " SET pending = 1, asked_at = excluded.asked_at WHERE answered < ?",
        (repost.group_id, repost.ballot_id, repost.vote_hash, at, limit),
    )


def load_reposts(db: Database, group_id: bytes) -> list[Repost]:
    rows = _all(
        db,
        "SELECT group_id, ballot_id, vote_hash FROM ballot_reposts"
        " WHERE group_id = ? AND pending = 1 ORDER BY asked_at, vote_hash",
        (group_id,),
    )
    return [
        Repost(bytes(r["group_id"]), bytes(r["ballot_id"]), bytes(r["vote_hash"])) for r in rows
    ]


def mark_reposted(db: Database, repost: Repost) -> None:
    db.execute(
        "UPDATE ballot_reposts SET pending = 0, answered = answered + 1"
        " WHERE group_id = ? AND ballot_id = ? AND vote_hash = ?",
        (repost.group_id, repost.ballot_id, repost.vote_hash),
    )
