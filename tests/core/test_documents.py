"""Signed documents end to end: several real profiles against the real relay app
in-process (docs/documents.md). Covers P7 (signed by an organizer at that point of the
log, verifiable with stock minisign) and the document half of P1 and P8."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from app.core.document_blobs import BlobClient, DocumentUnavailable
from app.core.documents import DocumentService, VerificationFailed, verify_file
from app.core.engine import Engine
from app.core.errors import AlreadyExists, NotPermittedHere
from crypto.document.announce import (
    CONTENT_TYPE_ACKNOWLEDGEMENT,
    CONTENT_TYPE_ANNOUNCEMENT,
    Acknowledgement,
    Announcement,
    publish,
)
from crypto.document.hashing import ContentHasher
from crypto.document.minisign import MinisignPublicKey
from crypto.document.stream import chunk_count, ciphertext_size, encrypt_stream
from crypto.group_log import Role
from crypto.key_schedule import cap_hash
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all


@pytest.fixture
def world(tmp_path: Path):
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    engines = [
        make_engine(tmp_path, name, transport, clock, display_name=name.capitalize())
        for name in ("alice", "bob", "carol", "dave")
    ]
    yield app, clock, engines
    for engine in engines:
        run(engine.close())
    app.close()


def docs(engine: Engine) -> DocumentService:
    return engine.documents


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def relay_db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "relay.db", isolation_level=None)


async def member_publishes(
    engine: Engine,
    group_id: bytes,
    source: Path,
    *,
    title: str,
    document_id: bytes,
    version: int,
    signer: Engine | None = None,
    upload: bool = True,
) -> Announcement:
    """Publish with the crypto API directly, skipping the service's organizer check."""
    signer = signer or engine
    hasher = ContentHasher()
    content_key = os.urandom(32)
    chunks = list(
        encrypt_stream(content_key, document_id, version, hasher.tee([source.read_bytes()]))
    )
    ann = publish(
        signer.identity.signing_key,
        group_id=group_id,
        document_id=document_id,
        version=version,
        published_at=engine.context.now(),
        title=title,
        filename=source.name,
        media_type="application/pdf",
        note="",
        digest=hasher.result(),
        content_key=content_key,
    )
    if upload:
        blobs = BlobClient(engine.relay(engine.relay_url))
        keys = ann.keys
        await blobs.create(
            keys.blob_id,
            cap_hash(keys.blob_capability),
            ciphertext_size(ann.size),
            chunk_count(ann.size),
        )
        for index, chunk in enumerate(chunks):
            await blobs.put_chunk(keys.blob_id, keys.blob_capability, index, chunk)
    await engine.send_content(group_id, CONTENT_TYPE_ANNOUNCEMENT, ann.encode(), "a document")
    return ann


def warnings(engine: Engine, group_id: bytes) -> list[str]:
    return [
        row[0]
        for row in engine.db.all("SELECT detail FROM warnings WHERE group_id = ?", (group_id,))
    ]


# -- publish, list, get ----------------------------------------------------------------


