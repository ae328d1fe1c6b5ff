"""Every SQL statement on ``messages`` and its full-text index ``messages_fts``
(migrations/0001_init.sql).

A message's ``status`` is a ``MessageStatus``: ours go pending -> sent (or failed, and
pending again on a retry), everyone else's arrive as received; a change is an ``UPDATE``
guarded by the old status ``MESSAGE_TRANSITIONS`` allows. ``MessageRow`` holds the
columns a view shows (never ``item``, ``body`` or ``prev_sent``), so the desktop app's
read-only connection may use every read here. Write functions join the caller's
transaction.

The full-text index ``messages_fts`` is written here, not by a trigger (migration 0016):
``queue_message`` indexes its row at once; ``insert_message`` leaves the text to
``index_texts``, which the sync calls once per fetched batch in the same transaction
(``GroupSession.flush``), so a batch's texts go into FTS5 in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from app.core.database import Database
from app.core.message_kinds import LOG_LINE
from app.core.status import MESSAGE_TRANSITIONS, MessageStatus, move
from crypto.case import CONTENT_TYPE_CASE_INBOX, CONTENT_TYPE_CASE_RECORD
from crypto.content import ContentType
from crypto.document.announce import CONTENT_TYPE_ACKNOWLEDGEMENT

__all__ = [
    "MessageRow",
    "OutboxRow",
    "count_messages",
    "count_pending",
    "count_unread",
    "index_texts",
    "insert_message",
    "load_message",
    "load_messages",
    "load_outbox",
    "mark_acked",
    "mark_echo_sent",
    "pending_group_ids",
    "pending_ids",
    "queue_message",
    "seal_message",
    "search",
    "set_status",
    "unseal_message",
]

_COLUMNS: Final = (
    "id",
    "group_id",
    "channel_id",
    "message_id",
    "sender_pk",
    "sender_name",
    "text",
    "sent_at",
    "status",
    "warning",
    "content_type",
    "reply_to",
    "edited_at",
    "deleted",
)

# Acknowledgements of a document are counted on the document ("read by 5 of 12"), not
# shown as messages of their own (docs/documents.md).
# Edits, deletions and reactions change the message they name and are not listed either,
# nor organizers' case inbox announcements and case records (docs/union-tools.md),
# which are upkeep.
_NOT_LISTED: Final = (
    CONTENT_TYPE_ACKNOWLEDGEMENT,
    ContentType.EDIT,
    ContentType.DELETE,
    ContentType.REACTION,
    CONTENT_TYPE_CASE_INBOX,
    CONTENT_TYPE_CASE_RECORD,
)
_LISTED: Final = f"content_type NOT IN ({', '.join(str(int(t)) for t in _NOT_LISTED)})"
_SELECT: Final = f"SELECT {', '.join(_COLUMNS)} FROM messages"  # noqa: S608
_SELECT_FTS: Final = (
    f"SELECT {', '.join('m.' + c for c in _COLUMNS)}"  # noqa: S608
    " FROM messages_fts f JOIN messages m ON m.id = f.rowid"
)

# A message of ours that comes back in a sync was acknowledged: pending -> sent.
_ECHO_FROM: Final = MessageStatus.PENDING
_ECHO_TO: Final = move(MESSAGE_TRANSITIONS, _ECHO_FROM, MessageStatus.SENT)


@dataclass(frozen=True)
class MessageRow:
    """What a view shows of one message."""

    row_id: int
    group_id: bytes
    channel_id: bytes
    message_id: bytes | None
    sender_pk: bytes
    sender_name: str
    text: str
    sent_at: int
    status: MessageStatus
    warning: str | None
    content_type: int = 1
    reply_to: bytes | None = None
    edited_at: int | None = None
    deleted: bool = False


@dataclass(frozen=True)
class OutboxRow:
    """What sending one of our messages needs (the engine's connection only)."""

    group_id: bytes
    content_type: int
    body: bytes
    sent_at: int
    item: bytes | None  # the sealed item, kept until the relay acknowledges it
    status: MessageStatus


def _row(row: Any) -> MessageRow:
    return MessageRow(
        row_id=row[0],
        group_id=row[1],
        channel_id=row[2],
        message_id=row[3],
        sender_pk=row[4],
        sender_name=row[5],
        text=row[6],
        sent_at=row[7],
        status=MessageStatus(row[8]),
        warning=row[9],
        content_type=int(row[10]),
        reply_to=bytes(row[11]) if row[11] is not None else None,
        edited_at=int(row[12]) if row[12] is not None else None,
        deleted=bool(row[13]),
    )


# -- writes -----------------------------------------------------------------------------


def insert_message(
    db: Database,
    group_id: bytes,
    channel_id: bytes,
    message_id: bytes | None,
    sender_pk: bytes,
    sender_name: str,
    sent_at: int,
    received_at: int,
    content_type: int,
    body: bytes,
    text: str,
    status: MessageStatus,
    relay_seq: int,
    warning: str | None,
) -> int | None:
    """A verified message from the group mailbox, in one statement; its row id, or None
    when a message with this id is already stored (a duplicate). Its text is not in the
    full-text index until ``index_texts`` (in the same transaction)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO messages (group_id, channel_id, message_id, sender_pk,"
        " sender_name, sent_at, received_at, content_type, body, text, status, relay_seq,"
        " warning) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            group_id,
            channel_id,
            message_id,
            sender_pk,
            sender_name,
            sent_at,
            received_at,
            content_type,
            body,
            text,
            status.value,
            relay_seq,
            warning,
        ),
    )
    if cursor.rowcount == 0:
        return None
    row_id: int = cursor.lastrowid
    return row_id


def index_texts(db: Database, rows: list[tuple[int, str]]) -> None:
    """Put the texts of newly stored messages, as ``(row_id, text)``, into the full-text
    index: one statement for a whole batch (each row exactly once)."""
    if rows:
        db.executemany("INSERT INTO messages_fts (rowid, text) VALUES (?, ?)", rows)


def mark_echo_sent(db: Database, message_id: bytes, relay_seq: int) -> bool:
    """One of our own messages came back in a sync: a pending row becomes sent (its sealed
    item is kept while its epoch is live, for a re-post after a relay rewind: see
    ``relay_marks``). True when we hold the message (pending, or already sent)."""
    cursor = db.execute(
        "UPDATE messages SET status = ?, relay_seq = ?, prev_sent = NULL"
        " WHERE message_id = ? AND status IN (?, ?)",
        (_ECHO_TO.value, relay_seq, message_id, _ECHO_FROM.value, _ECHO_TO.value),
    )
    return bool(cursor.rowcount)


# -- reads ------------------------------------------------------------------------------


def load_message(db: Database, row_id: int) -> MessageRow | None:
    row = db.one(f"{_SELECT} WHERE id = ?", (row_id,))
    return _row(row) if row is not None else None


def load_messages(
    db: Database,
    group_id: bytes,
    channel_id: bytes | None = None,
    *,
    limit: int | None = None,
    before: int | None = None,
) -> list[MessageRow]:
    """Messages oldest first; ``limit`` takes the newest ones, ``before`` a row id bound."""
    sql = f"{_SELECT} WHERE group_id = ? AND {_LISTED}"
    params: list[Any] = [group_id]
    if channel_id is not None:
        sql += " AND channel_id = ?"
        params.append(channel_id)
    if before is not None:
        sql += " AND id < ?"
        params.append(before)
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = db.all(sql, tuple(params))
    rows.reverse()
    return [_row(row) for row in rows]


def count_messages(db: Database, group_id: bytes, channel_id: bytes | None = None) -> int:
    if channel_id is None:
        row = db.one("SELECT count(*) FROM messages WHERE group_id = ?", (group_id,))
    else:
        row = db.one(
            "SELECT count(*) FROM messages WHERE group_id = ? AND channel_id = ?",
            (group_id, channel_id),
        )
    return int(row[0])


_COUNT_UNREAD: Final = (
    "SELECT count(*) FROM messages WHERE group_id = ? AND id > ? AND sender_pk != ?"
)


def count_unread(db: Database, group_id: bytes, after_row: int, me: bytes) -> int:
    """Messages of others in the group stored after row ``after_row`` (lines about the
    group itself, a join or a rename, are not news to count)."""
    sql = f"{_COUNT_UNREAD} AND {_LISTED} AND content_type != {LOG_LINE}"
    row = db.one(sql, (group_id, after_row, me))
    return int(row[0])


def search(
    db: Database, query: str, group_id: bytes | None = None, limit: int = 200
) -> list[MessageRow]:
    """Full-text search (FTS5), newest first; each word of ``query`` must match, taken
    literally (no FTS5 operators)."""
    terms = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
    if not terms:
        return []
    rows = db.all(
        f"{_SELECT_FTS} WHERE messages_fts MATCH ? AND (? IS NULL OR m.group_id = ?)"
        f" AND m.{_LISTED} ORDER BY m.id DESC LIMIT ?",
        (terms, group_id, group_id, limit),
    )
    return [_row(row) for row in rows]


# -- our outbox -------------------------------------------------------------------------


def queue_message(
    db: Database,
    group_id: bytes,
    channel_id: bytes,
    sender_pk: bytes,
    sender_name: str,
    now: int,
    content_type: int,
    body: bytes,
    text: str,
) -> int:
    """One of our messages, pending (not sealed yet); its row id."""
    cursor = db.execute(
        "INSERT INTO messages (group_id, channel_id, sender_pk, sender_name, sent_at,"
        " received_at, content_type, body, text, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            group_id,
            channel_id,
            sender_pk,
            sender_name,
            now,
            now,
            content_type,
            body,
            text,
            MessageStatus.PENDING.value,
        ),
    )
    row_id: int = cursor.lastrowid
    index_texts(db, [(row_id, text)])
    return row_id


def load_outbox(db: Database, row_id: int) -> OutboxRow | None:
    row = db.one(
        "SELECT group_id, content_type, body, sent_at, item, status FROM messages WHERE id = ?",
        (row_id,),
    )
    if row is None:
        return None
    return OutboxRow(
        bytes(row[0]),
        int(row[1]),
        bytes(row[2]),
        int(row[3]),
        bytes(row[4]) if row[4] is not None else None,
        MessageStatus(row[5]),
    )


def pending_group_ids(db: Database) -> list[bytes]:
    """Groups with a message waiting to go out."""
    return [
        bytes(row[0])
        for row in db.all(
            "SELECT DISTINCT group_id FROM messages WHERE status = ? ORDER BY group_id",
            (MessageStatus.PENDING.value,),
        )
    ]


def pending_ids(db: Database, group_id: bytes, upto: int | None = None) -> list[int]:
    """The group's pending messages in row order, up to row ``upto`` when given."""
    return [
        int(row[0])
        for row in db.all(
            "SELECT id FROM messages WHERE group_id = ? AND status = ?"
            " AND (? IS NULL OR id <= ?) ORDER BY id",
            (group_id, MessageStatus.PENDING.value, upto, upto),
        )
    ]


def count_pending(db: Database) -> int:
    row = db.one("SELECT count(*) FROM messages WHERE status = ?", (MessageStatus.PENDING.value,))
    return int(row[0])


def set_status(db: Database, row_id: int, old: MessageStatus, new: MessageStatus) -> bool:
    """Move a message along ``MESSAGE_TRANSITIONS`` (``UsageError`` if the table forbids
    it); False when its stored status was not ``old`` (nothing written)."""
    move(MESSAGE_TRANSITIONS, old, new)
    cursor = db.execute(
        "UPDATE messages SET status = ? WHERE id = ? AND status = ?",
        (new.value, row_id, old.value),
    )
    return bool(cursor.rowcount)


def seal_message(
    db: Database,
    row_id: int,
    item: bytes,
    message_id: bytes,
    prev_sent: bytes,
    epoch: int | None = None,
) -> None:
    """The sealed item of a pending message, with our previous message hash at sealing
    and the epoch it was sealed in (a removal learned late names what it exposed)."""
    db.execute(
        "UPDATE messages SET item = ?, message_id = ?, prev_sent = ?, sealed_epoch = ?"
        " WHERE id = ?",
        (item, message_id, prev_sent, epoch, row_id),
    )


def unseal_message(db: Database, group_id: bytes, row_id: int) -> None:
    """Forget a sealing that never landed (its epoch ended): our previous-message hash
    goes back to what it was, and the message waits to be sealed again."""
    db.execute(
        "UPDATE groups SET last_sent = (SELECT prev_sent FROM messages WHERE id = ?)"
        " WHERE group_id = ?",
        (row_id, group_id),
    )
    db.execute(
        "UPDATE messages SET item = NULL, message_id = NULL, prev_sent = NULL,"
        " sealed_epoch = NULL WHERE id = ?",
        (row_id,),
    )


def mark_acked(db: Database, row_id: int, relay_seq: int) -> bool:
    """The relay acknowledged our pending message: sent (its sealed item is kept while its
    epoch is live, for a re-post after a relay rewind: see ``relay_marks``)."""
    cursor = db.execute(
        "UPDATE messages SET status = ?, relay_seq = ?, prev_sent = NULL"
        " WHERE id = ? AND status = ?",
        (_ECHO_TO.value, relay_seq, row_id, _ECHO_FROM.value),
    )
    return bool(cursor.rowcount)
