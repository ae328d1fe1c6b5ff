"""Reading a document in pieces and hashing it once: size, BLAKE2b-512 and SHA-256.

BLAKE2b-512 of the whole file is minisign's prehash (libsodium ``crypto_generichash`` with a
64-byte output and no key, which is what ``hashlib.blake2b()`` computes); SHA-256 is shown to
people who want to compare with ``sha256sum``.  Nothing here holds more than one piece.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from crypto.errors import UsageError

__all__ = [
    "BLAKE2B512_BYTES",
    "PIECE_SIZE",
    "SHA256_BYTES",
    "BinaryReader",
    "ContentDigest",
    "ContentHasher",
    "hash_file",
    "read_exact",
    "read_pieces",
]

PIECE_SIZE = 1 << 20
BLAKE2B512_BYTES = 64
SHA256_BYTES = 32


@runtime_checkable
class BinaryReader(Protocol):
    """Anything with ``read(n) -> bytes``: an open binary file, ``io.BytesIO``, a pipe."""

    def read(self, size: int, /) -> bytes: ...


def read_exact(reader: BinaryReader, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at end of file (short reads from pipes are retried)."""
    first = reader.read(size)
    if not isinstance(first, bytes | bytearray | memoryview):
        raise UsageError("reader must be opened in binary mode")
    if len(first) == size or not first:
        return bytes(first)
    parts = [bytes(first)]
    have = len(first)
    while have < size:
        more = reader.read(size - have)
        if not more:
            break
        parts.append(bytes(more))
        have += len(more)
    return b"".join(parts)


def read_pieces(reader: BinaryReader, size: int = PIECE_SIZE) -> Iterator[bytes]:
    """Pieces of exactly ``size`` bytes until the last, which may be shorter (never empty)."""
    if size <= 0:
        raise UsageError("piece size must be positive")
    while True:
        piece = read_exact(reader, size)
        if not piece:
            return
        yield piece
        if len(piece) < size:
            return


@dataclass(frozen=True)
class ContentDigest:
    """What a signature and an announcement say about a document's plaintext."""

    size: int
    blake2b512: bytes
    sha256: bytes


class ContentHasher:
    """Incremental size, BLAKE2b-512 and SHA-256 over the pieces of one document."""

    __slots__ = ("_blake", "_sha", "_size")

    def __init__(self) -> None:
        self._blake = hashlib.blake2b(digest_size=BLAKE2B512_BYTES)
        self._sha = hashlib.sha256()
        self._size = 0

    def update(self, piece: bytes) -> None:
        self._blake.update(piece)
        self._sha.update(piece)
        self._size += len(piece)

    def tee(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        """Pass ``pieces`` through unchanged while hashing them (hash while encrypting)."""
        for piece in pieces:
            self.update(piece)
            yield piece

    def result(self) -> ContentDigest:
        return ContentDigest(self._size, self._blake.digest(), self._sha.digest())


def hash_file(reader: BinaryReader) -> ContentDigest:
    """Hash a binary file object from its current position to its end, piece by piece."""
    hasher = ContentHasher()
    for piece in read_pieces(reader):
        hasher.update(piece)
    return hasher.result()
