"""Every SQL statement on the document tables (migration 0002): announcements, acks, downloads.

Plain functions over a ``Database``; reads return frozen rows, writes take them. Writes
run in the caller's transaction (the sync transaction for incoming messages, or one the
document service opens). Announcements are stored as their signed encoding and decoded
by the caller, which checks the signatures again; nothing here knows cryptography.
The two reads of ``log_entries`` are the group log as the trust rule and ``doc share``
need it: raw entries, decoded by the caller.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from app.core.database import Database

__all__ = [
    "AcknowledgementRow",
    "AnnouncementRow",
    "DocumentKey",
    "NewAnnouncement",
    "acknowledgements",
    "announcement",
    "announcements",
    "complete_downloads",
    "database_folder",
    "documents_with_id",
    "documents_with_id_prefix",
    "download_complete",
    "forget_download",
    "insert_announcement",
    "log_entries_newest_first",
    "log_entries_upto",
    "mark_downloaded",
    "raise_epoch",
    "record_acknowledgement",
    "record_repost",
    "replace_announcement",
    "trust_announcement",
    "versions",
]


@dataclass(frozen=True)
class DocumentKey:
    """A document as the store names it: its group and its id."""

    group_id: bytes
    document_id: bytes


@dataclass(frozen=True)
class AnnouncementRow:
    """One stored ``doc_announcements`` row, as the service and the handlers read it."""

    id: int
    group_id: bytes
    document_id: bytes
    version: int
    signer_name: str
    trusted: bool
    reason: str  # empty when trusted
    title: str
    blake2b512: bytes
    announcement: bytes  # the encoded, signed announcement (holds the content key)
    epoch: int  # the latest epoch a message carried it in


def _announcement_row(row: Any) -> AnnouncementRow:
    return AnnouncementRow(
        id=int(row[0]),
        group_id=bytes(row[1]),
        document_id=bytes(row[2]),
        version=int(row[3]),
        signer_name=str(row[4]),
        trusted=bool(row[5]),
        reason=str(row[6]),
        title=str(row[7]),
        blake2b512=bytes(row[8]),
        announcement=bytes(row[9]),
        epoch=int(row[10]),
    )


@dataclass(frozen=True)
class NewAnnouncement:
    """Every column of a ``doc_announcements`` row but its id, in table order (the
    order ``insert_announcement`` and ``replace_announcement`` bind them in)."""

    group_id: bytes
    document_id: bytes
    version: int
    signer_pk: bytes
    signer_name: str
    sender_pk: bytes
    trusted: bool
    reason: str
    title: str
    filename: str
    media_type: str
    note: str
    size: int
    published_at: int
    blake2b512: bytes
    sha256: bytes
    blob_id: bytes
    announcement: bytes
    epoch: int
    relay_seq: int
    received_at: int

    def values(self) -> tuple[object, ...]:
        """The column values, ``trusted`` as SQLite's 0 or 1."""
        return tuple(int(v) if isinstance(v, bool) else v for v in astuple(self))


@dataclass(frozen=True)
class AcknowledgementRow:
    """One ``doc_acks`` row: a member's "I have read version n"."""

    group_id: bytes
    document_id: bytes
    version: int
    member_pk: bytes
    member_name: str
    blake2b512: bytes  # the hash the member acknowledged
    acked_at: int  # the member's clock (informational)
    received_at: int


# -- the profile's folder ---------------------------------------------------------------


def database_folder(db: Database) -> Path | None:
    """The folder of the main database file, or ``None`` for one without a file."""
    files = [str(row[2]) for row in db.all("PRAGMA database_list") if row[1] == "main" and row[2]]
    return Path(files[0]).parent if files else None


# -- announcements ----------------------------------------------------------------------


def announcements(db: Database, group_id: bytes) -> list[AnnouncementRow]:
    """Every announcement of a group, by document id, newest version first."""
    rows = db.all(
        "SELECT id, group_id, document_id, version, signer_name, trusted, reason, title,"
        " blake2b512, announcement, epoch FROM doc_announcements WHERE group_id = ?"
        " ORDER BY document_id, version DESC",
        (group_id,),
    )
    return [_announcement_row(row) for row in rows]


def announcement(
    db: Database, group_id: bytes, document_id: bytes, version: int
) -> AnnouncementRow | None:
    """The stored announcement of one version, if any."""
    row = db.one(
        "SELECT id, group_id, document_id, version, signer_name, trusted, reason, title,"
        " blake2b512, announcement, epoch FROM doc_announcements"
        " WHERE group_id = ? AND document_id = ? AND version = ?",
        (group_id, document_id, version),
    )
    return None if row is None else _announcement_row(row)


def versions(db: Database, group_id: bytes, document_id: bytes) -> frozenset[int]:
    """The version numbers announced for a document (empty for an unknown one)."""
    rows = db.all(
        "SELECT version FROM doc_announcements WHERE group_id = ? AND document_id = ?",
        (group_id, document_id),
    )
    return frozenset(int(row[0]) for row in rows)


def documents_with_id(db: Database, document_id: bytes) -> set[DocumentKey]:
    """The groups' documents with exactly this id."""
    rows = db.all(
        "SELECT DISTINCT group_id, document_id FROM doc_announcements WHERE document_id = ?",
        (document_id,),
    )
    return {DocumentKey(bytes(row[0]), bytes(row[1])) for row in rows}


def documents_with_id_prefix(db: Database, hex_prefix: str) -> set[DocumentKey]:
    """The documents whose id in lower-case hex starts with ``hex_prefix`` (lower case)."""
    rows = db.all(
        "SELECT DISTINCT group_id, document_id FROM doc_announcements"
        " WHERE substr(lower(hex(document_id)), 1, ?) = ?",
        (len(hex_prefix), hex_prefix),
    )
    return {DocumentKey(bytes(row[0]), bytes(row[1])) for row in rows}


