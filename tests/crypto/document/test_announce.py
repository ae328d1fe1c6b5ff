"""Announcements and acknowledgements: strict encoding, both signatures, replay onto another
document or version, forged signers, content checks after download, export."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.document import announce, minisign
from crypto.document.announce import (
    Acknowledgement,
    Announcement,
    acknowledge,
    check_acknowledgement,
    check_content,
    export,
    open_document,
    trusted_comment,
    verify_announcement,
)
from crypto.document.hashing import ContentDigest, ContentHasher, hash_file, read_pieces
from crypto.document.stream import CHUNK_SIZE, encrypt_stream
from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    ForkDetected,
    MalformedData,
    RemoteError,
    UnsupportedVersion,
    UsageError,
)
from crypto.identity import sign_framed
from tests.crypto.document.support import (
    DOCUMENT_ID,
    GROUP_ID,
    MEMBER,
    ORGANIZER,
    fixed,
    make_announcement,
    pattern,
)

ANN = make_announcement()
ENCODED = ANN.encode()


def resign(ann: Announcement, key=ORGANIZER) -> Announcement:
    """Recompute all three signatures over whatever fields ``ann`` holds (no field checks),
    as a signer who wanted to publish bad fields would."""
    sig = minisign.sign_prehashed(key, ann.blake2b512, ann.trusted_comment, "")
    ann = dataclasses.replace(
        ann, file_signature=sig.signature, comment_signature=sig.global_signature
    )
    return dataclasses.replace(
        ann, signature=sign_framed(key, "document-announcement", ann._signed_part())
    )


def test_round_trip_and_decode_verifies() -> None:
    assert Announcement.decode(ENCODED) == ANN
    verify_announcement(ANN)
    assert ANN.signer == bytes(ORGANIZER.verify_key)
    assert ANN.chunk_count == 1 and ANN.keys.blob_id == ANN.keys.blob_id
    assert ANN.content_key.hex() not in repr(ANN) and str(ANN.content_key) not in repr(ANN)


def test_layout() -> None:
    # u8 version | 16 group | 16 doc | u32 version | u64 ts | 4 str | u64 size | 64 | 32 | 32
    # | 32 signer | 64 | 64 | 64
    strings = sum(4 + len(s.encode()) for s in (ANN.title, ANN.filename, ANN.media_type, ANN.note))
    assert len(ENCODED) == 1 + 16 + 16 + 4 + 8 + strings + 8 + 64 + 32 + 32 + 32 + 3 * 64
    assert ENCODED[0] == announce.ANNOUNCEMENT_VERSION
    assert ENCODED[1:17] == GROUP_ID and ENCODED[17:33] == DOCUMENT_ID
    assert ENCODED[-64:] == ANN.signature


def test_trusted_comment_format() -> None:
    assert ANN.trusted_comment == (
        f"caucus-document/1 group={GROUP_ID.hex()} doc={DOCUMENT_ID.hex()} version=3"
        ' ts=1767225600000 file="contract.pdf" title="Contract template"'
    )
    quoted = trusted_comment(GROUP_ID, DOCUMENT_ID, 1, 0, 'a" title="b', "ümlaut \\ tab\t")
    assert quoted.endswith('file="a\\" title=\\"b" title="ümlaut \\\\ tab\\t"')


def test_every_byte_of_the_encoding_is_protected() -> None:
    for i in range(len(ENCODED)):
        changed = ENCODED[:i] + bytes([ENCODED[i] ^ 0x01]) + ENCODED[i + 1 :]
        with pytest.raises(RemoteError):
            Announcement.decode(changed)


def test_truncated_or_extended_encoding_fails() -> None:
    for data in (ENCODED[:-1], ENCODED + b"\x00", b"", ENCODED[:1]):
        with pytest.raises(MalformedData):
            Announcement.decode(data)
    with pytest.raises(UnsupportedVersion):
        Announcement.decode(b"\x02" + ENCODED[1:])


# --- signatures ----------------------------------------------------------------------------


def test_a_member_signing_is_a_valid_signature_the_engine_must_judge() -> None:
    by_member = make_announcement(signing_key=MEMBER)
    verify_announcement(by_member)
    assert by_member.signer == bytes(MEMBER.verify_key) != ANN.signer


def test_forged_signer_fails() -> None:
    """A member who claims the organizer signed: every signature is checked under signer."""
    claimed = dataclasses.replace(make_announcement(signing_key=MEMBER), signer=ANN.signer)
    with pytest.raises(BadSignature):
        verify_announcement(claimed)
    with pytest.raises(BadSignature):
        verify_announcement(resign(claimed, MEMBER))


def test_member_reusing_the_organizers_minisign_signature_fails() -> None:
    """Copy the organizer's file signatures, change the note, re-sign the announcement
    with the member's key but keep signer = organizer: the announcement signature fails;
    set signer = member: the minisign signature fails."""
    changed = dataclasses.replace(ANN, note="Sign the petition at evil.example")
    forged = dataclasses.replace(
        changed, signature=sign_framed(MEMBER, "document-announcement", changed._signed_part())
    )
    with pytest.raises(BadSignature):
        verify_announcement(forged)
    as_member = dataclasses.replace(changed, signer=bytes(MEMBER.verify_key))
    as_member = dataclasses.replace(
        as_member,
        signature=sign_framed(MEMBER, "document-announcement", as_member._signed_part()),
    )
    with pytest.raises(BadSignature, match=r"key id|signature"):
        verify_announcement(as_member)


@pytest.mark.parametrize(
    "change",
    [
        {"version": 4},
        {"version": 2},
        {"document_id": fixed("other document", 16)},
        {"group_id": fixed("other group", 16)},
        {"title": "Contract template (final)"},
        {"filename": "contract-final.pdf"},
        {"published_at": 1_767_225_600_001},
    ],
)
def test_signature_cannot_be_replayed_onto_another_document_or_version(change) -> None:
    """Even with a valid announcement signature (the organizer's own key signing the outer
    layer), the minisign signature of doc/version A does not verify as doc/version B."""
    replayed = dataclasses.replace(ANN, **change)
    replayed = dataclasses.replace(
        replayed,
        signature=sign_framed(ORGANIZER, "document-announcement", replayed._signed_part()),
    )
    with pytest.raises(BadSignature, match="trusted comment"):
        verify_announcement(replayed)


@pytest.mark.parametrize(
    "change",
    [
        {"note": "changed"},
        {"media_type": "text/html"},
        {"content_key": fixed("other key")},
        {"sha256": bytes(32)},
        {"size": 1},
    ],
)
def test_fields_outside_the_trusted_comment_are_covered_by_the_announcement_signature(
    change,
) -> None:
    with pytest.raises(BadSignature):
        verify_announcement(dataclasses.replace(ANN, **change))


def test_trusted_comment_tampering_fails() -> None:
    comment_sig = bytes([ANN.comment_signature[0] ^ 1]) + ANN.comment_signature[1:]
    tampered = resign_outer(dataclasses.replace(ANN, comment_signature=comment_sig))
    with pytest.raises(BadSignature, match="trusted comment"):
        verify_announcement(tampered)


def resign_outer(ann: Announcement) -> Announcement:
    return dataclasses.replace(
        ann, signature=sign_framed(ORGANIZER, "document-announcement", ann._signed_part())
    )


def test_file_signature_over_other_content_fails() -> None:
    tampered = resign_outer(dataclasses.replace(ANN, blake2b512=bytes(64)))
    with pytest.raises(BadSignature, match=r"^signature does not verify"):
        verify_announcement(tampered)


# --- field rules ---------------------------------------------------------------------------

BAD_FIELDS: list[dict[str, Any]] = [
    {"title": ""},
    {"title": "t" * 257},
    {"title": "two\nlines"},
    {"title": "invoice\u202efdp.exe"},
    {"filename": ""},
    {"filename": "../etc/passwd"},
    {"filename": "dir\\file"},
    {"filename": ".."},
    {"filename": "evil\u202egnp.exe"},
    {"filename": "f" * 256},
    {"media_type": "pdf"},
    {"media_type": "application/pdf; charset=x"},
    {"media_type": "a/" + "b" * 130},
    {"note": "bell\x07"},
    {"note": "n" * 8193},
    {"version": 0},
    {"size": 128 * 2**20},
    {"group_id": b"short"},
    {"content_key": b"short"},
]


@pytest.mark.parametrize("change", BAD_FIELDS)
def test_publish_refuses_bad_fields(change) -> None:
    fields: dict[str, Any] = {
        "group_id": GROUP_ID,
        "document_id": DOCUMENT_ID,
        "version": 1,
        "published_at": 0,
        "title": "t",
        "filename": "f.pdf",
        "media_type": "application/pdf",
        "note": "",
        "digest": ANN.digest,
        "content_key": fixed("k"),
    }
    change = dict(change)
    if "size" in change:
        fields["digest"] = ContentDigest(change.pop("size"), bytes(64), bytes(32))
    fields.update(change)
    with pytest.raises(UsageError):
        announce.publish(ORGANIZER, **fields)


def encode_unchecked(ann: Announcement) -> bytes:
    """The announcement layout written by hand, with no length limits, so a test can
    produce encodings our Writer refuses to make."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return len(raw).to_bytes(4, "big") + raw

    return b"".join(
        [
            b"\x01",
            ann.group_id,
            ann.document_id,
            ann.version.to_bytes(4, "big"),
            ann.published_at.to_bytes(8, "big"),
            text(ann.title),
            text(ann.filename),
            text(ann.media_type),
            text(ann.note),
            ann.size.to_bytes(8, "big"),
            ann.blake2b512,
            ann.sha256,
            ann.content_key,
            ann.signer,
            ann.file_signature,
            ann.comment_signature,
            ann.signature,
        ]
    )


