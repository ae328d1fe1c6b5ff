"""Document announcements and acknowledgements (group message content types 32 and 33).

An announcement tells the group that an organizer published version ``n`` of a document:
what it is, how to fetch and open its blob (the content key), and two signatures by the
organizer's identity key: the minisign signature that travels with an exported file, and
an announcement signature over every field.  ``verify_announcement`` checks both; whether
the signer was an organizer at that point of the group log is the engine's check.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import nacl.signing

from crypto.document import minisign
from crypto.document.hashing import (
    BLAKE2B512_BYTES,
    SHA256_BYTES,
    ContentDigest,
    ContentHasher,
)
from crypto.document.stream import (
    CONTENT_KEY_BYTES,
    DOCUMENT_ID_BYTES,
    MAX_DOCUMENT_SIZE,
    DocumentKeys,
    StreamDecryptor,
    chunk_count,
)
from crypto.errors import (
    BadSignature,
    CaucusError,
    ForkDetected,
    MalformedData,
    UnsupportedVersion,
    UsageError,
)
from crypto.identity import sign_framed, verify_framed
from crypto.wire import Reader, Writer

__all__ = [
    "ACKNOWLEDGEMENT_VERSION",
    "ANNOUNCEMENT_VERSION",
    "CONTENT_TYPE_ACKNOWLEDGEMENT",
    "CONTENT_TYPE_ANNOUNCEMENT",
    "MAX_FILENAME_BYTES",
    "MAX_MEDIA_TYPE_BYTES",
    "MAX_NOTE_BYTES",
    "MAX_TITLE_BYTES",
    "TRUSTED_COMMENT_TAG",
    "Acknowledgement",
    "Announcement",
    "Export",
    "acknowledge",
    "check_acknowledgement",
    "check_content",
    "check_file_fields",
    "export",
    "open_document",
    "publish",
    "trusted_comment",
    "verify_announcement",
]

CONTENT_TYPE_ANNOUNCEMENT = 32
CONTENT_TYPE_ACKNOWLEDGEMENT = 33
ANNOUNCEMENT_VERSION = 1
ACKNOWLEDGEMENT_VERSION = 1
GROUP_ID_BYTES = 16
MAX_TITLE_BYTES = 256
MAX_FILENAME_BYTES = 255
MAX_MEDIA_TYPE_BYTES = 127
MAX_NOTE_BYTES = 8192
TRUSTED_COMMENT_TAG = "caucus-document/1"

# Characters that would let a title or file name lie about itself when shown: C0/C1
# controls, line and paragraph separators, and the bidirectional overrides and isolates
# (the "invoice\u202efdp.exe" trick).  A note may also hold newlines and tabs.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BAD_NAME_CHARS = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_BAD_NOTE_CHARS = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}"
)


def _check(condition: bool, error: type[CaucusError], message: str) -> None:
    if not condition:
        raise error(message)


def _utf8_len(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return -1


def check_file_fields(filename: str, media_type: str, error: type[CaucusError]) -> None:
    """A file name and media type as documents and attachments (4.1.2) carry them."""
    _check(
        1 <= _utf8_len(filename) <= MAX_FILENAME_BYTES, error, "file name must be 1 to 255 bytes"
    )
    _check(
        not _BAD_NAME_CHARS.search(filename)
        and "/" not in filename
        and "\\" not in filename
        and filename not in (".", ".."),
        error,
        "file name must be a plain name without separators or control characters",
    )
    _check(
        len(media_type) <= MAX_MEDIA_TYPE_BYTES and _MEDIA_TYPE.fullmatch(media_type) is not None,
        error,
        "media type must be type/subtype",
    )


def _check_text_fields(
    title: str, filename: str, media_type: str, note: str, error: type[CaucusError]
) -> None:
    _check(1 <= _utf8_len(title) <= MAX_TITLE_BYTES, error, "title must be 1 to 256 bytes")
    _check(not _BAD_NAME_CHARS.search(title), error, "title holds a control character")
    check_file_fields(filename, media_type, error)
    _check(0 <= _utf8_len(note) <= MAX_NOTE_BYTES, error, "note must be at most 8192 bytes")
    _check(not _BAD_NOTE_CHARS.search(note), error, "note holds a control character")


def trusted_comment(
    group_id: bytes,
    document_id: bytes,
    version: int,
    published_at: int,
    filename: str,
    title: str,
) -> str:
    """The minisign trusted comment of a Caucus document signature (docs/documents.md).

    ``caucus-document/1 group=<hex> doc=<hex> version=<n> ts=<ms> file=<json> title=<json>``:
    file name and title are JSON strings, so quotes inside them cannot shift a field.
    """
    return (
        f"{TRUSTED_COMMENT_TAG} group={group_id.hex()} doc={document_id.hex()}"
        f" version={version} ts={published_at}"
        f" file={json.dumps(filename, ensure_ascii=False)}"
        f" title={json.dumps(title, ensure_ascii=False)}"
    )


@dataclass(frozen=True)
class Announcement:
    """Version ``version`` of document ``document_id``, published in group ``group_id``.

    ``file_signature`` and ``comment_signature`` are the two Ed25519 signatures of the
    minisign signature file; ``signature`` covers every preceding field of the encoding.
    """

    group_id: bytes
    document_id: bytes
    version: int
    published_at: int
    title: str
    filename: str
    media_type: str
    note: str
    size: int
    blake2b512: bytes
    sha256: bytes
    content_key: bytes = field(repr=False)
    signer: bytes
    file_signature: bytes
    comment_signature: bytes
    signature: bytes

    @property
    def chunk_count(self) -> int:
        """Relay chunks of the blob, fixed by ``size`` and the chunk size."""
        return chunk_count(self.size)

    @property
    def keys(self) -> DocumentKeys:
        """Stream key, blob id and blob capability, all derived from the content key."""
        return DocumentKeys.from_content_key(self.content_key)

    @property
    def digest(self) -> ContentDigest:
        return ContentDigest(self.size, self.blake2b512, self.sha256)

    @property
    def trusted_comment(self) -> str:
        return trusted_comment(
            self.group_id,
            self.document_id,
            self.version,
            self.published_at,
            self.filename,
            self.title,
        )

    def minisign_signature(
        self, untrusted_comment: str | None = None
    ) -> minisign.MinisignSignature:
        """The signature as minisign sees it (for ``verify`` and for export)."""
        if untrusted_comment is None:
            untrusted_comment = (
                f"caucus document {self.document_id.hex()} version {self.version}"
                f" signed by {minisign.key_id_hex(minisign.minisign_key_id(self.signer))}"
            )
        return minisign.MinisignSignature(
            key_id=minisign.minisign_key_id(self.signer),
            signature=self.file_signature,
            trusted_comment=self.trusted_comment,
            global_signature=self.comment_signature,
            untrusted_comment=untrusted_comment,
        )

    def _signed_part(self) -> bytes:
        return bytes(
            Writer()
            .u8(ANNOUNCEMENT_VERSION)
            .fixed(self.group_id, GROUP_ID_BYTES)
            .fixed(self.document_id, DOCUMENT_ID_BYTES)
            .u32(self.version)
            .u64(self.published_at)
            .text(self.title, MAX_TITLE_BYTES)
            .text(self.filename, MAX_FILENAME_BYTES)
            .text(self.media_type, MAX_MEDIA_TYPE_BYTES)
            .text(self.note, MAX_NOTE_BYTES)
            .u64(self.size)
            .fixed(self.blake2b512, BLAKE2B512_BYTES)
            .fixed(self.sha256, SHA256_BYTES)
            .fixed(self.content_key, CONTENT_KEY_BYTES)
            .fixed(self.signer, 32)
            .fixed(self.file_signature, 64)
            .fixed(self.comment_signature, 64)
        )

    def encode(self) -> bytes:
        return self._signed_part() + bytes(Writer().fixed(self.signature, 64))

    @classmethod
    def decode(cls, data: bytes) -> Announcement:
        """Parse strictly and verify both signatures: never returns an unchecked value."""
        reader = Reader(data)
        version = reader.u8()
        if version != ANNOUNCEMENT_VERSION:
            raise UnsupportedVersion(f"document announcement version {version}")
        announcement = cls(
            group_id=reader.fixed(GROUP_ID_BYTES),
            document_id=reader.fixed(DOCUMENT_ID_BYTES),
            version=reader.u32(),
            published_at=reader.u64(),
            title=reader.text(MAX_TITLE_BYTES),
            filename=reader.text(MAX_FILENAME_BYTES),
            media_type=reader.text(MAX_MEDIA_TYPE_BYTES),
            note=reader.text(MAX_NOTE_BYTES),
            size=reader.u64(),
            blake2b512=reader.fixed(BLAKE2B512_BYTES),
            sha256=reader.fixed(SHA256_BYTES),
            content_key=reader.fixed(CONTENT_KEY_BYTES),
            signer=reader.fixed(32),
            file_signature=reader.fixed(64),
            comment_signature=reader.fixed(64),
            signature=reader.fixed(64),
        )
        reader.finish()
        verify_announcement(announcement)
        return announcement


def _check_fields(ann: Announcement, error: type[CaucusError]) -> None:
    _check(len(ann.group_id) == GROUP_ID_BYTES, error, "group id must be 16 bytes")
    _check(len(ann.document_id) == DOCUMENT_ID_BYTES, error, "document id must be 16 bytes")
    _check(1 <= ann.version <= 0xFFFFFFFF, error, "document version must be at least 1")
    _check(0 <= ann.published_at <= 0xFFFFFFFFFFFFFFFF, error, "published_at out of range")
    _check_text_fields(ann.title, ann.filename, ann.media_type, ann.note, error)
    _check(0 <= ann.size <= MAX_DOCUMENT_SIZE, error, "document size out of range")
    _check(len(ann.blake2b512) == BLAKE2B512_BYTES, error, "BLAKE2b-512 must be 64 bytes")
    _check(len(ann.sha256) == SHA256_BYTES, error, "SHA-256 must be 32 bytes")
    _check(len(ann.content_key) == CONTENT_KEY_BYTES, error, "content key must be 32 bytes")
    _check(len(ann.signer) == 32, error, "signer key must be 32 bytes")
    _check(
        len(ann.file_signature) == 64
        and len(ann.comment_signature) == 64
        and len(ann.signature) == 64,
        error,
        "signatures must be 64 bytes",
    )


def verify_announcement(ann: Announcement) -> None:
    """Raise unless every field is well formed and both signatures verify under ``signer``.

    Checks the announcement signature over all fields and the minisign signature (file
    prehash and trusted comment), exactly what ``minisign -Vm FILE -p KEY.pub`` will check
    on the export.  It does not check that the signer may publish: that is the engine's
    rule (an organizer at this point of the group log).
    """
    _check_fields(ann, MalformedData)
    verify_framed(ann.signer, ann.signature, "document-announcement", ann._signed_part())
    minisign.verify(ann.signer, ann.blake2b512, ann.minisign_signature(untrusted_comment=""))


def publish(
    signing_key: nacl.signing.SigningKey,
    *,
    group_id: bytes,
    document_id: bytes,
    version: int,
    published_at: int,
    title: str,
    filename: str,
    media_type: str,
    note: str,
    digest: ContentDigest,
    content_key: bytes,
) -> Announcement:
    """Sign a document version: the minisign signature and the announcement signature."""
    unsigned = Announcement(
        group_id=bytes(group_id),
        document_id=bytes(document_id),
        version=version,
        published_at=published_at,
        title=title,
        filename=filename,
        media_type=media_type,
        note=note,
        size=digest.size,
        blake2b512=digest.blake2b512,
        sha256=digest.sha256,
        content_key=bytes(content_key),
        signer=bytes(signing_key.verify_key),
        file_signature=bytes(64),
        comment_signature=bytes(64),
        signature=bytes(64),
    )
    _check_fields(unsigned, UsageError)
    file_sig = minisign.sign_prehashed(signing_key, digest.blake2b512, unsigned.trusted_comment, "")
    signed = dataclasses.replace(
        unsigned,
        file_signature=file_sig.signature,
        comment_signature=file_sig.global_signature,
    )
    return dataclasses.replace(
        signed,
        signature=sign_framed(signing_key, "document-announcement", signed._signed_part()),
    )


def check_content(ann: Announcement, digest: ContentDigest) -> None:
    """Raise ``BadSignature`` unless the plaintext is exactly the signed one."""
    if digest.size != ann.size:
        raise BadSignature(f"document is {digest.size} bytes, the signed one {ann.size}")
    if digest.blake2b512 != ann.blake2b512 or digest.sha256 != ann.sha256:
        raise BadSignature("document content does not match its signed hash")


def open_document(ann: Announcement, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decrypt a fetched blob chunk by chunk and check it against the signed hash.

    Raises at the end (after the last plaintext piece) on truncation or a hash mismatch,
    so the caller writes to a temporary file and keeps it only if iteration completes.
    """
    decryptor = StreamDecryptor(ann.content_key, ann.document_id, ann.version, ann.size)
    return _open(ann, decryptor, chunks)


