"""Every SQL statement on the joining tables (migrations/0001_init.sql).

``inboxes`` (our inbox on each relay, where welcomes arrive), ``pending_joins`` (the
invite codes we used and whose welcome we wait for), ``invites`` (the invites we made, with
the secret that opens their mailbox) and ``join_requests`` (requests that wait for an
organizer or were decided).

An invite's ``status`` is an ``InviteStatus`` and a request's a ``JoinStatus``; each
changes only along its table (``INVITE_TRANSITIONS``, ``JOIN_TRANSITIONS``) by an
``UPDATE`` guarded by the old status. Every function here may read key material (inbox
auth seeds, invite secrets, sealed requests): the desktop app's read-only connection never
calls them. Write functions join the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.database import Database
from app.core.status import (
    INVITE_TRANSITIONS,
    JOIN_TRANSITIONS,
    InviteStatus,
    JoinStatus,
    move,
)

__all__ = [
    "InboxRow",
    "InviteRow",
    "JoinRequestRow",
    "JoinRequestSender",
    "PendingJoinRow",
    "PendingRequestRow",
    "delete_pending_join",
    "insert_inbox",
    "insert_invite",
    "insert_join_request",
    "join_request_senders",
    "join_requests",
    "load_inbox",
    "load_invite",
    "mark_inbox_registered",
    "name_join_request",
    "open_invites",
    "pending_join_request",
    "pending_joins",
    "save_pending_join",
    "set_inbox_cursor",
    "set_invite_cursor",
    "set_invite_status",
    "set_join_status",
    "unnamed_join_requests",
]


# -- rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    """Our inbox on one relay; ``auth_seed`` makes the key that reads it."""

    relay_url: str
    inbox_id: bytes
    auth_seed: bytes = field(repr=False)
    registered: bool
    cursor: int


@dataclass(frozen=True)
class PendingJoinRow:
    """An invite code we used; the welcome it waits for arrives in our inbox on
    ``relay_url``."""

    code: str = field(repr=False)
    relay_url: str
    requested_at: int


@dataclass(frozen=True)
class InviteRow:
    """An invite we made; ``secret`` opens its mailbox and the requests in it."""

    invite_id: bytes
    group_id: bytes
    secret: bytes = field(repr=False)
    code: str = field(repr=False)
    cursor: int
    status: InviteStatus


@dataclass(frozen=True)
class JoinRequestRow:
    """A join request with the secret of the invite it came in on (which opens it)."""

    request_id: int
    group_id: bytes
    request: bytes
    status: JoinStatus
    received_at: int
    invite_secret: bytes = field(repr=False)


@dataclass(frozen=True)
class JoinRequestSender:
    """A join request as a list shows it: who asked, when, and where it stands."""

    request_id: int
    group_id: bytes
    name: str
    identity_pk: bytes
    status: JoinStatus
    received_at: int


@dataclass(frozen=True)
class PendingRequestRow:
    """A join request still waiting for an organizer, and the invite it came in on."""

    request_id: int
    invite_id: bytes
    group_id: bytes
    request: bytes


# -- inboxes ----------------------------------------------------------------------------


def load_inbox(db: Database, relay_url: str) -> InboxRow | None:
    row = db.one(
        "SELECT inbox_id, auth_seed, registered, cursor FROM inboxes WHERE relay_url = ?",
        (relay_url,),
    )
    if row is None:
        return None
    return InboxRow(relay_url, bytes(row[0]), bytes(row[1]), bool(row[2]), int(row[3]))


def insert_inbox(db: Database, relay_url: str, inbox_id: bytes, auth_seed: bytes) -> None:
    """A new inbox, not yet registered with its relay, read from the start."""
    db.execute(
        "INSERT INTO inboxes (relay_url, inbox_id, auth_seed) VALUES (?, ?, ?)",
        (relay_url, inbox_id, auth_seed),
    )


def mark_inbox_registered(db: Database, relay_url: str) -> None:
    db.execute("UPDATE inboxes SET registered = 1 WHERE relay_url = ?", (relay_url,))


def set_inbox_cursor(db: Database, relay_url: str, cursor: int) -> None:
    """The last inbox sequence number processed."""
    db.execute("UPDATE inboxes SET cursor = ? WHERE relay_url = ?", (cursor, relay_url))


# -- pending joins ----------------------------------------------------------------------


def save_pending_join(db: Database, code: str, relay_url: str, requested_at: int) -> None:
    """Wait for a welcome for ``code`` (asking again replaces the earlier wait)."""
    db.execute(
        "INSERT OR REPLACE INTO pending_joins (code, relay_url, requested_at) VALUES (?, ?, ?)",
        (code, relay_url, requested_at),
    )


def pending_joins(db: Database) -> list[PendingJoinRow]:
    """Every join we wait for, in the order we asked (the latest ask of a code counts)."""
    return [
        PendingJoinRow(str(row[0]), str(row[1]), int(row[2]))
        for row in db.all("SELECT code, relay_url, requested_at FROM pending_joins ORDER BY rowid")
    ]


def delete_pending_join(db: Database, code: str) -> None:
    db.execute("DELETE FROM pending_joins WHERE code = ?", (code,))


# -- invites ----------------------------------------------------------------------------


def _invite(row: Any) -> InviteRow:
    return InviteRow(
        invite_id=bytes(row[0]),
        group_id=bytes(row[1]),
        secret=bytes(row[2]),
        code=str(row[3]),
        cursor=int(row[4]),
        status=InviteStatus(row[5]),
    )


_SELECT_INVITE = "SELECT invite_id, group_id, secret, code, cursor, status FROM invites"


def insert_invite(
    db: Database, invite_id: bytes, group_id: bytes, secret: bytes, code: str
) -> None:
    """A new invite, ``open``, its mailbox read from the start."""
    db.execute(
        "INSERT INTO invites (invite_id, group_id, secret, code, status) VALUES (?, ?, ?, ?, ?)",
        (invite_id, group_id, secret, code, InviteStatus.OPEN.value),
    )


def load_invite(db: Database, invite_id: bytes) -> InviteRow | None:
    row = db.one(f"{_SELECT_INVITE} WHERE invite_id = ?", (invite_id,))
    return _invite(row) if row is not None else None


def open_invites(db: Database) -> list[InviteRow]:
    """The invites whose mailbox we still read, in the order we made them."""
    rows = db.all(
        f"{_SELECT_INVITE} WHERE status = ? ORDER BY rowid",
        (InviteStatus.OPEN.value,),
    )
    return [_invite(row) for row in rows]


def set_invite_cursor(db: Database, invite_id: bytes, cursor: int) -> None:
    """The last mailbox sequence number processed."""
    db.execute("UPDATE invites SET cursor = ? WHERE invite_id = ?", (cursor, invite_id))


def set_invite_status(db: Database, invite_id: bytes, old: InviteStatus, new: InviteStatus) -> bool:
    """Move the invite along ``INVITE_TRANSITIONS`` (``UsageError`` when the table
    forbids it); False when its stored status is not ``old`` (nothing changes)."""
    move(INVITE_TRANSITIONS, old, new)
    cursor = db.execute(
        "UPDATE invites SET status = ? WHERE invite_id = ? AND status = ?",
        (new.value, invite_id, old.value),
    )
    return bool(cursor.rowcount)


# -- join requests ----------------------------------------------------------------------


def insert_join_request(
    db: Database,
    invite_id: bytes,
    group_id: bytes,
    request: bytes,
    received_at: int,
    name: str,
    identity_pk: bytes,
) -> int:
    """A request that waits for an organizer, ``pending``, with who sent it (as opened
    by the engine); its number."""
    cursor = db.execute(
        "INSERT INTO join_requests (invite_id, group_id, request, status, received_at,"
        " name, identity_pk) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (invite_id, group_id, request, JoinStatus.PENDING.value, received_at, name, identity_pk),
    )
    return int(cursor.lastrowid or 0)


def unnamed_join_requests(db: Database) -> list[JoinRequestRow]:
    """Requests stored before their sender was recorded, with the invite secret that
    opens them: the engine's connection only."""
    return _join_requests(db, None, unnamed_only=True)


