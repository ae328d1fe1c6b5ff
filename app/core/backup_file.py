"""Writing and reading a backup file's encrypted stream (docs/protocol.md section 9).

After the header (``crypto.backup``) the file is a sequence of chunks, each
``u32 length | ciphertext`` of at most ``CHUNK_BYTES`` plaintext bytes, sealed with
libsodium's XChaCha20-Poly1305 secretstream under the file key; the first chunk's
additional data is the header, the last chunk carries the FINAL tag and nothing may
follow it. So a changed, dropped, reordered or repeated chunk, a cut file and bytes added
at the end are all refused. The plaintext is one byte stream (the payload, ``app.core.backup``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import BinaryIO

import nacl.bindings as sodium
from nacl.exceptions import CryptoError

from crypto.backup import HEADER_BYTES, BackupHeader, RecoveryKey, seal_header
from crypto.errors import DecryptionFailed, MalformedData

__all__ = ["CHUNK_BYTES", "StreamReader", "StreamWriter"]

CHUNK_BYTES = 64 * 1024
_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_LEN = struct.Struct(">I")


class StreamWriter:
    """Encrypt a byte stream into ``out`` (a file opened for writing)."""

    def __init__(self, out: BinaryIO, public_key: bytes, rng: Callable[[int], bytes]) -> None:
        file_key = rng(32)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, file_key
        )
        header = seal_header(public_key, file_key, stream_header, rng).encode()
        out.write(header)
        self._out = out
        self._ad: bytes | None = header
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > CHUNK_BYTES:
            self._push(bytes(self._buffer[:CHUNK_BYTES]), _TAG_MESSAGE)
            del self._buffer[:CHUNK_BYTES]

    def finish(self) -> None:
        self._push(bytes(self._buffer), _TAG_FINAL)
        self._buffer.clear()

    def _push(self, plain: bytes, tag: int) -> None:
        sealed = sodium.crypto_secretstream_xchacha20poly1305_push(
            self._state, plain, self._ad, tag
        )
        self._ad = None
        self._out.write(_LEN.pack(len(sealed)) + sealed)


class StreamReader:
    """Decrypt a backup's stream; every error is one line without any secret."""

    def __init__(self, source: BinaryIO, recovery: RecoveryKey) -> None:
        raw = source.read(HEADER_BYTES)
        header = BackupHeader.parse(raw)
        file_key = header.open_file_key(recovery)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            self._state, header.stream_header, file_key
        )
        self._source = source
        self._ad: bytes | None = raw
        self._buffer = bytearray()
        self._final = False

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes; ``MalformedData`` if the stream ends first."""
        while len(self._buffer) < size:
            if self._final:
                raise MalformedData("the backup file is damaged: its contents end too early")
            self._pull()
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def finish(self) -> None:
        """Check that the payload ended exactly at the final chunk and nothing follows."""
        while not self._final:
            self._pull()
        if self._buffer or self._source.read(1):
            raise MalformedData("the backup file is damaged: it holds data after its end")

    def _pull(self) -> None:
        prefix = self._source.read(_LEN.size)
        if len(prefix) != _LEN.size:
            raise MalformedData("the backup file is truncated")
        (length,) = _LEN.unpack(prefix)
        if not _ABYTES <= length <= CHUNK_BYTES + _ABYTES:
            raise MalformedData("the backup file is damaged: a chunk has an impossible length")
        sealed = self._source.read(length)
        if len(sealed) != length:
            raise MalformedData("the backup file is truncated")
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, sealed, self._ad
            )
        except CryptoError:
            raise DecryptionFailed(
                "the backup file is damaged: a part of it does not authenticate"
            ) from None
        self._ad = None
        if tag == _TAG_FINAL:
            self._final = True
        elif tag != _TAG_MESSAGE:
            raise MalformedData("the backup file is damaged: a chunk has an unknown tag")
        self._buffer += plain
