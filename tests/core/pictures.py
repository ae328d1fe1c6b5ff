"""Small PNG files built by hand (no imaging library), for the image preview tests."""

from __future__ import annotations

import struct
import zlib

__all__ = ["png", "png_claiming"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _header(width: int, height: int) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A valid truecolour PNG filled with one colour."""
    row = b"\x00" + bytes(rgb) * width
    pixels = zlib.compress(row * height)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _header(width, height)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but whose data is tiny (a bomb's
    header, or a broken file)."""
    pixels = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _header(width, height)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )
