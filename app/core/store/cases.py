"""Every SQL statement on the case tables (migration 0021): cases, case inboxes, the
directory of organizers' case inboxes and the invitations an opener sent.

Plain functions over a ``Database``; writes run in the caller's transaction (the sync
transaction for received records, or one the case service opens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.database import Database

__all__ = [
    "CaseInboxRow",
    "CaseRow",
    "announced",
    "directory",
    "insert_case",
    "insert_case_inbox",
    "invitation_sent",
    "invited",
    "load_case",
    "load_case_inbox",
    "mark_case_inbox_registered",
    "parent_cases",
    "record_inbox",
    "set_announced",
    "set_case_inbox_cursor",
    "set_line_status",
    "set_record_members",
    "set_sharing",
    "set_status",
    "set_title",
]

_SELECT = (
    "SELECT case_group_id, parent_group_id, title, opener_pk, status, status_applied, sharing,"
    " line_status, record_members, opened_at FROM cases"
)


@dataclass(frozen=True)
class CaseRow:
    case_group_id: bytes
    parent_group_id: bytes
    title: str
    opener_pk: bytes
    status: int
    status_applied: bool
    sharing: int
    line_status: int
    record_members: int
    opened_at: int


@dataclass(frozen=True)
class CaseInboxRow:
    relay_url: str
    inbox_id: bytes
    auth_seed: bytes
    registered: bool
    cursor: int


def _case(row: Any) -> CaseRow:
    return CaseRow(
        bytes(row[0]),
        bytes(row[1]),
        str(row[2]),
        bytes(row[3]),
        int(row[4]),
        bool(row[5]),
        int(row[6]),
        int(row[7]),
        int(row[8]),
        int(row[9]),
    )


def insert_case(
    db: Database,
    case_group_id: bytes,
    parent_group_id: bytes,
    title: str,
    opener_pk: bytes,
    status: int,
    sharing: int,
    opened_at: int,
) -> bool:
    """A case this client learnt of; False (nothing changes) when it already has it."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO cases (case_group_id, parent_group_id, title, opener_pk,"
        " status, sharing, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (case_group_id, parent_group_id, title, opener_pk, status, sharing, opened_at),
    )
    return bool(cursor.rowcount)


def load_case(db: Database, case_group_id: bytes) -> CaseRow | None:
    row = db.one(_SELECT + " WHERE case_group_id = ?", (case_group_id,))
    return None if row is None else _case(row)


def parent_cases(db: Database, parent_group_id: bytes | None = None) -> list[CaseRow]:
    """Cases of one parent group (all cases with None), oldest first."""
    if parent_group_id is None:
        rows = db.all(_SELECT + " ORDER BY opened_at, case_group_id")
    else:
        rows = db.all(
            _SELECT + " WHERE parent_group_id = ? ORDER BY opened_at, case_group_id",
            (parent_group_id,),
        )
    return [_case(row) for row in rows]


def set_status(db: Database, case_group_id: bytes, status: int, *, applied: bool) -> None:
    db.execute(
        "UPDATE cases SET status = ?, status_applied = max(status_applied, ?)"
        " WHERE case_group_id = ?",
        (status, int(applied), case_group_id),
    )


def set_title(db: Database, case_group_id: bytes, title: str) -> None:
    db.execute("UPDATE cases SET title = ? WHERE case_group_id = ?", (title, case_group_id))


def set_sharing(db: Database, case_group_id: bytes, sharing: int) -> None:
    db.execute("UPDATE cases SET sharing = ? WHERE case_group_id = ?", (sharing, case_group_id))


def set_line_status(db: Database, case_group_id: bytes, status: int) -> None:
    db.execute("UPDATE cases SET line_status = ? WHERE case_group_id = ?", (status, case_group_id))


def set_record_members(db: Database, case_group_id: bytes, count: int) -> None:
    db.execute(
        "UPDATE cases SET record_members = ? WHERE case_group_id = ?", (count, case_group_id)
    )


# -- organizers' case inboxes --------------------------------------------------------


def load_case_inbox(db: Database, relay_url: str) -> CaseInboxRow | None:
    row = db.one(
        "SELECT inbox_id, auth_seed, registered, cursor FROM case_inboxes WHERE relay_url = ?",
        (relay_url,),
    )
    if row is None:
        return None
    return CaseInboxRow(relay_url, bytes(row[0]), bytes(row[1]), bool(row[2]), int(row[3]))


def insert_case_inbox(db: Database, relay_url: str, inbox_id: bytes, auth_seed: bytes) -> None:
    db.execute(
        "INSERT INTO case_inboxes (relay_url, inbox_id, auth_seed) VALUES (?, ?, ?)",
        (relay_url, inbox_id, auth_seed),
    )


def mark_case_inbox_registered(db: Database, relay_url: str) -> None:
    db.execute("UPDATE case_inboxes SET registered = 1 WHERE relay_url = ?", (relay_url,))


def set_case_inbox_cursor(db: Database, relay_url: str, cursor: int) -> None:
    db.execute("UPDATE case_inboxes SET cursor = ? WHERE relay_url = ?", (cursor, relay_url))


def record_inbox(db: Database, group_id: bytes, organizer_pk: bytes, inbox_id: bytes) -> None:
    db.execute(
        "INSERT INTO case_inbox_directory (group_id, organizer_pk, inbox_id) VALUES (?, ?, ?)"
        " ON CONFLICT (group_id, organizer_pk) DO UPDATE SET inbox_id = excluded.inbox_id",
        (group_id, organizer_pk, inbox_id),
    )


def directory(db: Database, group_id: bytes) -> dict[bytes, bytes]:
    """Organizer identity key -> its case inbox id, as announced in ``group_id``."""
    rows = db.all(
        "SELECT organizer_pk, inbox_id FROM case_inbox_directory WHERE group_id = ?",
        (group_id,),
    )
    return {bytes(row[0]): bytes(row[1]) for row in rows}


def announced(db: Database, group_id: bytes) -> tuple[bytes, bytes] | None:
    """(inbox id, roster digest) of our last announcement in ``group_id``."""
    row = db.one(
        "SELECT inbox_id, roster_digest FROM case_announcements WHERE group_id = ?",
        (group_id,),
    )
    return None if row is None else (bytes(row[0]), bytes(row[1]))


def set_announced(db: Database, group_id: bytes, inbox_id: bytes, roster_digest: bytes) -> None:
    db.execute(
        "INSERT INTO case_announcements (group_id, inbox_id, roster_digest) VALUES (?, ?, ?)"
        " ON CONFLICT (group_id) DO UPDATE SET inbox_id = excluded.inbox_id,"
        " roster_digest = excluded.roster_digest",
        (group_id, inbox_id, roster_digest),
    )


# -- invitations an opener sent ------------------------------------------------------


def invited(db: Database, case_group_id: bytes) -> set[bytes]:
    rows = db.all(
        "SELECT organizer_pk FROM case_invitations_sent WHERE case_group_id = ?",
        (case_group_id,),
    )
    return {bytes(row[0]) for row in rows}


def invitation_sent(db: Database, case_group_id: bytes, organizer_pk: bytes, now: int) -> None:
    db.execute(
        "INSERT OR IGNORE INTO case_invitations_sent (case_group_id, organizer_pk, sent_at)"
        " VALUES (?, ?, ?)",
        (case_group_id, organizer_pk, now),
    )
