"""The document store (app/core/store/documents.py) on a real SQLCipher profile file: what
the document tests do not reach through the service (every column bound in its place, an
epoch that never goes down, id prefixes, the order of acknowledgements, downloads)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from app.core.database import Database
from app.core.profile import DB_NAME
from app.core.store import documents as store

GROUP = bytes(range(16))
OTHER_GROUP = bytes(range(1, 17))
DOC = bytes.fromhex("0123456789abcdef0123456789abcdef")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / DB_NAME, bytes(32), create=True)
    try:
        yield database
    finally:
        database.close()


def new(version: int = 1, *, trusted: bool = False, seed: int = 1) -> store.NewAnnouncement:
    """An announcement row whose every value differs from every other column's."""
    return store.NewAnnouncement(
        group_id=GROUP,
        document_id=DOC,
        version=version,
        signer_pk=bytes([seed]) * 32,
        signer_name=f"signer {seed}",
        sender_pk=bytes([seed + 1]) * 32,
        trusted=trusted,
        reason="" if trusted else f"reason {seed}",
        title=f"title {seed}",
        filename=f"file{seed}.pdf",
        media_type="application/pdf",
        note=f"note {seed}",
        size=1000 + seed,
        published_at=2000 + seed,
        blake2b512=bytes([seed + 2]) * 64,
        sha256=bytes([seed + 3]) * 32,
        blob_id=bytes([seed + 4]) * 16,
        announcement=bytes([seed + 5]) * 100,
        epoch=3000 + seed,
        relay_seq=4000 + seed,
        received_at=5000 + seed,
    )


def every_column(db: Database, row_id: int) -> tuple[object, ...]:
    """The row as stored, in table order without its id (checked apart from the store)."""
    row = db.one("SELECT * FROM doc_announcements WHERE id = ?", (row_id,))
    return tuple(bytes(v) if isinstance(v, bytes | memoryview) else v for v in row[1:])


def test_an_inserted_and_a_replaced_announcement_keep_every_column_in_its_place(
    db: Database,
) -> None:
    first = new(seed=1)
    with db.transaction():
        store.insert_announcement(db, first)
    stored = store.announcement(db, GROUP, DOC, 1)
    assert stored is not None
    assert every_column(db, stored.id) == first.values()
    assert (stored.signer_name, stored.trusted, stored.reason, stored.title) == (
        "signer 1",
        False,
        "reason 1",
        "title 1",
    )
    assert (stored.blake2b512, stored.announcement, stored.epoch) == (
        first.blake2b512,
        first.announcement,
        first.epoch,
    )

    second = new(seed=7, trusted=True)
    with db.transaction():
        store.replace_announcement(db, stored.id, second)
    replaced = store.announcement(db, GROUP, DOC, 1)
    assert replaced is not None and replaced.id == stored.id
    assert every_column(db, stored.id) == second.values()
    assert replaced.trusted and replaced.reason == ""


def test_a_version_is_stored_once_per_group_and_document(db: Database) -> None:
    with db.transaction():
        store.insert_announcement(db, new(1))
    with pytest.raises(sqlcipher.IntegrityError, match="UNIQUE"), db.transaction():
        store.insert_announcement(db, new(1, seed=9))
    assert store.versions(db, GROUP, DOC) == {1}


def test_an_epoch_never_goes_down_and_a_repost_moves_the_relay_position(db: Database) -> None:
    with db.transaction():
        store.insert_announcement(db, replace(new(1), epoch=10, relay_seq=5))
    row = store.announcement(db, GROUP, DOC, 1)
    assert row is not None
    with db.transaction():
        store.record_repost(db, row.id, epoch=4, relay_seq=8)
        store.raise_epoch(db, GROUP, DOC, 1, epoch=7)
    after = store.announcement(db, GROUP, DOC, 1)
    assert after is not None and after.epoch == 10
    assert db.one("SELECT relay_seq FROM doc_announcements WHERE id = ?", (row.id,))[0] == 8
    with db.transaction():
        store.raise_epoch(db, GROUP, DOC, 1, epoch=12)
        store.record_repost(db, row.id, epoch=11, relay_seq=9)
    raised = store.announcement(db, GROUP, DOC, 1)
    assert raised is not None and raised.epoch == 12


