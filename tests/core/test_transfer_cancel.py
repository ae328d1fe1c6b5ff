"""Progress and cancel for attached files, with three real engines on the real relay:
progress runs up to the file's size; a cancel while uploading leaves no blob on the
relay and no message anywhere; a cancel while downloading leaves no file, not even a
temporary one, and an existing file untouched."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.engine import Engine
from app.core.transfer import Transfer, TransferCancelled, TransferProgress
from tests.core.harness import befriend, run, sync_all, three_members

World = tuple[Engine, Engine, Engine, Path]
SIZE = 5 * (1 << 20) + 123  # several chunks


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with three_members(tmp_path) as (alice, bob, carol):
        yield alice, bob, carol, tmp_path / "relay.db"


def _blobs(relay_db: Path) -> int:
    with sqlite3.connect(relay_db) as conn:
        return int(conn.execute("SELECT count(*) FROM blobs").fetchone()[0])


def _cancel_after(chunks: int, seen: list[TransferProgress]) -> Transfer:
    """A transfer that a person cancels once ``chunks`` chunks went through."""
    transfer: Transfer

    def progress(step: TransferProgress) -> None:
        seen.append(step)
        if len(seen) == chunks:
            transfer.cancel()

    transfer = Transfer(progress)
    return transfer


def test_a_cancelled_upload_sends_nothing_and_leaves_no_blob(world: World, tmp_path: Path) -> None:
    alice, bob, carol, relay_db = world
    big = tmp_path / "rota.bin"
    big.write_bytes(os.urandom(SIZE))
    seen: list[TransferProgress] = []

    async def scenario() -> bytes:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob, carol)
        small = tmp_path / "note.txt"
        small.write_bytes(b"the small one goes first")
        with pytest.raises(TransferCancelled):
            await alice.attachments.send(
                group_id, [small, big], "two files", transfer=_cancel_after(3, seen)
            )
        await sync_all(bob, carol)
        return group_id

    group_id = run(scenario())
    assert len(seen) == 3 and seen[-1].done < seen[-1].total == SIZE + len(
        b"the small one goes first"
    )
    assert _blobs(relay_db) == 0  # the finished small file and the partial big one are gone
    for engine in (alice, bob, carol):
        assert not [m for m in engine.messages(group_id) if m.attachments or m.text == "two files"]


def test_progress_to_the_end_then_a_cancelled_download_writes_nothing(
    world: World, tmp_path: Path
) -> None:
    alice, bob, _, _ = world
    big = tmp_path / "rota.bin"
    big.write_bytes(os.urandom(SIZE))
    sent: list[TransferProgress] = []
    out = tmp_path / "copy.bin"
    out.write_bytes(b"an older copy")

    async def scenario() -> None:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob)
        await alice.attachments.send(group_id, [big], transfer=Transfer(sent.append))
        await bob.sync()
        (message,) = [m for m in bob.messages(group_id) if m.attachments]
        assert message.message_id is not None
        received: list[TransferProgress] = []
        with pytest.raises(TransferCancelled):
            await bob.attachments.get(
                group_id, message.message_id, out, force=True, transfer=_cancel_after(2, received)
            )
        assert len(received) == 2
        full: list[TransferProgress] = []
        await bob.attachments.get(
            group_id, message.message_id, tmp_path / "second.bin", transfer=Transfer(full.append)
        )
        assert full[-1].done == full[-1].total == SIZE

    run(scenario())
    assert sent[-1].done == sent[-1].total == SIZE
    assert [p.done for p in sent] == sorted(p.done for p in sent)
    assert out.read_bytes() == b"an older copy"  # untouched by the cancelled download
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".copy.bin")) == []
    assert (tmp_path / "second.bin").read_bytes() == big.read_bytes()


def test_a_cancelled_document_publish_announces_nothing_and_a_cancelled_export_writes_nothing(
    world: World, tmp_path: Path
) -> None:
    """Documents (issue #12, "documents too"): the same progress and cancel as files."""
    alice, bob, carol, relay_db = world
    big = tmp_path / "agreement.pdf"
    big.write_bytes(os.urandom(SIZE))
    cancelled: list[TransferProgress] = []
    published: list[TransferProgress] = []
    exported: list[TransferProgress] = []
    out = tmp_path / "exports"
    out.mkdir()

    async def scenario() -> None:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob, carol)
        with pytest.raises(TransferCancelled):
            await alice.documents.publish(
                group_id, big, "Agreement", transfer=_cancel_after(2, cancelled)
            )
        await sync_all(bob, carol)
        assert _blobs(relay_db) == 0  # the partial upload was deleted
        for engine in (alice, bob, carol):
            assert engine.documents.list(group_id) == []
        document_id = await alice.documents.publish(
            group_id, big, "Agreement", transfer=Transfer(published.append)
        )
        await bob.sync()
        with pytest.raises(TransferCancelled):
            await bob.documents.get(document_id, out, transfer=_cancel_after(2, []))
        assert list(out.iterdir()) == []  # nothing written, not even the signature
        done = await bob.documents.get(document_id, out, transfer=Transfer(exported.append))
        assert done.path.read_bytes() == big.read_bytes()

    run(scenario())
    assert len(cancelled) == 2 and cancelled[-1].done < cancelled[-1].total
    assert published[-1].done == published[-1].total > SIZE  # ciphertext: tags and padding
    assert [p.done for p in published] == sorted(p.done for p in published)
    assert exported[-1].done == exported[-1].total == published[-1].total