def _open(
    ann: Announcement, decryptor: StreamDecryptor, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    hasher = ContentHasher()
    for chunk in chunks:
        plaintext = decryptor.feed(chunk)
        hasher.update(plaintext)
        yield plaintext
    decryptor.finish()
    check_content(ann, hasher.result())


@dataclass(frozen=True)
class Export:
    """What "Export with signature" writes next to each other in one folder."""

    filename: str
    signature_filename: str
    signature_text: str
    public_key_filename: str
    public_key_text: str


def export(ann: Announcement) -> Export:
    """``FILE``, ``FILE.minisig`` and the signer's ``caucus-<KEYID>.pub`` (contents of the
    last two; the file itself is written by streaming ``open_document``)."""
    key = minisign.MinisignPublicKey.from_identity(ann.signer)
    return Export(
        filename=ann.filename,
        signature_filename=ann.filename + ".minisig",
        signature_text=ann.minisign_signature().to_text(),
        public_key_filename=f"caucus-{minisign.key_id_hex(key.key_id)}.pub",
        public_key_text=key.to_text(),
    )


@dataclass(frozen=True)
class Acknowledgement:
    """An "I have read" note: version ``version`` of ``document_id``, whose BLAKE2b-512 is this.

    Sent as a group message (content type 33), whose signature says who acknowledged.
    """

    document_id: bytes
    version: int
    blake2b512: bytes

    def encode(self) -> bytes:
        return bytes(
            Writer()
            .u8(ACKNOWLEDGEMENT_VERSION)
            .fixed(self.document_id, DOCUMENT_ID_BYTES)
            .u32(self.version)
            .fixed(self.blake2b512, BLAKE2B512_BYTES)
        )

    @classmethod
    def decode(cls, data: bytes) -> Acknowledgement:
        reader = Reader(data)
        format_version = reader.u8()
        if format_version != ACKNOWLEDGEMENT_VERSION:
            raise UnsupportedVersion(f"acknowledgement version {format_version}")
        ack = cls(
            document_id=reader.fixed(DOCUMENT_ID_BYTES),
            version=reader.u32(),
            blake2b512=reader.fixed(BLAKE2B512_BYTES),
        )
        reader.finish()
        if ack.version < 1:
            raise MalformedData("document version must be at least 1")
        return ack


def acknowledge(ann: Announcement) -> Acknowledgement:
    return Acknowledgement(ann.document_id, ann.version, ann.blake2b512)


def check_acknowledgement(ack: Acknowledgement, ann: Announcement) -> None:
    """Raise unless ``ack`` is for exactly this announcement's document, version and content.

    Same document and version with another hash means two members were shown different
    contents for one version: ``ForkDetected``.
    """
    if ack.document_id != ann.document_id or ack.version != ann.version:
        raise UsageError("acknowledgement is for another document or version")
    if ack.blake2b512 != ann.blake2b512:
        raise ForkDetected("acknowledged content differs from the announced content")