def test_trusting_a_row_clears_its_reason_and_names_the_poster(db: Database) -> None:
    with db.transaction():
        store.insert_announcement(db, new(1))
    row = store.announcement(db, GROUP, DOC, 1)
    assert row is not None and not row.trusted
    with db.transaction():
        store.trust_announcement(db, row.id, "Alice", b"\xaa" * 32)
    trusted = store.announcement(db, GROUP, DOC, 1)
    assert trusted is not None
    assert (trusted.trusted, trusted.reason, trusted.signer_name) == (True, "", "Alice")
    sender = db.one("SELECT sender_pk FROM doc_announcements WHERE id = ?", (row.id,))[0]
    assert bytes(sender) == b"\xaa" * 32


def test_announcements_come_by_document_then_newest_version_first(db: Database) -> None:
    later_doc = bytes.fromhex("ff" * 16)
    with db.transaction():
        for version in (1, 3, 2):
            store.insert_announcement(db, replace(new(version), document_id=later_doc))
            store.insert_announcement(db, new(version))
        store.insert_announcement(db, replace(new(1), group_id=OTHER_GROUP))
    listed = [(row.document_id, row.version) for row in store.announcements(db, GROUP)]
    assert listed == [(DOC, 3), (DOC, 2), (DOC, 1), (later_doc, 3), (later_doc, 2), (later_doc, 1)]
    assert store.versions(db, GROUP, DOC) == {1, 2, 3}
    assert store.versions(db, GROUP, bytes(16)) == frozenset()


def test_documents_are_found_by_id_or_by_a_hex_prefix_in_every_group(db: Database) -> None:
    near = bytes.fromhex("0123456789abcdee" + "00" * 8)  # shares 15 hex digits with DOC
    with db.transaction():
        store.insert_announcement(db, new(1))
        store.insert_announcement(db, new(2))
        store.insert_announcement(db, replace(new(1), group_id=OTHER_GROUP))
        store.insert_announcement(db, replace(new(1), document_id=near))
    both_groups = {store.DocumentKey(GROUP, DOC), store.DocumentKey(OTHER_GROUP, DOC)}
    assert store.documents_with_id(db, DOC) == both_groups
    assert store.documents_with_id_prefix(db, "0123456789abcdef") == both_groups
    assert store.documents_with_id_prefix(db, "0123456789abcde") == {
        *both_groups,
        store.DocumentKey(GROUP, near),
    }
    assert store.documents_with_id_prefix(db, "0123456789abcdee") == {
        store.DocumentKey(GROUP, near)
    }
    assert store.documents_with_id_prefix(db, "1123456789") == set()


def test_acknowledgements_replace_a_members_earlier_one_and_come_oldest_first(
    db: Database,
) -> None:
    def ack(member: int, name: str, acked_at: int, version: int = 1) -> store.AcknowledgementRow:
        return store.AcknowledgementRow(
            GROUP, DOC, version, bytes([member]) * 32, name, b"\x01" * 64, acked_at, 99
        )

    with db.transaction():
        store.record_acknowledgement(db, ack(1, "Carol", 50))
        store.record_acknowledgement(db, ack(2, "Bob", 20))
        store.record_acknowledgement(db, ack(3, "Alice", 50))
        store.record_acknowledgement(db, ack(2, "Bob", 20, version=2))
        store.record_acknowledgement(db, ack(1, "Carol", 10))  # Carol again, earlier clock
    listed = store.acknowledgements(db, GROUP, DOC)
    assert [(a.member_name, a.version, a.acked_at) for a in listed] == [
        ("Carol", 1, 10),
        ("Bob", 1, 20),
        ("Bob", 2, 20),
        ("Alice", 1, 50),
    ]
    assert listed[0] == ack(1, "Carol", 10)
    assert store.acknowledgements(db, OTHER_GROUP, DOC) == []


def test_downloads_are_complete_once_marked_and_gone_once_forgotten(db: Database) -> None:
    blob, unfinished = b"\x05" * 16, b"\x06" * 16
    assert not store.download_complete(db, blob)
    with db.transaction():
        store.mark_downloaded(db, blob, blob.hex(), 123)
        db.execute(
            "INSERT INTO doc_downloads (blob_id, path, complete, updated_at) VALUES (?, ?, 0, 1)",
            (unfinished, unfinished.hex()),
        )
    assert store.download_complete(db, blob)
    assert not store.download_complete(db, unfinished)
    assert store.complete_downloads(db) == {blob}
    with db.transaction():
        store.mark_downloaded(db, unfinished, unfinished.hex(), 124)
        store.forget_download(db, blob)
    assert not store.download_complete(db, blob)
    assert store.complete_downloads(db) == {unfinished}


def test_the_database_folder_is_the_profile_files_folder(db: Database, tmp_path: Path) -> None:
    assert store.database_folder(db) == tmp_path
