"""Received case records (content types 56 to 60, docs/union-tools.md "Dispute cases"):
the rules every client applies in mailbox order, so every member of a case holds the
same status.

- 56 case inbox (parent group): counts only from an organizer of that epoch.
- 57 case record (case group): only from the case group's creator (its opener), in a
  group this client already holds as a case (it opened it, or accepted the opener's
  invitation); until a status change has come through, it sets the status too.
- 58 status change (case group): only from an organizer of the case group (the opener
  created it, so is one), only when ``previous`` is the status held here and the pair is
  in ``CASE_TRANSITIONS``; otherwise refused, with a warning.
- 59 sharing (case group): only from the opener.
- 60 status line (parent group): only from an organizer of that epoch.

A refused record raises a ``RemoteError``: the message is not stored and the sync
records a warning. Status lines to post are marked here (``line_status``); the case
service decides who posts them (``app.core.cases``).
"""

from __future__ import annotations

from app.core.content_handlers import Received, register
from app.core.store import cases as store
from app.core.store import groups as group_store
from crypto.case import (
    CONTENT_TYPE_CASE_INBOX,
    CONTENT_TYPE_CASE_LINE,
    CONTENT_TYPE_CASE_RECORD,
    CONTENT_TYPE_CASE_SHARING,
    CONTENT_TYPE_CASE_STATUS,
    CaseInbox,
    CaseLine,
    CaseRecord,
    CaseSharing,
    CaseStatus,
    CaseStatusChange,
    Sharing,
    transition_allowed,
)
from crypto.errors import MalformedData, NotPermitted
from crypto.group_log import Role
from crypto.log_entry import LogEntry

__all__ = [
    "creator_of",
    "on_inbox",
    "on_line",
    "on_record",
    "on_sharing",
    "on_status",
    "status_change_text",
]


def creator_of(received: Received) -> bytes:
    """The author of the group's CREATE entry: a case group's opener."""
    first = group_store.logged_entry(received.db, received.group_id, 0)
    if first is None:
        raise MalformedData("the group's first log entry is missing")
    return LogEntry.decode(first.entry).author


def _case(received: Received) -> store.CaseRow:
    row = store.load_case(received.db, received.group_id)
    if row is None:
        raise MalformedData("a case record in a group that is not a known case")
    if row.opener_pk != creator_of(received):
        raise NotPermitted("the case group was not created by the case's opener")
    return row


def on_inbox(received: Received) -> str:
    inbox = CaseInbox.decode(received.message.body)
    if received.sender.role != Role.ORGANIZER:
        raise NotPermitted("only an organizer receives case invitations")
    store.record_inbox(received.db, received.group_id, received.sender.identity_pk, inbox.inbox_id)
    return "can receive dispute cases"


def on_record(received: Received) -> str:
    record = CaseRecord.decode(received.message.body)
    opener = creator_of(received)
    if received.message.sender_pk != opener:
        raise NotPermitted("only the opener of a case sends its record")
    row = _case(received)  # known from our own open or from the opener's invitation
    if row.parent_group_id != record.parent_group_id:
        raise NotPermitted("a case record that names another parent group")
    store.set_title(received.db, received.group_id, record.title)
    store.set_sharing(received.db, received.group_id, int(record.sharing))
    status = row.status
    if not row.status_applied:
        status = int(record.status)
        store.set_status(received.db, received.group_id, status, applied=False)
    if row.sharing == Sharing.NONE and record.sharing != Sharing.NONE:
        # A joiner learns of the sharing here: the current status goes out as a line.
        store.set_line_status(received.db, received.group_id, status)
    return f"case: {record.title} ({record.status.label})"


def on_status(received: Received) -> str:
    change = CaseStatusChange.decode(received.message.body)
    row = _case(received)
    if received.sender.role != Role.ORGANIZER:
        raise NotPermitted("only the opener and the organizers change a case's status")
    if change.previous != row.status:
        raise NotPermitted(
            f"a status change from {change.previous.label} while the case is "
            f"{CaseStatus(row.status).label}"
        )
    if not transition_allowed(change.previous, change.status):
        raise NotPermitted(
            f"a case cannot go from {change.previous.label} to {change.status.label}"
        )
    store.set_status(received.db, received.group_id, int(change.status), applied=True)
    if row.sharing != Sharing.NONE:
        store.set_line_status(received.db, received.group_id, int(change.status))
    return status_change_text(change.status, change.note)


def status_change_text(status: CaseStatus, note: str) -> str:
    """The case chat's line for a status change, the same at the sender and everyone:
    the line shows who made it, so the text begins with what changed."""
    shown = f"Status changed to {status.label}"
    return f"{shown}: {note}" if note else shown


def on_sharing(received: Received) -> str:
    sharing = CaseSharing.decode(received.message.body)
    row = _case(received)
    if received.message.sender_pk != row.opener_pk:
        raise NotPermitted("only the opener decides what the group sees of a case")
    store.set_sharing(received.db, received.group_id, int(sharing.sharing))
    if sharing.sharing == Sharing.NONE:
        store.set_line_status(received.db, received.group_id, 0)
        return "stopped sharing the case status with the group"
    if row.sharing == Sharing.NONE:
        store.set_line_status(received.db, received.group_id, row.status)
    if sharing.sharing == Sharing.STATUS_AND_TITLE:
        return "shares the case status and title with the group"
    return "shares the case status with the group (no names)"


def on_line(received: Received) -> str:
    line = CaseLine.decode(received.message.body)
    if received.sender.role != Role.ORGANIZER:
        raise NotPermitted("only an organizer posts a case's status line")
    return line.shown()


register(CONTENT_TYPE_CASE_INBOX, on_inbox)
register(CONTENT_TYPE_CASE_RECORD, on_record)
register(CONTENT_TYPE_CASE_STATUS, on_status)
register(CONTENT_TYPE_CASE_SHARING, on_sharing)
register(CONTENT_TYPE_CASE_LINE, on_line)