def test_hand_written_layout_matches() -> None:
    assert encode_unchecked(ANN) == ENCODED


@pytest.mark.parametrize(
    "change", [c for c in BAD_FIELDS if "content_key" not in c and "group_id" not in c]
)
def test_decode_refuses_bad_fields_even_when_signed(change) -> None:
    bad = dataclasses.replace(ANN, **change)
    sig = minisign.sign_prehashed(ORGANIZER, bad.blake2b512, bad.trusted_comment, "")
    bad = dataclasses.replace(
        bad, file_signature=sig.signature, comment_signature=sig.global_signature
    )
    signed = encode_unchecked(bad)[:-64]
    data = signed + sign_framed(ORGANIZER, "document-announcement", signed)
    with pytest.raises(MalformedData):
        Announcement.decode(data)


def test_note_may_hold_newlines_and_tabs() -> None:
    ann = resign(dataclasses.replace(ANN, note="line one\n\tline two"))
    assert Announcement.decode(ann.encode()).note == "line one\n\tline two"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=800))
def test_random_bytes_raise_only_remote_errors(data: bytes) -> None:
    for decode in (Announcement.decode, Acknowledgement.decode):
        with contextlib.suppress(RemoteError):
            decode(data)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, 10_000), value=st.integers(1, 255), cut=st.integers(0, 3))