def name_join_request(db: Database, request_id: int, name: str, identity_pk: bytes) -> None:
    db.execute(
        "UPDATE join_requests SET name = ?, identity_pk = ? WHERE id = ?",
        (name, identity_pk, request_id),
    )


def join_request_senders(db: Database, group_id: bytes | None = None) -> list[JoinRequestSender]:
    """Join requests with who sent them, without any secret (the desktop app's reader)."""
    rows = db.all(
        "SELECT id, group_id, name, identity_pk, status, received_at FROM join_requests"
        " WHERE name IS NOT NULL AND (? IS NULL OR group_id = ?) ORDER BY id",
        (group_id, group_id),
    )
    return [
        JoinRequestSender(
            request_id=int(row[0]),
            group_id=bytes(row[1]),
            name=str(row[2]),
            identity_pk=bytes(row[3]),
            status=JoinStatus(row[4]),
            received_at=int(row[5]),
        )
        for row in rows
    ]


def pending_join_request(db: Database, request_id: int) -> PendingRequestRow | None:
    """Request ``request_id`` if it still waits for an organizer, else None."""
    row = db.one(
        "SELECT invite_id, group_id, request FROM join_requests WHERE id = ? AND status = ?",
        (request_id, JoinStatus.PENDING.value),
    )
    if row is None:
        return None
    return PendingRequestRow(request_id, bytes(row[0]), bytes(row[1]), bytes(row[2]))


def join_requests(db: Database, group_id: bytes | None = None) -> list[JoinRequestRow]:
    """Join requests (of one group, or all) in arrival order, each with its invite's
    secret: the engine's connection only (it reads key material)."""
    return _join_requests(db, group_id, unnamed_only=False)


def _join_requests(
    db: Database, group_id: bytes | None, unnamed_only: bool
) -> list[JoinRequestRow]:
    rows = db.all(
        "SELECT r.id, r.group_id, r.request, r.status, r.received_at, i.secret"
        " FROM join_requests r JOIN invites i ON i.invite_id = r.invite_id"
        " WHERE (? IS NULL OR r.group_id = ?) AND (? = 0 OR r.name IS NULL) ORDER BY r.id",
        (group_id, group_id, int(unnamed_only)),
    )
    return [
        JoinRequestRow(
            request_id=int(row[0]),
            group_id=bytes(row[1]),
            request=bytes(row[2]),
            status=JoinStatus(row[3]),
            received_at=int(row[4]),
            invite_secret=bytes(row[5]),
        )
        for row in rows
    ]


def set_join_status(db: Database, request_id: int, old: JoinStatus, new: JoinStatus) -> bool:
    """Move the request along ``JOIN_TRANSITIONS`` (``UsageError`` when the table forbids
    it); False when its stored status is not ``old`` (nothing changes)."""
    move(JOIN_TRANSITIONS, old, new)
    cursor = db.execute(
        "UPDATE join_requests SET status = ? WHERE id = ? AND status = ?",
        (new.value, request_id, old.value),
    )
    return bool(cursor.rowcount)