def test_publish_list_get_round_trip(world, tmp_path: Path) -> None:
    _, _, (alice, bob, carol, _) = world
    content = os.urandom(3 * 2**20 + 17)
    source = write(tmp_path / "contract.pdf", content)

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        document_id = await docs(alice).publish(
            group_id, source, "Contract 2025", note="Read before Friday"
        )
        await sync_all(bob, carol)
        return group_id, document_id

    group_id, document_id = run(scenario())
    for engine in (alice, bob, carol):
        (view,) = docs(engine).list(group_id)
        assert view.document_id == document_id
        assert (view.title, view.version, view.filename, view.size) == (
            "Contract 2025",
            1,
            "contract.pdf",
            len(content),
        )
        assert view.current.media_type == "application/pdf"
        assert view.current.note == "Read before Friday"
        assert view.current.sha256 == hashlib.sha256(content).hexdigest()
        assert view.trusted
        assert view.trust == "signed by Alice (organizer), verified"
        assert view.signer_name == "Alice"
        assert view.current.signer_fingerprint == alice.fingerprint
        assert all(m.warning is None for m in engine.messages(group_id))
    # The organizer keeps the ciphertext it uploaded; the others have not fetched yet.
    assert docs(alice).list(group_id)[0].current.downloaded
    assert not docs(bob).list(group_id)[0].current.downloaded
    assert "Contract 2025" in bob.messages(group_id)[-1].text

    out = tmp_path / "out"
    out.mkdir()
    exported = run(docs(bob).get(document_id.hex()[:8], out))
    assert exported.path == out / "contract.pdf"
    assert exported.path.read_bytes() == content
    assert exported.signature_path == out / "contract.pdf.minisig"
    assert exported.public_key_path.name.startswith("caucus-")
    assert exported.trust == "signed by Alice (organizer), verified"
    assert docs(bob).list(group_id)[0].current.downloaded
    # At rest the profile holds only ciphertext: the plaintext is nowhere in it (P8).
    stored = list((tmp_path / "bob" / "documents").iterdir())
    assert [p.name for p in stored] == [
        bytes(docs(bob)._stored(document_id, None, None).announcement.keys.blob_id).hex()
    ]
    assert content[:4096] not in stored[0].read_bytes()
    # Getting again decrypts from the local store, without the relay.
    again = run(docs(bob).get(document_id, tmp_path / "again.pdf"))
    assert again.path.read_bytes() == content
    assert again.signature_path == tmp_path / "again.pdf.minisig"


def test_documents_never_reach_the_relay_in_the_clear(world, tmp_path: Path) -> None:
    """P1: title, note, file name and content are canaries the relay never stores."""
    _, _, (alice, bob, _, _) = world
    canary = b"CANARY-document-body-6c1f"
    source = write(tmp_path / "canary-file-name-8d2e.txt", canary * 1000)

    async def scenario() -> None:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        document_id = await docs(alice).publish(
            group_id, source, "canary title 4b7a", note="canary note 19ce"
        )
        await sync_all(bob)
        await docs(bob).fetch(document_id)
        await docs(bob).ack(document_id)

    run(scenario())
    relay_bytes = b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("relay.db")
    )
    for needle in (canary, b"canary title 4b7a", b"canary note 19ce", b"canary-file-name-8d2e"):
        assert needle not in relay_bytes


def test_version_history_and_current_version(world, tmp_path: Path) -> None:
    _, _, (alice, bob, _, _) = world
    first = write(tmp_path / "terms-v1.md", b"# Terms\nversion one\n")
    second = write(tmp_path / "terms-v2.md", b"# Terms\nversion two, longer\n")

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        document_id = await docs(alice).publish(group_id, first, "Terms")
        again = await docs(alice).publish(
            group_id, second, "Terms (revised)", document_id=document_id, note="fixed typo"
        )
        assert again == document_id
        with pytest.raises(AlreadyExists):
            await docs(alice).publish(group_id, second, "Terms", document_id=document_id, version=2)
        await sync_all(bob)
        return group_id, document_id

    group_id, document_id = run(scenario())
    (view,) = docs(bob).list(group_id)
    assert (view.version, view.title, view.filename) == (2, "Terms (revised)", "terms-v2.md")
    assert [(v.version, v.title, v.trusted) for v in view.history] == [
        (2, "Terms (revised)", True),
        (1, "Terms", True),
    ]
    assert run(docs(bob).get(document_id, tmp_path / "current.md")).path.read_bytes() == (
        second.read_bytes()
    )
    old = run(docs(bob).get(document_id, tmp_path / "old.md", version=1))
    assert old.path.read_bytes() == first.read_bytes()


