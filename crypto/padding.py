"""Length-hiding padding (protocol sections 4.1 and 4.2, docs/documents.md section 3).

A padded plaintext is ``u32 len(data) | data | zeros``.  The zeros bring the size of the
whole thing the relay sees -- the padded plaintext plus a fixed ``overhead`` of header and
AEAD tag around it -- to a *bucket*: the next multiple of 256 bytes up to 4 KiB, the next
power of two above.  So the relay learns only the bucket, and every input has one padded
form: ``unpad`` rejects non-zero padding and any size that is not the smallest bucket.

``padme`` is the Padme function of Nikitin et al., "Reducing Metadata Leakage from
Encrypted Files and Communication with PURBs" (PETS 2019, Algorithm 1): a length ``L`` is
rounded up by clearing its low ``E - S`` bits (``E = floor(log2 L)``,
``S = floor(log2 E) + 1``), so the padded length leaks O(log log L) bits and costs at
most 11.7% (15 bytes at ``L = 129``), under 6.25% from 1 KiB up and 3.125% from 1 MiB up.
Commits and document blobs use it (``pad_to`` / ``read_padded`` with the exact size).
"""

from __future__ import annotations

import struct

from crypto.errors import MalformedData, UsageError

__all__ = [
    "bucket_size",
    "pad",
    "pad_to",
    "padme",
    "read_padded",
    "unpad",
    "unpadded_length",
]

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


def padme(length: int) -> int:
    """The Padme bucket of ``length``: the smallest value >= ``length`` whose low
    ``E - S`` bits are zero (PETS 2019, Algorithm 1); 0 and 1 are their own buckets."""
    if length < 0:
        raise UsageError("length must not be negative")
    if length < 2:
        return length
    exponent = length.bit_length() - 1  # E = floor(log2 L)
    size_bits = exponent.bit_length()  # S = floor(log2 E) + 1 (E >= 1 here)
    mask = (1 << (exponent - size_bits)) - 1
    return (length + mask) & ~mask


def pad_to(data: bytes, size: int) -> bytes:
    """``u32 len | data | zeros``, exactly ``size`` bytes; ``UsageError`` if it cannot fit."""
    if len(data) > 0xFFFFFFFF or 4 + len(data) > size:
        raise UsageError("data does not fit the padded size")
    return b"".join((_LENGTH.pack(len(data)), data, bytes(size - 4 - len(data))))


def read_padded(padded: bytes) -> bytes:
    """The data inside ``u32 len | data | zeros`` of any size.

    Raises ``MalformedData`` for a short buffer, a length past the end or non-zero
    padding.  The caller checks that ``len(padded)`` is the one size its format allows
    for this data, so every value keeps one encoding.
    """
    total = len(padded)
    if total < 4:
        raise MalformedData("padded data shorter than its length field")
    length: int = _LENGTH.unpack_from(padded)[0]
    end = 4 + length
    if end > total:
        raise MalformedData("padded length exceeds the data")
    if padded.count(0, end) != total - end:
        raise MalformedData("padding bytes are not zero")
    return bytes(padded[4:end])


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
