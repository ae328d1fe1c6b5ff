"""Every SQL statement of message attachments (migrations/0017_attachments.sql). Write
functions join the caller's transaction; ``summaries`` reads no key (views use it)."""

from __future__ import annotations

from collections import defaultdict

from app.core.database import Database
from crypto.attachment import Attachment, AttachmentBody
from crypto.content import ContentType
from crypto.errors import MalformedData

__all__ = ["index_message", "index_unindexed", "load", "summaries"]


def index_message(db: Database, row_id: int, attachments: tuple[Attachment, ...]) -> None:
    """Record the files of message row ``row_id`` (again: no change)."""
    db.executemany(
        "INSERT OR IGNORE INTO attachments (message_row, position, name, media_type, size,"
        " content_key, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (row_id, i, a.name, a.media_type, a.size, a.content_key, a.sha256)
            for i, a in enumerate(attachments)
        ],
    )


def index_unindexed(db: Database, group_id: bytes, sender_pk: bytes) -> None:
    """Record the files of ``sender_pk``'s attachment messages in the group that have none
    recorded yet (ours, queued while the relay was down), from their stored bodies."""
    rows = db.all(
        "SELECT id, body FROM messages WHERE group_id = ? AND sender_pk = ? AND content_type = ?"
        " AND deleted = 0 AND id NOT IN (SELECT message_row FROM attachments)",
        (group_id, sender_pk, int(ContentType.ATTACHMENT)),
    )
    for row_id, body in rows:
        try:
            decoded = AttachmentBody.decode(bytes(body))
        except MalformedData:
            continue
        index_message(db, int(row_id), decoded.attachments)


def load(db: Database, row_id: int) -> list[Attachment]:
    """The files of a message row, keys included, in their order."""
    rows = db.all(
        "SELECT name, media_type, size, content_key, sha256 FROM attachments"
        " WHERE message_row = ? ORDER BY position",
        (row_id,),
    )
    return [Attachment(str(n), str(t), int(s), bytes(k), bytes(h)) for n, t, s, k, h in rows]


def summaries(db: Database, row_ids: list[int]) -> dict[int, list[tuple[str, int, str]]]:
    """Per message row: (name, size, media type) of each file, in order (no keys)."""
    found: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
    for start in range(0, len(row_ids), 500):
        chunk = row_ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = db.all(
            "SELECT message_row, name, size, media_type FROM attachments"  # noqa: S608 - marks
            f" WHERE message_row IN ({marks}) ORDER BY message_row, position",
            tuple(chunk),
        )
        for row_id, name, size, media_type in rows:
            found[int(row_id)].append((str(name), int(size), str(media_type)))
    return dict(found)