def test_member_who_joins_later_opens_the_current_document(world, tmp_path: Path) -> None:
    _, _, (alice, bob, _, dave) = world
    source = write(tmp_path / "agreement.pdf", os.urandom(50_000))

    async def scenario() -> tuple[bytes, bytes, int, int]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        document_id = await docs(alice).publish(group_id, source, "Agreement")
        nobody_new = await docs(alice).share_current(group_id)
        # Admitting Dave is all it takes: Alice's sync passes the document on by itself.
        await befriend(alice, group_id, dave)
        await sync_all(alice, dave)
        again = await docs(alice).share_current(group_id)  # nobody new since
        await sync_all(bob, dave)
        return group_id, document_id, nobody_new, again

    group_id, document_id, nobody_new, again = run(scenario())
    assert (nobody_new, again) == (0, 0)
    (view,) = docs(dave).list(group_id)
    assert view.trusted and view.trust == "signed by Alice (organizer), verified"
    assert run(docs(dave).get(document_id, tmp_path / "d.pdf")).path.read_bytes() == (
        source.read_bytes()
    )
    # Everyone else saw the same announcement again: no fork, no duplicate version.
    for engine in (alice, bob):
        assert [v.version for v in docs(engine).list(group_id)[0].history] == [1]
        assert warnings(engine, group_id) == []


# -- trust -----------------------------------------------------------------------------


def test_member_cannot_publish_a_document_that_counts_as_an_organizers(
    world, tmp_path: Path
) -> None:
    _, _, (alice, bob, carol, _) = world
    source = write(tmp_path / "fake.pdf", b"pay the organizer's fee to this account")

    async def scenario() -> tuple[bytes, Announcement, Announcement]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        with pytest.raises(NotPermittedHere, match="only organizers"):
            await docs(bob).publish(group_id, source, "Fee")
        # Bob bypasses his own client's check and signs it himself.
        forged = await member_publishes(
            bob, group_id, source, title="Fee", document_id=os.urandom(16), version=1
        )
        # Bob reposts a real announcement of Alice's with his own note: the announcement
        # signature no longer verifies, so every client rejects the message.
        real_id = await docs(alice).publish(group_id, source, "Real")
        await sync_all(bob)
        real = docs(bob)._stored(real_id, None, None).announcement
        tampered = dataclasses.replace(real, note="the account changed, see below")
        await bob.send_content(group_id, CONTENT_TYPE_ANNOUNCEMENT, tampered.encode(), "x")
        await sync_all(alice, carol)
        return group_id, forged, real

    group_id, forged, real = run(scenario())
    for engine in (alice, carol):
        views = {v.document_id: v for v in docs(engine).list(group_id)}
        fake = views[forged.document_id]
        assert not fake.trusted
        assert fake.trust == "not trusted: Bob was not an organizer at that point of the group log"
        assert views[real.document_id].trusted
        assert views[real.document_id].current.note == ""
        assert any("BadSignature" in w for w in warnings(engine, group_id))
        with pytest.raises(NotPermittedHere, match="not trusted"):
            run(docs(engine).get(forged.document_id, tmp_path / f"{engine.name}.pdf"))
        with pytest.raises(NotPermittedHere):
            run(docs(engine).ack(forged.document_id))
    forced = run(docs(carol).get(forged.document_id, tmp_path / "forced.pdf", force=True))
    assert forced.path.read_bytes() == source.read_bytes()
    assert forced.trust.startswith("not trusted")


def test_reposted_organizer_announcement_is_not_trusted_for_newcomers(
    world, tmp_path: Path
) -> None:
    """Rule 3: the signer must be the sender, so a member cannot replay an organizer's
    old announcement to someone who never saw the original."""
    _, _, (alice, bob, carol, dave) = world
    source = write(tmp_path / "old.pdf", b"old terms")

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        await befriend(alice, group_id, carol, role="organizer")
        document_id = await docs(alice).publish(group_id, source, "Old terms")
        await sync_all(bob, carol)
        # Alice leaves, so nobody who signed it can pass it on to Dave.
        await alice.leave(group_id)
        await sync_all(carol, bob)
        await befriend(carol, group_id, dave)
        await sync_all(bob)
        raw = docs(bob)._stored(document_id, None, None).announcement.encode()
        await bob.send_content(group_id, CONTENT_TYPE_ANNOUNCEMENT, raw, "repost")
        await sync_all(carol, dave)
        return group_id, document_id

    group_id, _document_id = run(scenario())
    (seen_by_dave,) = docs(dave).list(group_id)
    assert not seen_by_dave.trusted
    assert seen_by_dave.trust == (
        "not trusted: signed by Alice, who was no longer in the group, and posted by Bob"
    )
    # Carol saw the original: a repost never lowers trust.
    assert docs(carol).list(group_id)[0].trusted


