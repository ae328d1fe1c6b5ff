"""Length-hiding padding for message plaintexts (protocol section 4.1).

A padded plaintext is ``u32 len(data) | data | zeros``.  The zeros bring the size of the
whole thing the relay sees -- the padded plaintext plus a fixed ``overhead`` of header and
AEAD tag around it -- to a *bucket*: the next multiple of 256 bytes up to 4 KiB, the next
power of two above.  So the relay learns only the bucket, and every input has one padded
form: ``unpad`` rejects non-zero padding and any size that is not the smallest bucket.
"""

from __future__ import annotations

import struct

from crypto.errors import MalformedData, UsageError

__all__ = ["bucket_size", "pad", "unpad", "unpadded_length"]

_STEP = 256
_SMALL_LIMIT = 4096
_LENGTH = struct.Struct(">I")


def bucket_size(size: int) -> int:
    """The smallest bucket that holds ``size`` bytes (256, 512, ..., 4096, 8192, 16384, ...)."""
    if size < 0:
        raise UsageError("size must not be negative")
    if size <= _SMALL_LIMIT:
        return max(_STEP, -(-size // _STEP) * _STEP)
    return 1 << (size - 1).bit_length()


def pad(data: bytes, overhead: int = 0) -> bytes:
    """``u32 len | data | zeros`` such that ``overhead + len(result)`` is a bucket size.

    ``overhead`` is the number of bytes the caller adds around the padded plaintext (for a
    message: its header, the ciphertext's length prefix and the AEAD tag).
    """
    if overhead < 0:
        raise UsageError("overhead must not be negative")
    if len(data) > 0xFFFFFFFF:
        raise UsageError("data too long to pad")
    used = overhead + 4 + len(data)
    return b"".join((_LENGTH.pack(len(data)), data, bytes(bucket_size(used) - used)))


def unpadded_length(padded: bytes, overhead: int = 0) -> int:
    """Check ``padded`` fully and return the length of the data it holds (at offset 4).

    This lets a hot path parse the data in place without copying it out first.  Raises
    ``MalformedData`` for a short buffer, a length past the end, non-zero padding or a
    size that is not the smallest bucket for the data.
    """
    total = len(padded)
    if total < 4:
        raise MalformedData("padded data shorter than its length field")
    length: int = _LENGTH.unpack_from(padded)[0]
    end = 4 + length
    if end > total:
        raise MalformedData("padded length exceeds the data")
    if overhead + total != bucket_size(overhead + end):
        raise MalformedData("padded size is not the bucket for its content")
    if padded.count(0, end) != total - end:
        raise MalformedData("padding bytes are not zero")
    return length


def unpad(padded: bytes, overhead: int = 0) -> bytes:
    """The data inside ``padded``; the inverse of ``pad`` with the same ``overhead``."""
    length = unpadded_length(padded, overhead)
    return bytes(padded[4 : 4 + length])
