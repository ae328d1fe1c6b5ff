"""The process that checks message signatures for ``app.core.signature_checks``.

Started as ``python -m app.signature_worker`` with pipes for stdin and stdout, it imports
only what a signature check needs (so it is ready in a fraction of a second), writes
``READY``, then answers each frame of signatures with ``u32 id | verdict``: the frame's
id, and ``VALID`` if every signature in it verifies, else ``INVALID``. It exits when its
stdin closes (the engine closed, or its process died). It keeps nothing and writes
nothing else.

A frame is ``u32 length | u32 id | checks``; the checks are a list of ``u32 len(signed) |
signed | public key (32 bytes)``, where ``signed`` is ``signature | signed frame`` as
``crypto_sign_open`` takes it. The id lets the engine match each answer to its chunk even
after a batch it abandoned half-way (an answer for another id is stale, and skipped).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Sequence
from typing import IO

from crypto.errors import UsageError
from crypto.message import SignatureCheck

__all__ = [
    "READY",
    "all_valid",
    "decode",
    "encode",
    "main",
    "read_answer",
    "write_frame",
]

READY = b"r"
_VALID, _INVALID = 1, 0
_LENGTH = struct.Struct(">I")
_ANSWER = struct.Struct(">IB")
"""``u32 id | u8 verdict`` (1: every signature of the frame verified)."""
_KEY_SIZE = 32


def all_valid(checks: Sequence[SignatureCheck]) -> bool:
    return all(check.valid() for check in checks)


def encode(frame_id: int, checks: Sequence[SignatureCheck]) -> bytes:
    """One frame's body: its id and ``checks``."""
    parts: list[bytes] = [_LENGTH.pack(frame_id)]
    for check in checks:
        parts += (_LENGTH.pack(len(check.signed)), check.signed, check.public_key)
    return b"".join(parts)


def decode(body: bytes) -> tuple[int, list[SignatureCheck]]:
    """The id and checks of a frame's body; ``ValueError`` if it is cut short."""
    if len(body) < _LENGTH.size:
        raise ValueError("truncated signature frame")
    (frame_id,) = _LENGTH.unpack_from(body)
    checks, at = [], _LENGTH.size
    while at < len(body):
        if at + _LENGTH.size > len(body):
            raise ValueError("truncated signature frame")
        (size,) = _LENGTH.unpack_from(body, at)
        at += _LENGTH.size
        if at + size + _KEY_SIZE > len(body):
            raise ValueError("truncated signature frame")
        signed, public_key = body[at : at + size], body[at + size : at + size + _KEY_SIZE]
        checks.append(SignatureCheck(signed, public_key))
        at += size + _KEY_SIZE
    return frame_id, checks


def write_frame(stream: IO[bytes], body: bytes) -> None:
    """``u32 length | body``, all of it (an unbuffered pipe may take part of a write)."""
    data = memoryview(_LENGTH.pack(len(body)) + body)
    while data:
        written = stream.write(data)
        data = data[written or 0 :]
    stream.flush()


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes, or ``EOFError`` if the stream ends first."""
    data = b""
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            raise EOFError("stream closed")
        data += more
    return data


def _read_frame(stream: IO[bytes]) -> bytes:
    (size,) = _LENGTH.unpack(read_exactly(stream, _LENGTH.size))
    return read_exactly(stream, size)


def read_answer(stream: IO[bytes]) -> tuple[int, bool]:
    """The next answer: (frame id, whether all its signatures verified)."""
    frame_id, verdict = _ANSWER.unpack(read_exactly(stream, _ANSWER.size))
    return frame_id, verdict == _VALID


def main() -> None:
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sink.write(READY)
    sink.flush()
    while True:
        try:
            body = _read_frame(source)
        except EOFError:
            return
        try:
            frame_id, checks = decode(body)
        except ValueError:  # a frame the engine did not write: nothing to answer for
            return
        try:
            verdict = _VALID if all_valid(checks) else _INVALID
        except UsageError:  # a check of the wrong size: not a valid signature
            verdict = _INVALID
        sink.write(_ANSWER.pack(frame_id, verdict))
        sink.flush()


if __name__ == "__main__":
    main()