def test_removed_or_demoted_organizer_later_documents_are_not_trusted(
    world, tmp_path: Path
) -> None:
    _, clock, (alice, bob, carol, dave) = world
    source = write(tmp_path / "doc.pdf", b"terms")

    async def scenario() -> tuple[bytes, bytes, Announcement, Announcement]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol, dave)
        await alice.set_role(group_id, bob.fingerprint, Role.ORGANIZER)
        await alice.set_role(group_id, carol.fingerprint, Role.ORGANIZER)
        await sync_all(bob, carol, dave)
        # While organizers, both publish: trusted, and it stays trusted afterwards.
        bobs = await docs(bob).publish(group_id, source, "Bob's terms")
        await docs(carol).publish(group_id, source, "Carol's terms")
        # (Bob syncs first: a removal in the same batch as earlier messages trips
        # GroupSession.mark, which keeps dirty_chains; reported to the engine owner.)
        await sync_all(bob)
        # Bob is removed; he signs a "later" version and Dave posts it for him.
        await alice.remove_member(group_id, bob.fingerprint)
        await sync_all(bob, carol, dave)
        clock.advance(days=1)
        # Alice's client is online: its head confirms the group (docs/protocol.md 7.8).
        await sync_all(alice, dave)
        later = await member_publishes(
            dave,
            group_id,
            source,
            title="Bob's terms v2",
            document_id=bobs,
            version=2,
            signer=bob,
        )
        # Carol is demoted and publishes anyway, bypassing her client's check.
        await alice.set_role(group_id, carol.fingerprint, Role.MEMBER)
        await sync_all(carol)
        with pytest.raises(NotPermittedHere):
            await docs(carol).publish(group_id, source, "Carol again")
        demoted = await member_publishes(
            carol,
            group_id,
            source,
            title="Carol again",
            document_id=os.urandom(16),
            version=1,
        )
        await sync_all(alice, carol, dave)
        return group_id, bobs, later, demoted

    group_id, bobs, later, demoted = run(scenario())
    for engine in (alice, carol, dave):
        views = {v.document_id: v for v in docs(engine).list(group_id)}
        bob_doc = views[bobs]
        # The current version stays Bob's trusted v1; the later v2 is in the history.
        assert (bob_doc.version, bob_doc.trusted) == (1, True)
        assert bob_doc.trust == "signed by Bob (organizer), verified"
        v2 = bob_doc.history[0]
        assert (v2.version, v2.trusted) == (2, False)
        assert v2.trust == (
            "not trusted: signed by Bob, who was no longer in the group, and posted by Dave"
        )
        carol_doc = views[demoted.document_id]
        assert not carol_doc.trusted
        assert carol_doc.trust == (
            "not trusted: Carol was no longer an organizer at that point of the group log"
        )
        carols_first = [v for v in views.values() if v.title == "Carol's terms"]
        assert carols_first[0].trusted
    assert later.signer == bob.identity.public_key


def test_conflicting_announcement_for_the_same_version_is_reported_like_a_fork(
    world, tmp_path: Path
) -> None:
    _, _, (alice, bob, carol, _) = world
    first = write(tmp_path / "a.pdf", b"first contents")
    other = write(tmp_path / "b.pdf", b"other contents")

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        document_id = await docs(alice).publish(group_id, first, "Terms")
        # Alice's own key, same document and version, other contents: equivocation.
        await member_publishes(
            alice, group_id, other, title="Terms", document_id=document_id, version=1
        )
        await sync_all(bob, carol)
        return group_id, document_id

    group_id, _document_id = run(scenario())
    for engine in (bob, carol):
        (view,) = docs(engine).list(group_id)
        assert [v.filename for v in view.history] == ["a.pdf"]
        assert any(
            "ForkDetected" in w and "different announcement" in w
            for w in warnings(engine, group_id)
        )


