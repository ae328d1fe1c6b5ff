"""The link's records blob (protocol 8.4): the history and group records a first device
hands to a new device, encrypted under a fresh key and carried by the relay as an opaque
blob; the sealed link bundle names it with ``RecordsRef``.

``RecordsRef = bytes32 content_key | u64 size | bytes32 sha256``. The blob is the document
stream (``crypto/document/stream.py``: chunked secretstream, Padmé padding) under the
content key, with the fixed stream id ``LINK_RECORDS_STREAM_ID`` and version 1, so a
records blob never opens as a document version or an attached file (and neither opens as
records). Its relay blob id and capability derive from the content key as for a document.
The new device checks the size and SHA-256 the bundle (signed by the identity key and
sealed to the new device) names, so a relay that swaps, truncates or damages the blob is
caught (``BadSignature``/``DecryptionFailed``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from crypto.document.stream import (
    CHUNK_SIZE,
    CONTENT_KEY_BYTES,
    DocumentKeys,
    StreamDecryptor,
    chunk_count,
    encrypt_stream,
    new_content_key,
)
from crypto.errors import BadSignature, MalformedData, UsageError
from crypto.wire import Reader, Writer

__all__ = [
    "LINK_RECORDS_STREAM_ID",
    "MAX_LINK_RECORDS",
    "RecordsOpener",
    "RecordsRef",
    "encrypt_records",
]

LINK_RECORDS_STREAM_ID = b"caucus-linkrec-1"
MAX_LINK_RECORDS = 64 * CHUNK_SIZE
"""Largest records payload: 64 MiB of plaintext (newest messages first above it)."""
_STREAM_VERSION = 1
_SHA256_BYTES = 32


@dataclass(frozen=True)
class RecordsRef:
    """What the bundle says about the records blob: its key, plaintext size and SHA-256."""

    content_key: bytes = field(repr=False)
    size: int
    sha256: bytes

    def __post_init__(self) -> None:
        if len(self.content_key) != CONTENT_KEY_BYTES:
            raise UsageError("content key must be 32 bytes")
        if not 0 <= self.size <= MAX_LINK_RECORDS:
            raise UsageError(f"link records are at most {MAX_LINK_RECORDS} bytes")
        if len(self.sha256) != _SHA256_BYTES:
            raise UsageError("sha256 must be 32 bytes")

    @property
    def keys(self) -> DocumentKeys:
        return DocumentKeys.from_content_key(self.content_key)

    @property
    def chunk_count(self) -> int:
        return chunk_count(self.size)

    def write(self, writer: Writer) -> Writer:
        writer.fixed(self.content_key, CONTENT_KEY_BYTES).u64(self.size)
        return writer.fixed(self.sha256, _SHA256_BYTES)

    @classmethod
    def read(cls, reader: Reader) -> RecordsRef:
        content_key = reader.fixed(CONTENT_KEY_BYTES)
        size = reader.u64()
        sha256 = reader.fixed(_SHA256_BYTES)
        try:
            return cls(content_key, size, sha256)
        except UsageError as exc:
            raise MalformedData(f"link records: {exc}") from None


def encrypt_records(
    payload: bytes, rng: Callable[[int], bytes]
) -> tuple[RecordsRef, Iterator[bytes]]:
    """A fresh key for ``payload``, the reference naming it, and its relay chunks."""
    if len(payload) > MAX_LINK_RECORDS:
        raise UsageError(f"link records are at most {MAX_LINK_RECORDS} bytes")
    key = new_content_key(rng)
    ref = RecordsRef(key, len(payload), hashlib.sha256(payload).digest())
    return ref, encrypt_stream(key, LINK_RECORDS_STREAM_ID, _STREAM_VERSION, [payload])


class RecordsOpener:
    """Opens the fetched chunks of a records blob in order; ``finish`` returns the payload
    only if the stream is whole and its size and SHA-256 are the bundle's (``BadSignature``,
    ``DecryptionFailed``, ``MalformedData``)."""

    def __init__(self, ref: RecordsRef) -> None:
        self._ref = ref
        self._decryptor = StreamDecryptor(
            ref.content_key, LINK_RECORDS_STREAM_ID, _STREAM_VERSION, ref.size
        )
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self._parts.append(self._decryptor.feed(chunk))

    def finish(self) -> bytes:
        self._decryptor.finish()
        payload = b"".join(self._parts)
        if len(payload) != self._ref.size or hashlib.sha256(payload).digest() != self._ref.sha256:
            raise BadSignature("the history blob is not the one the first device sealed")
        return payload
