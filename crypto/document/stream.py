"""Chunked document encryption with libsodium secretstream (XChaCha20-Poly1305).

Each document version has a fresh 32-byte content key.  From it come the secretstream key,
the relay blob id and the blob capability, so an announcement that carries the content key
gives a member everything needed to fetch and open the blob.  The plaintext, followed by
zeros up to its padded size (``padded_size``: the Padme bucket, at least 4 KiB, so the
relay learns only the bucket), is cut into pieces of exactly ``CHUNK_SIZE`` bytes (the
last may be shorter); each piece becomes one relay chunk, the last one tagged FINAL.  The
first chunk starts with the format version and the secretstream header.  Every chunk
authenticates the document id and version as associated data, so a blob cannot be passed
off as another document or version.  The decryptor is given the signed size from the
announcement; it hands out only that many bytes and checks that the rest is zeros and
exactly the padded size, so every document has one encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import nacl.exceptions
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_ABYTES,
    crypto_secretstream_xchacha20poly1305_HEADERBYTES,
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)

from crypto import kdf
from crypto.document.hashing import BinaryReader, read_exact, read_pieces
from crypto.errors import DecryptionFailed, MalformedData, TooLarge, UnsupportedVersion, UsageError
from crypto.identity import Rng
from crypto.padding import padme

__all__ = [
    "ABYTES",
    "CHUNK_SIZE",
    "CONTENT_KEY_BYTES",
    "DOCUMENT_ID_BYTES",
    "FIRST_CHUNK_OVERHEAD",
    "HEADER_BYTES",
    "MAX_CHUNKS",
    "MAX_CHUNK_BYTES",
    "MAX_DOCUMENT_SIZE",
    "MIN_PADDED_SIZE",
    "STREAM_VERSION",
    "DocumentKeys",
    "StreamDecryptor",
    "chunk_count",
    "ciphertext_size",
    "decrypt_stream",
    "encrypt_stream",
    "new_content_key",
    "new_document_id",
    "padded_size",
    "split_ciphertext",
]

STREAM_VERSION = 2
CHUNK_SIZE = 1 << 20
CONTENT_KEY_BYTES = 32
DOCUMENT_ID_BYTES = 16
BLOB_ID_BYTES = 16
HEADER_BYTES: int = crypto_secretstream_xchacha20poly1305_HEADERBYTES
ABYTES: int = crypto_secretstream_xchacha20poly1305_ABYTES
FIRST_CHUNK_OVERHEAD = 1 + HEADER_BYTES + ABYTES
MAX_CHUNK_BYTES = CHUNK_SIZE + 64
MIN_PADDED_SIZE = 4096
MAX_DOCUMENT_SIZE = 126 * CHUNK_SIZE
"""A Padme bucket (a multiple of 2 MiB) whose blob stays under the relay's 128 MiB."""
MAX_CHUNKS = -(-MAX_DOCUMENT_SIZE // CHUNK_SIZE)

_TAG_MESSAGE: int = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: int = crypto_secretstream_xchacha20poly1305_TAG_FINAL
_VERSION_BYTE = bytes((STREAM_VERSION,))


def new_content_key(rng: Rng) -> bytes:
    """A fresh content key for one document version."""
    key = rng(CONTENT_KEY_BYTES)
    if len(key) != CONTENT_KEY_BYTES:
        raise UsageError("rng returned the wrong number of bytes")
    return key


def new_document_id(rng: Rng) -> bytes:
    """A document id, chosen at version 1 and kept by every later version."""
    document_id = rng(DOCUMENT_ID_BYTES)
    if len(document_id) != DOCUMENT_ID_BYTES:
        raise UsageError("rng returned the wrong number of bytes")
    return document_id


@dataclass(frozen=True)
class DocumentKeys:
    """Everything derived from a content key (docs/documents.md, "Keys")."""

    content_key: bytes = field(repr=False)
    stream_key: bytes = field(repr=False)
    blob_id: bytes
    blob_capability: bytes = field(repr=False)

    @classmethod
    def from_content_key(cls, content_key: bytes) -> DocumentKeys:
        if len(content_key) != CONTENT_KEY_BYTES:
            raise UsageError("content key must be 32 bytes")
        return cls(
            content_key=bytes(content_key),
            stream_key=kdf.derive(content_key, "document-stream-key"),
            blob_id=kdf.derive(content_key, "document-blob-id", size=BLOB_ID_BYTES),
            blob_capability=kdf.derive(content_key, "document-blob-cap"),
        )


def padded_size(size: int) -> int:
    """The padded plaintext of a ``size``-byte document: ``max(4 KiB, Padme(size))``."""
    if not 0 <= size <= MAX_DOCUMENT_SIZE:
        raise UsageError("document size out of range")
    return max(MIN_PADDED_SIZE, padme(size))


def chunk_count(size: int) -> int:
    """Number of relay chunks for a plaintext of ``size`` bytes once padded."""
    return -(-padded_size(size) // CHUNK_SIZE)


def ciphertext_size(size: int) -> int:
    """Total bytes of all chunks for a plaintext of ``size`` bytes (the blob's size): a
    function of the padded size alone, so the relay learns only the bucket."""
    return padded_size(size) + 1 + HEADER_BYTES + ABYTES * chunk_count(size)


def _associated_data(document_id: bytes, version: int) -> bytes:
    if len(document_id) != DOCUMENT_ID_BYTES:
        raise UsageError("document id must be 16 bytes")
    if not 1 <= version <= 0xFFFFFFFF:
        raise UsageError("document version must be 1 to 2**32 - 1")
    return kdf.frame("document-chunk", (document_id, struct.pack(">I", version), _VERSION_BYTE))


def _exact_pieces(source: Iterable[bytes] | BinaryReader) -> Iterator[bytes]:
    """Re-cut ``source`` into CHUNK_SIZE pieces; at least one piece (empty for an empty file)."""
    if isinstance(source, BinaryReader):
        produced = False
        for piece in read_pieces(source, CHUNK_SIZE):
            produced = True
            yield piece
        if not produced:
            yield b""
        return
    buffer = bytearray()
    produced = False
    for raw in source:
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise UsageError("plaintext pieces must be bytes")
        if not buffer and len(raw) == CHUNK_SIZE:
            produced = True
            yield bytes(raw)
            continue
        buffer += raw
        while len(buffer) >= CHUNK_SIZE:
            produced = True
            yield bytes(buffer[:CHUNK_SIZE])
            del buffer[:CHUNK_SIZE]
    if buffer or not produced:
        yield bytes(buffer)


def encrypt_stream(
    content_key: bytes,
    document_id: bytes,
    version: int,
    source: Iterable[bytes] | BinaryReader,
) -> Iterator[bytes]:
    """Yield the relay chunks of one document version, one at a time.

    ``source`` is a binary file object (read from its current position) or an iterable of
    byte strings of any sizes.  At most two plaintext pieces are held at once: the current
    one and the next, read ahead to know which chunk is the last.
    """
    keys = DocumentKeys.from_content_key(content_key)
    ad = _associated_data(document_id, version)
    return _encrypt(keys.stream_key, ad, _exact_pieces(_padded(_exact_pieces(source))))


def _padded(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces, then zeros (at most a chunk at a time) up to the padded size."""
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > MAX_DOCUMENT_SIZE:
            raise UsageError(f"document larger than {MAX_DOCUMENT_SIZE} bytes")
        yield piece
    remaining = padded_size(total) - total
    while remaining:
        fill = min(remaining, CHUNK_SIZE)
        yield bytes(fill)
        remaining -= fill


def _encrypt(stream_key: bytes, ad: bytes, pieces: Iterator[bytes]) -> Iterator[bytes]:
    state = crypto_secretstream_xchacha20poly1305_state()
    header = crypto_secretstream_xchacha20poly1305_init_push(state, stream_key)
    current = next(pieces)
    total = len(current)
    index = 0
    for following in pieces:
        total += len(following)
        if total > MAX_DOCUMENT_SIZE:
            raise UsageError(f"document larger than {MAX_DOCUMENT_SIZE} bytes")
        sealed = crypto_secretstream_xchacha20poly1305_push(state, current, ad, _TAG_MESSAGE)
        yield _VERSION_BYTE + header + sealed if index == 0 else sealed
        current = following
        index += 1
    sealed = crypto_secretstream_xchacha20poly1305_push(state, current, ad, _TAG_FINAL)
    yield _VERSION_BYTE + header + sealed if index == 0 else sealed


class StreamDecryptor:
    """Opens the chunks of one document version of ``size`` bytes, strictly in order.

    ``size`` is the signed size from the announcement.  ``feed`` returns each chunk's
    plaintext without the padding (checked to be zeros); ``finish`` raises unless the FINAL
    chunk was seen.  Plaintext handed out before ``finish`` returns is not yet known to be complete:
    write it somewhere temporary and keep it only after ``finish`` (and the content hash
    check in ``announce.open_document``) succeed.  After any error the decryptor refuses
    further use.
    """

    __slots__ = (
        "_ad",
        "_data_size",
        "_failed",
        "_finished",
        "_index",
        "_keys",
        "_padded",
        "_padded_size",
        "_size",
        "_state",
    )

    def __init__(self, content_key: bytes, document_id: bytes, version: int, size: int) -> None:
        self._keys = DocumentKeys.from_content_key(content_key)
        self._ad = _associated_data(document_id, version)
        self._state = crypto_secretstream_xchacha20poly1305_state()
        self._data_size = size
        self._padded_size = padded_size(size)
        self._index = 0
        self._size = 0
        self._padded = 0
        self._finished = False
        self._failed = False

    @property
    def chunks_read(self) -> int:
        return self._index

    @property
    def size(self) -> int:
        """Plaintext bytes returned so far (padding not counted)."""
        return self._size

    @property
    def finished(self) -> bool:
        return self._finished

    def feed(self, chunk: bytes) -> bytes:
        if self._failed:
            raise UsageError("this decryptor already failed; start again with a new one")
        try:
            return self._feed(bytes(chunk))
        except BaseException:
            self._failed = True
            raise

    def _feed(self, chunk: bytes) -> bytes:
        if self._finished:
            raise DecryptionFailed("a chunk follows the final chunk")
        if self._index >= MAX_CHUNKS:
            raise TooLarge(f"more than {MAX_CHUNKS} chunks")
        if self._index == 0:
            if len(chunk) < FIRST_CHUNK_OVERHEAD:
                raise DecryptionFailed("first chunk too short")
            if chunk[0] != STREAM_VERSION:
                raise UnsupportedVersion(f"document stream version {chunk[0]}")
            crypto_secretstream_xchacha20poly1305_init_pull(
                self._state, chunk[1 : 1 + HEADER_BYTES], self._keys.stream_key
            )
            sealed = chunk[1 + HEADER_BYTES :]
        else:
            sealed = chunk
        if len(sealed) > CHUNK_SIZE + ABYTES:
            raise TooLarge(f"chunk {self._index} is longer than {CHUNK_SIZE + ABYTES} bytes")
        if len(sealed) < ABYTES:
            raise DecryptionFailed(f"chunk {self._index} too short")
        try:
            plaintext, tag = crypto_secretstream_xchacha20poly1305_pull(
                self._state, sealed, self._ad
            )
        except nacl.exceptions.CryptoError:
            raise DecryptionFailed(
                f"chunk {self._index} does not authenticate (tampered, reordered, "
                "from another document or version, or a wrong key)"
            ) from None
        if tag == _TAG_FINAL:
            if not plaintext and self._index > 0:
                raise MalformedData("empty final chunk after data")
            self._finished = True
        elif tag != _TAG_MESSAGE:
            raise DecryptionFailed(f"chunk {self._index} has unexpected tag {tag}")
        elif len(plaintext) != CHUNK_SIZE:
            raise MalformedData(f"non-final chunk {self._index} is not {CHUNK_SIZE} bytes")
        self._index += 1
        start = self._padded
        self._padded += len(plaintext)
        if self._padded > self._padded_size:
            raise TooLarge(f"document stream longer than its padded size {self._padded_size}")
        if self._finished and self._padded != self._padded_size:
            raise MalformedData(f"document stream shorter than its padded size {self._padded_size}")
        data_end = max(0, min(len(plaintext), self._data_size - start))
        if plaintext.count(0, data_end) != len(plaintext) - data_end:
            raise MalformedData("document padding bytes are not zero")
        self._size += data_end
        return plaintext[:data_end] if data_end < len(plaintext) else plaintext

    def finish(self) -> None:
        """Raise ``DecryptionFailed`` unless the stream ended with its FINAL chunk."""
        if self._failed:
            raise UsageError("this decryptor already failed")
        if not self._finished:
            self._failed = True
            raise DecryptionFailed(f"truncated: {self._index} chunks and no final chunk")


def decrypt_stream(
    content_key: bytes, document_id: bytes, version: int, size: int, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """Yield the ``size`` plaintext bytes chunk by chunk (padding checked and dropped);
    raises at the end if the stream was truncated."""
    return _decrypt(StreamDecryptor(content_key, document_id, version, size), chunks)


def _decrypt(decryptor: StreamDecryptor, chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield decryptor.feed(chunk)
    decryptor.finish()


def split_ciphertext(reader: BinaryReader) -> Iterator[bytes]:
    """Cut the concatenated chunks of a blob (as kept on disk) back into relay chunks.

    Chunk lengths follow from the fixed chunk size; a stream cut anywhere else fails in
    ``StreamDecryptor``.
    """
    size = FIRST_CHUNK_OVERHEAD + CHUNK_SIZE
    while True:
        chunk = read_exact(reader, size)
        if not chunk:
            return
        yield chunk
        if len(chunk) < size:
            return
        size = CHUNK_SIZE + ABYTES
