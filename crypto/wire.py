"""Strict binary encoding shared by every Caucus wire and storage format.

Integers are big-endian and unsigned.  Variable-length fields carry a u32 length prefix
and a caller-supplied maximum, checked before any slicing.  ``Reader.finish`` rejects
trailing bytes, so every format has exactly one encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TypeVar

from crypto.errors import MalformedData, TooLarge, UsageError

__all__ = ["Reader", "Writer"]

T = TypeVar("T")

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class Writer:
    """Accumulates fields; ``bytes()`` returns the encoding."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        if not 0 <= value <= 0xFF:
            raise UsageError("u8 out of range")
        self._parts.append(bytes((value,)))
        return self

    def u16(self, value: int) -> Writer:
        if not 0 <= value <= 0xFFFF:
            raise UsageError("u16 out of range")
        self._parts.append(_U16.pack(value))
        return self

    def u32(self, value: int) -> Writer:
        if not 0 <= value <= 0xFFFFFFFF:
            raise UsageError("u32 out of range")
        self._parts.append(_U32.pack(value))
        return self

    def u64(self, value: int) -> Writer:
        if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
            raise UsageError("u64 out of range")
        self._parts.append(_U64.pack(value))
        return self

    def fixed(self, value: bytes, size: int) -> Writer:
        if len(value) != size:
            raise UsageError(f"fixed field must be {size} bytes, got {len(value)}")
        self._parts.append(bytes(value))
        return self

    def var(self, value: bytes, max_size: int) -> Writer:
        if len(value) > max_size:
            raise UsageError(f"variable field longer than {max_size} bytes")
        self._parts.append(_U32.pack(len(value)))
        self._parts.append(bytes(value))
        return self

    def text(self, value: str, max_bytes: int) -> Writer:
        return self.var(value.encode("utf-8"), max_bytes)

    def __bytes__(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Consumes fields from a buffer; every shortfall or excess raises ``MalformedData``."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def _take(self, size: int) -> bytes:
        if size > self.remaining:
            raise MalformedData("truncated input")
        start = self._pos
        self._pos += size
        return bytes(self._data[start : self._pos])

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        value: int = _U16.unpack(self._take(2))[0]
        return value

    def u32(self) -> int:
        value: int = _U32.unpack(self._take(4))[0]
        return value

    def u64(self) -> int:
        value: int = _U64.unpack(self._take(8))[0]
        return value

    def fixed(self, size: int) -> bytes:
        return self._take(size)

    def var(self, max_size: int) -> bytes:
        size = self.u32()
        if size > max_size:
            raise TooLarge(f"field of {size} bytes exceeds the limit of {max_size}")
        return self._take(size)

    def text(self, max_bytes: int) -> str:
        raw = self.var(max_bytes)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedData("text field is not valid UTF-8") from None

    def items(self, max_count: int, read_one: Callable[[Reader], T]) -> list[T]:
        """A u32 count followed by that many items, each read by ``read_one``."""
        count = self.u32()
        if count > max_count:
            raise TooLarge(f"list of {count} items exceeds the limit of {max_count}")
        return [read_one(self) for _ in range(count)]

    def rest(self) -> bytes:
        return self._take(self.remaining)

    def finish(self) -> None:
        if self.remaining:
            raise MalformedData(f"{self.remaining} unexpected trailing bytes")