def test_mutations_raise_only_remote_errors(position: int, value: int, cut: int) -> None:
    i = position % len(ENCODED)
    mutated = ENCODED[:i] + bytes([ENCODED[i] ^ value]) + ENCODED[i + 1 + cut :]
    with pytest.raises(RemoteError):
        Announcement.decode(mutated)


# --- content after download ----------------------------------------------------------------


def test_open_document_checks_the_signed_hash() -> None:
    data = pattern(2 * CHUNK_SIZE + 3)
    ann = make_announcement(data)
    chunks = list(encrypt_stream(ann.content_key, ann.document_id, ann.version, io.BytesIO(data)))
    assert b"".join(open_document(ann, chunks)) == data
    other = pattern(2 * CHUNK_SIZE + 3, "other")
    wrong = list(encrypt_stream(ann.content_key, ann.document_id, ann.version, io.BytesIO(other)))
    with pytest.raises(BadSignature, match="signed hash"):
        b"".join(open_document(ann, wrong))
    with pytest.raises(DecryptionFailed, match="truncated"):
        b"".join(open_document(ann, chunks[:2]))


def test_check_content() -> None:
    check_content(ANN, ANN.digest)
    with pytest.raises(BadSignature):
        check_content(ANN, dataclasses.replace(ANN.digest, size=ANN.size + 1))
    with pytest.raises(BadSignature):
        check_content(ANN, dataclasses.replace(ANN.digest, sha256=bytes(32)))


def test_hash_while_encrypting_gives_the_digest_to_publish() -> None:
    data = pattern(CHUNK_SIZE + 9)
    hasher = ContentHasher()
    key = fixed("key")
    chunks = list(encrypt_stream(key, DOCUMENT_ID, 1, hasher.tee(read_pieces(io.BytesIO(data)))))
    assert hasher.result() == hash_file(io.BytesIO(data))
    ann = make_announcement(data, version=1, content_key=key)
    assert b"".join(open_document(ann, chunks)) == data


# --- export --------------------------------------------------------------------------------


def test_export_verifies_with_our_minisign_parser() -> None:
    files = export(ANN)
    assert files.filename == "contract.pdf"
    assert files.signature_filename == "contract.pdf.minisig"
    key = minisign.parse_public_key(files.public_key_text)
    assert files.public_key_filename == f"caucus-{minisign.key_id_hex(key.key_id)}.pub"
    sig = minisign.parse_signature(files.signature_text)
    assert sig.trusted_comment == ANN.trusted_comment
    minisign.verify(key, ANN.blake2b512, sig)
    assert key.public_key == ANN.signer


# --- acknowledgements ----------------------------------------------------------------------


def test_acknowledgement_round_trip_and_check() -> None:
    ack = acknowledge(ANN)
    data = ack.encode()
    assert data == b"\x01" + DOCUMENT_ID + (3).to_bytes(4, "big") + ANN.blake2b512
    assert Acknowledgement.decode(data) == ack
    check_acknowledgement(ack, ANN)
    with pytest.raises(ForkDetected):
        check_acknowledgement(dataclasses.replace(ack, blake2b512=bytes(64)), ANN)
    with pytest.raises(UsageError):
        check_acknowledgement(dataclasses.replace(ack, version=4), ANN)


def test_acknowledgement_strict_decoding() -> None:
    data = acknowledge(ANN).encode()
    with pytest.raises(UnsupportedVersion):
        Acknowledgement.decode(b"\x02" + data[1:])
    for bad in (data[:-1], data + b"\x00", b"\x01" + DOCUMENT_ID + bytes(4) + bytes(64)):
        with pytest.raises(MalformedData):
            Acknowledgement.decode(bad)


def test_content_types_are_in_the_document_range() -> None:
    assert 32 <= announce.CONTENT_TYPE_ANNOUNCEMENT <= 47
    assert 32 <= announce.CONTENT_TYPE_ACKNOWLEDGEMENT <= 47
