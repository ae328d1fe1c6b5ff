"""Files attached to a message: content type 6 (protocol 4.1.2).

``bytes16 channel_id | str(65536) text | list(8, Attachment)`` where one Attachment is
``str(255) name | str(127) media_type | u64 size | bytes32 content_key | bytes32 sha256``.
The text may be empty when there is at least one file. Each file is encrypted with the
document stream (``crypto/document/stream.py``: chunked secretstream, Padmé padding) under
a fresh content key; the relay blob id and capability derive from that key exactly as for
a document, so the body names no blob id of its own. The stream's associated data uses the
fixed id ``ATTACHMENT_STREAM_ID`` and version 1, so an attachment blob can never open as a
document version. The receiver checks the signed size and SHA-256 after decrypting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from crypto.content import MAX_TEXT, PARSERS, ContentType
from crypto.document.announce import MAX_FILENAME_BYTES, MAX_MEDIA_TYPE_BYTES, check_file_fields
from crypto.document.hashing import BinaryReader
from crypto.document.stream import (
    CHUNK_SIZE,
    CONTENT_KEY_BYTES,
    DocumentKeys,
    StreamDecryptor,
    chunk_count,
    encrypt_stream,
)
from crypto.errors import BadSignature, MalformedData, UsageError
from crypto.wire import Reader, Writer

__all__ = [
    "ATTACHMENT_STREAM_ID",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_SIZE",
    "Attachment",
    "AttachmentBody",
    "AttachmentOpener",
    "encrypt_attachment",
    "open_attachment",
]

MAX_ATTACHMENTS = 8
MAX_ATTACHMENT_SIZE = 100 * CHUNK_SIZE
"""Largest attached file: 100 MiB (a document may be 126 MiB)."""
ATTACHMENT_STREAM_ID = b"caucus-attach-v1"
_STREAM_VERSION = 1
_SHA256_BYTES = 32


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file: what it is, and the key that fetches and opens its blob."""

    name: str
    media_type: str
    size: int
    content_key: bytes = field(repr=False)
    sha256: bytes

    def __post_init__(self) -> None:
        check_file_fields(self.name, self.media_type, UsageError)
        if not 0 <= self.size <= MAX_ATTACHMENT_SIZE:
            raise UsageError(f"an attachment is at most {MAX_ATTACHMENT_SIZE} bytes")
        if len(self.content_key) != CONTENT_KEY_BYTES:
            raise UsageError("content key must be 32 bytes")
        if len(self.sha256) != _SHA256_BYTES:
            raise UsageError("sha256 must be 32 bytes")

    @property
    def keys(self) -> DocumentKeys:
        return DocumentKeys.from_content_key(self.content_key)

    @property
    def chunk_count(self) -> int:
        return chunk_count(self.size)

    def _write(self, writer: Writer) -> None:
        writer.var(self.name.encode("utf-8"), MAX_FILENAME_BYTES)
        writer.var(self.media_type.encode("ascii"), MAX_MEDIA_TYPE_BYTES)
        writer.u64(self.size).fixed(self.content_key, CONTENT_KEY_BYTES)
        writer.fixed(self.sha256, _SHA256_BYTES)

    @classmethod
    def _read(cls, reader: Reader) -> Attachment:
        name = reader.text(MAX_FILENAME_BYTES)
        media_type = reader.text(MAX_MEDIA_TYPE_BYTES)
        size = reader.u64()
        content_key = reader.fixed(CONTENT_KEY_BYTES)
        sha256 = reader.fixed(_SHA256_BYTES)
        try:
            return cls(name, media_type, size, content_key, sha256)
        except UsageError as exc:
            raise MalformedData(f"attachment: {exc}") from None


@dataclass(frozen=True, slots=True)
class AttachmentBody:
    """A message with 1 to ``MAX_ATTACHMENTS`` files and an optional text."""

    content_type: ClassVar[ContentType] = ContentType.ATTACHMENT

    channel_id: bytes
    text: str
    attachments: tuple[Attachment, ...]

    def __post_init__(self) -> None:
        if len(self.channel_id) != 16:
            raise UsageError("channel id must be 16 bytes")
        if not 1 <= len(self.attachments) <= MAX_ATTACHMENTS:
            raise UsageError(f"a message carries 1 to {MAX_ATTACHMENTS} files")

    def encode(self) -> bytes:
        try:
            raw = self.text.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError("text is not encodable as UTF-8") from None
        if len(raw) > MAX_TEXT:
            raise UsageError(f"text longer than {MAX_TEXT} UTF-8 bytes")
        writer = Writer().fixed(self.channel_id, 16).var(raw, MAX_TEXT)
        writer.u8(len(self.attachments))
        for attachment in self.attachments:
            attachment._write(writer)
        return bytes(writer)

    @classmethod
    def decode(cls, data: bytes) -> AttachmentBody:
        reader = Reader(data)
        channel_id = reader.fixed(16)
        text = reader.text(MAX_TEXT)
        count = reader.u8()
        if not 1 <= count <= MAX_ATTACHMENTS:
            raise MalformedData(f"an attachment message carries 1 to {MAX_ATTACHMENTS} files")
        attachments = tuple(Attachment._read(reader) for _ in range(count))
        reader.finish()
        return cls(channel_id, text, attachments)


def encrypt_attachment(
    content_key: bytes, source: Iterable[bytes] | BinaryReader
) -> Iterator[bytes]:
    """The relay chunks of one attached file, one at a time."""
    return encrypt_stream(content_key, ATTACHMENT_STREAM_ID, _STREAM_VERSION, source)


class AttachmentOpener:
    """Opens the fetched chunks of one attached file, strictly in order: ``feed`` returns
    each chunk's plaintext; ``finish`` raises on truncation, and ``BadSignature`` unless the
    size and SHA-256 are the ones its sender signed. Plaintext handed out before ``finish``
    returns is not yet verified: write it to a temporary file and keep it only after."""

    def __init__(self, attachment: Attachment) -> None:
        self._attachment = attachment
        self._decryptor = StreamDecryptor(
            attachment.content_key, ATTACHMENT_STREAM_ID, _STREAM_VERSION, attachment.size
        )
        self._hasher = hashlib.sha256()

    def feed(self, chunk: bytes) -> bytes:
        plaintext = self._decryptor.feed(chunk)
        self._hasher.update(plaintext)
        return plaintext

    def finish(self) -> None:
        self._decryptor.finish()
        if (
            self._decryptor.size != self._attachment.size
            or self._hasher.digest() != self._attachment.sha256
        ):
            raise BadSignature("the file does not match the size and SHA-256 its sender signed")


def open_attachment(attachment: Attachment, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``AttachmentOpener`` over an iterable of chunks; raises at the end if not verified."""
    opener = AttachmentOpener(attachment)
    for chunk in chunks:
        yield opener.feed(chunk)
    opener.finish()


PARSERS[ContentType.ATTACHMENT] = AttachmentBody.decode