def test_untrusted_squatter_does_not_block_the_organizers_next_version(
    world, tmp_path: Path
) -> None:
    _, _, (alice, bob, carol, _) = world
    source = write(tmp_path / "terms.pdf", b"terms")

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        document_id = await docs(alice).publish(group_id, source, "Terms")
        await sync_all(bob)
        await member_publishes(
            bob, group_id, source, title="Terms v2 (fake)", document_id=document_id, version=2
        )
        await sync_all(carol)
        # Alice's client does not sync here first: her v2 collides with Bob's.
        await member_publishes(
            alice, group_id, source, title="Terms v2", document_id=document_id, version=2
        )
        await sync_all(alice, carol)
        return group_id, document_id

    group_id, _ = run(scenario())
    for engine in (alice, carol):
        (view,) = docs(engine).list(group_id)
        assert (view.version, view.title, view.trusted) == (2, "Terms v2", True)
        assert warnings(engine, group_id) == []


# -- damaged blobs ---------------------------------------------------------------------


def _published(world, tmp_path: Path, size: int) -> tuple[Engine, Engine, bytes, bytes, Path]:
    _, _, (alice, bob, _, _) = world
    source = write(tmp_path / "big.bin", os.urandom(size))

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        document_id = await docs(alice).publish(group_id, source, "Big")
        await sync_all(bob)
        return group_id, document_id

    group_id, document_id = run(scenario())
    return alice, bob, group_id, document_id, source


def _no_partial_files(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "bob" / "documents"
    assert not folder.exists() or list(folder.iterdir()) == []
    assert engine.db.all("SELECT * FROM doc_downloads") == []


def test_tampered_chunk_on_the_relay_fails_clearly(world, tmp_path: Path) -> None:
    _, bob, group_id, document_id, _ = _published(world, tmp_path, 2 * 2**20 + 5)
    conn = relay_db(tmp_path)
    (data,) = conn.execute("SELECT data FROM chunks WHERE idx = 1").fetchone()
    flipped = bytearray(data)
    flipped[1000] ^= 1
    conn.execute("UPDATE chunks SET data = ? WHERE idx = 1", (bytes(flipped),))
    conn.close()
    with pytest.raises(DocumentUnavailable, match=r"damaged or incomplete.*chunk 1 does not"):
        run(docs(bob).fetch(document_id))
    _no_partial_files(bob, tmp_path)
    with pytest.raises(DocumentUnavailable):
        run(docs(bob).get(document_id, tmp_path / "out.bin"))
    assert not (tmp_path / "out.bin").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.bin")] == []
    assert not docs(bob).list(group_id)[0].current.downloaded


def test_truncated_blob_fails_clearly(world, tmp_path: Path) -> None:
    _, bob, _, document_id, _ = _published(world, tmp_path, 2 * 2**20 + 5)
    conn = relay_db(tmp_path)
    conn.execute("DELETE FROM chunks WHERE idx = 2")
    conn.close()
    with pytest.raises(DocumentUnavailable, match="missing part 3"):
        run(docs(bob).fetch(document_id))
    _no_partial_files(bob, tmp_path)


def test_truncated_last_chunk_fails_clearly(world, tmp_path: Path) -> None:
    _, bob, _, document_id, _ = _published(world, tmp_path, 2 * 2**20 + 5000)
    conn = relay_db(tmp_path)
    (data,) = conn.execute("SELECT data FROM chunks WHERE idx = 2").fetchone()
    conn.execute("UPDATE chunks SET data = ? WHERE idx = 2", (data[:-100],))
    conn.close()
    with pytest.raises(DocumentUnavailable, match="damaged or incomplete"):
        run(docs(bob).fetch(document_id))
    _no_partial_files(bob, tmp_path)


def test_copy_damaged_at_rest_is_discarded_and_fetched_again(world, tmp_path: Path) -> None:
    _, bob, _, document_id, source = _published(world, tmp_path, 300_000)
    run(docs(bob).fetch(document_id))
    (stored,) = (tmp_path / "bob" / "documents").iterdir()
    damaged = bytearray(stored.read_bytes())
    damaged[-50] ^= 0x80
    stored.write_bytes(bytes(damaged))
    with pytest.raises(DocumentUnavailable, match="damaged on disk"):
        run(docs(bob).get(document_id, tmp_path / "out.bin"))
    assert not (tmp_path / "out.bin").exists()
    assert run(docs(bob).get(document_id, tmp_path / "out.bin")).path.read_bytes() == (
        source.read_bytes()
    )


# -- export and minisign ---------------------------------------------------------------


def test_export_verifies_with_stock_minisign_and_ours_and_a_changed_byte_fails_both(
    world, tmp_path: Path, minisign: str
) -> None:
    _, bob, _, document_id, source = _published(world, tmp_path, 1_500_000)
    out = tmp_path / "export"
    out.mkdir()
    exported = run(docs(bob).get(document_id, out / "signed.bin"))
    assert exported.path.read_bytes() == source.read_bytes()

    stock = subprocess.run(
        [minisign, "-Vm", str(exported.path), "-p", str(exported.public_key_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stock.returncode == 0, stock.stderr
    assert "Signature and comment signature verified" in stock.stdout
    assert f"doc={document_id.hex()}" in stock.stdout and 'title="Big"' in stock.stdout

    ours = verify_file(exported.path)  # finds the .pub beside it by key id
    assert ours.public_key_path == exported.public_key_path
    assert (ours.title, ours.filename, ours.version, ours.document_id) == (
        "Big",
        "big.bin",
        1,
        document_id.hex(),
    )
    assert ours == verify_file(exported.path, exported.signature_path, exported.public_key_path)

    data = bytearray(exported.path.read_bytes())
    data[123_456] ^= 1
    exported.path.write_bytes(bytes(data))
    stock = subprocess.run(
        [minisign, "-Vm", str(exported.path), "-p", str(exported.public_key_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stock.returncode != 0
    with pytest.raises(VerificationFailed, match="signature verification failed"):
        verify_file(exported.path)

    # Another identity's key does not verify the (restored) file, for either tool.
    data[123_456] ^= 1
    exported.path.write_bytes(bytes(data))
    assert verify_file(exported.path).key_id == ours.key_id
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(
        MinisignPublicKey.from_identity(bytes(SigningKey.generate().verify_key)).to_text(),
        encoding="utf-8",
    )
    with pytest.raises(VerificationFailed, match="key id"):
        verify_file(exported.path, public_key=stranger)
    stock = subprocess.run(
        [minisign, "-Vm", str(exported.path), "-p", str(stranger)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stock.returncode != 0


# -- acknowledgements ------------------------------------------------------------------


def test_acknowledgements_are_listed_for_organizers(world, tmp_path: Path) -> None:
    _, _, (alice, bob, carol, _) = world
    source = write(tmp_path / "terms.md", b"terms")

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol)
        document_id = await docs(alice).publish(group_id, source, "Terms")
        await sync_all(bob, carol)
        await docs(bob).ack(document_id.hex())
        await docs(alice).publish(group_id, source, "Terms", document_id=document_id)
        await sync_all(carol)
        await docs(carol).ack(document_id.hex())
        await docs(carol).ack(document_id.hex(), version=1)
        await sync_all(alice, bob, carol)
        return group_id, document_id

    group_id, _document_id = run(scenario())
    (view,) = docs(alice).list(group_id)
    by_version = {v.version: [a.name for a in v.acknowledged_by] for v in view.history}
    assert by_version == {2: ["Carol"], 1: ["Bob", "Carol"]}
    assert view.acknowledged_by[0].fingerprint == carol.fingerprint
    # Members see only whether they acknowledged themselves.
    (bobs,) = docs(bob).list(group_id)
    assert all(v.acknowledged_by == () for v in bobs.history)
    assert [v.acknowledged_by_me for v in bobs.history] == [False, True]
    # Acknowledgements are counted on the document, not listed as messages (issue #12):
    # the chat shows the two publications only, as event lines that open the panel.
    shown = alice.messages(group_id)
    assert not any(m.text.startswith("acknowledged") for m in shown)
    assert [(m.kind, m.opens) for m in shown if m.text.startswith("published")] == [
        ("event", "documents"),
        ("event", "documents"),
    ]


def test_acknowledging_other_contents_is_reported_like_a_fork(world, tmp_path: Path) -> None:
    _, _, (alice, bob, _, _) = world
    source = write(tmp_path / "terms.md", b"terms")

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        document_id = await docs(alice).publish(group_id, source, "Terms")
        await sync_all(bob)
        bogus = Acknowledgement(document_id, 1, bytes(64))
        await bob.send_content(group_id, CONTENT_TYPE_ACKNOWLEDGEMENT, bogus.encode(), "ack")
        await sync_all(alice)
        return group_id, document_id

    group_id, _ = run(scenario())
    assert docs(alice).list(group_id)[0].acknowledged_by == ()
    assert any("acknowledged other contents" in w for w in warnings(alice, group_id))


def test_document_ids_resolve_by_prefix_and_bad_inputs_are_clear(world, tmp_path: Path) -> None:
    _, _, (alice, _, _, _) = world
    source = write(tmp_path / "terms.md", b"terms")

    async def scenario() -> bytes:
        group_id = await alice.create_group("Freelancers")
        return await docs(alice).publish(group_id, source, "Terms")

    document_id = run(scenario())
    service = docs(alice)
    assert service.resolve(document_id.hex()[:8].upper())[1] == document_id
    assert service.document(document_id).title == "Terms"
    with pytest.raises(Exception, match="at least 8"):
        service.resolve("abc")
    with pytest.raises(Exception, match="no document"):
        service.resolve("00000000")
    group_id = service.resolve(document_id)[0]
    for bad_title in ("", "x" * 300, "invoice\u202efdp.exe"):
        with pytest.raises(Exception, match="title"):
            run(service.publish(group_id, source, bad_title))
    with pytest.raises(Exception, match="no file"):
        run(service.publish(group_id, tmp_path / "missing.pdf", "T"))
    assert len(service.list(group_id)) == 1


# -- memory ----------------------------------------------------------------------------

BIG = 100 * 2**20 + 12_345
ROOT = Path(__file__).resolve().parents[2]


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def memory_probe(folder: str) -> None:
    """Run in a fresh interpreter: publish and get BIG bytes, print memory growth as JSON.

    RSS growth is the kernel's peak (VmHWM, reset through /proc/self/clear_refs after
    setup) minus the RSS then; tracemalloc gives the Python allocations' peak."""
    import gc
    import time
    import tracemalloc

    tmp = Path(folder)

    async def scenario() -> dict[str, float]:
        clock = Clock()
        app = make_relay(tmp, clock)
        transport = httpx.ASGITransport(app=app)
        alice, bob = (make_engine(tmp, n, transport, clock) for n in ("alice", "bob"))
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        source = tmp / "big.bin"
        expected = hashlib.sha256()
        with source.open("wb") as out:
            for i in range(-(-BIG // 2**20)):
                piece = hashlib.shake_256(i.to_bytes(4, "big")).digest(min(2**20, BIG - i * 2**20))
                expected.update(piece)
                out.write(piece)
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")
        base = _status_bytes("VmRSS")
        tracemalloc.start()
        started = time.perf_counter()
        document_id = await alice.documents.publish(group_id, source, "Big")
        await bob.sync()
        exported = await bob.documents.get(document_id, tmp / "out.bin")
        elapsed = time.perf_counter() - started
        _, traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        growth = _status_bytes("VmHWM") - base
        got = hashlib.sha256()
        with exported.path.open("rb") as handle:
            while piece := handle.read(2**20):
                got.update(piece)
        for engine in (alice, bob):
            await engine.close()
        app.close()
        return {
            "rss_growth": growth,
            "traced_peak": traced,
            "seconds": elapsed,
            "equal": float(got.digest() == expected.digest()),
        }

    print(json.dumps(run(scenario())))


@pytest.mark.slow
def test_100_mib_round_trip_with_bounded_memory(tmp_path: Path) -> None:
    clear_refs = Path("/proc/self/clear_refs")
    if not clear_refs.exists() or not os.access(clear_refs, os.W_OK):
        pytest.skip("needs Linux /proc/self/clear_refs to reset the peak RSS")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from tests.core.test_documents import memory_probe; memory_probe({str(tmp_path)!r})",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["equal"] == 1.0
    # A whole copy would be 100 MiB; a few 1 MiB chunks in flight are the budget.
    assert measured["traced_peak"] < 24 * 2**20, measured
    assert measured["rss_growth"] < 48 * 2**20, measured