def insert_announcement(db: Database, new: NewAnnouncement) -> None:
    """Store the first announcement seen of a (group, document, version)."""
    db.execute(
        "INSERT INTO doc_announcements (group_id, document_id, version, signer_pk,"
        " signer_name, sender_pk, trusted, reason, title, filename, media_type, note, size,"
        " published_at, blake2b512, sha256, blob_id, announcement, epoch, relay_seq,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        new.values(),
    )


def replace_announcement(db: Database, row_id: int, new: NewAnnouncement) -> None:
    """Overwrite every column of a row (an organizer's announcement replacing a squatter's)."""
    db.execute(
        "UPDATE doc_announcements SET group_id = ?, document_id = ?, version = ?,"
        " signer_pk = ?, signer_name = ?, sender_pk = ?, trusted = ?, reason = ?, title = ?,"
        " filename = ?, media_type = ?, note = ?, size = ?, published_at = ?, blake2b512 = ?,"
        " sha256 = ?, blob_id = ?, announcement = ?, epoch = ?, relay_seq = ?,"
        " received_at = ? WHERE id = ?",
        (*new.values(), row_id),
    )


def trust_announcement(db: Database, row_id: int, signer_name: str, sender_pk: bytes) -> None:
    """Mark a row trusted: its signer posted it again as an organizer."""
    db.execute(
        "UPDATE doc_announcements SET trusted = 1, reason = '', signer_name = ?,"
        " sender_pk = ? WHERE id = ?",
        (signer_name, sender_pk, row_id),
    )


def record_repost(db: Database, row_id: int, epoch: int, relay_seq: int) -> None:
    """The same announcement came again in ``epoch`` at ``relay_seq``."""
    db.execute(
        "UPDATE doc_announcements SET epoch = max(epoch, ?), relay_seq = ? WHERE id = ?",
        (epoch, relay_seq, row_id),
    )


def raise_epoch(
    db: Database, group_id: bytes, document_id: bytes, version: int, epoch: int
) -> None:
    """We sent the announcement again in ``epoch`` (``doc share``)."""
    db.execute(
        "UPDATE doc_announcements SET epoch = max(epoch, ?)"
        " WHERE group_id = ? AND document_id = ? AND version = ?",
        (epoch, group_id, document_id, version),
    )


# -- acknowledgements -------------------------------------------------------------------


def acknowledgements(db: Database, group_id: bytes, document_id: bytes) -> list[AcknowledgementRow]:
    """Every acknowledgement of a document's versions, oldest first, then by name."""
    rows = db.all(
        "SELECT group_id, document_id, version, member_pk, member_name, blake2b512, acked_at,"
        " received_at FROM doc_acks WHERE group_id = ? AND document_id = ?"
        " ORDER BY acked_at, member_name",
        (group_id, document_id),
    )
    return [
        AcknowledgementRow(
            group_id=bytes(row[0]),
            document_id=bytes(row[1]),
            version=int(row[2]),
            member_pk=bytes(row[3]),
            member_name=str(row[4]),
            blake2b512=bytes(row[5]),
            acked_at=int(row[6]),
            received_at=int(row[7]),
        )
        for row in rows
    ]


def record_acknowledgement(db: Database, ack: AcknowledgementRow) -> None:
    """Store a member's acknowledgement, replacing their earlier one of that version."""
    db.execute(
        "INSERT OR REPLACE INTO doc_acks (group_id, document_id, version, member_pk,"
        " member_name, blake2b512, acked_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        astuple(ack),
    )


# -- downloads --------------------------------------------------------------------------


def download_complete(db: Database, blob_id: bytes) -> bool:
    """Whether the blob was recorded as downloaded and verified."""
    row = db.one("SELECT complete FROM doc_downloads WHERE blob_id = ?", (blob_id,))
    return row is not None and bool(row[0])


def complete_downloads(db: Database) -> frozenset[bytes]:
    """The ids of every blob recorded as downloaded and verified."""
    rows = db.all("SELECT blob_id FROM doc_downloads WHERE complete = 1")
    return frozenset(bytes(row[0]) for row in rows)


def mark_downloaded(db: Database, blob_id: bytes, file_name: str, now: int) -> None:
    """Record a verified blob kept as ``file_name`` in the profile's documents folder."""
    db.execute(
        "INSERT OR REPLACE INTO doc_downloads (blob_id, path, complete, updated_at)"
        " VALUES (?, ?, 1, ?)",
        (blob_id, file_name, now),
    )


def forget_download(db: Database, blob_id: bytes) -> None:
    """Drop the record of a blob (its file was damaged and discarded)."""
    db.execute("DELETE FROM doc_downloads WHERE blob_id = ?", (blob_id,))


# -- the group log, as documents read it ------------------------------------------------


def log_entries_upto(db: Database, group_id: bytes, upto: int) -> list[bytes]:
    """The encoded group log entries 0..``upto``, oldest first."""
    rows = db.all(
        "SELECT entry FROM log_entries WHERE group_id = ? AND seq <= ? ORDER BY seq",
        (group_id, upto),
    )
    return [bytes(row[0]) for row in rows]


def log_entries_newest_first(db: Database, group_id: bytes) -> list[bytes]:
    """Every encoded group log entry, newest first."""
    rows = db.all("SELECT entry FROM log_entries WHERE group_id = ? ORDER BY seq DESC", (group_id,))
    return [bytes(row[0]) for row in rows]
