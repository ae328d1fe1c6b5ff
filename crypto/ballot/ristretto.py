"""The ristretto255 group (RFC 9496) through libsodium as ``rbcl`` ships it.

Ring signatures of ballot definition version 2 compute in ristretto255: every encoding
is of a prime-order element, so a scalar multiplication needs no subgroup re-check,
where libsodium's edwards25519 functions re-check each point with a second
multiplication by L (bench/ring_bench.py: a ring member's check costs about 0.6 of the
edwards25519 one).  The group is the same prime-order group with the same base point;
only the encoding differs.

Ballot keys stay edwards25519 points (their log records and proofs do not change), so a
version-2 ring turns each roster key into its ristretto255 encoding once
(``from_edwards``, RFC 9496 section 4.3.2 from the point's affine coordinates).
libsodium computes that encoding inside but does not export it, hence the field
arithmetic here.  It only ever sees public keys, which ``group.check_point`` validated
first; tests/crypto/test_ristretto.py compares it with libsodium's own
``crypto_scalarmult_ristretto255_base`` for random scalars and with RFC 9496's vectors.

``rbcl`` writes its bundled libsodium to a temporary file and loads it from there; every
process of the app removes that file as soon as it is loaded (``after_load``, set up in
``app/__init__.py``; the mapping stays), so no process leaves one behind.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Final

from crypto import kdf
from crypto.ballot import group
from crypto.errors import MalformedData, UsageError

__all__ = [
    "BASE",
    "LibraryHook",
    "add",
    "after_load",
    "base_mul",
    "check_point",
    "from_checked_edwards",
    "from_edwards",
    "hash_to_point",
    "mul",
]

# The standard generator's encoding (RFC 9496 appendix A.1, "B").
BASE: Final = bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")
_IDENTITY: Final = bytes(32)

_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
# 1/sqrt(a - d) with a = -1, the non-negative root (RFC 9496 section 4.1).
_INVSQRT_A_MINUS_D = 54469307008909316920995813868745141605393597292927456921205312896311721017578


LibraryHook = Callable[[str], None]
_after_load: list[LibraryHook] = []


def after_load(hook: LibraryHook) -> None:
    """Have ``hook(path)`` called once ``rbcl`` has loaded libsodium from the temporary
    file at ``path`` (the app deletes it there: this layer does no file I/O)."""
    _after_load.append(hook)


@functools.cache
def _rbcl() -> ModuleType:
    """Import ``rbcl`` on first use (only version-2 rings need it)."""
    failure: Exception | None = None
    try:
        import rbcl
    except (ImportError, OSError) as error:  # a frozen build without rbcl's sources: OSError
        failure = error
    # Its library file was written even when the rest of the import failed.
    written = getattr(sys.modules.get("rbcl._sodium"), "lib_path", None)
    if isinstance(written, str):
        for hook in _after_load:
            hook(written)
    if failure is not None:
        raise UsageError(f"cannot load the ristretto255 library (rbcl): {failure}") from None
    module: ModuleType = rbcl
    return module


def check_point(point: bytes) -> bytes:
    """Return ``point`` if it is a canonical ristretto255 encoding of a non-identity
    element, else raise ``MalformedData``.

    The top bit is refused here: the libsodium ``rbcl`` bundles ignores it, so every
    element would have a second encoding, and a key image a second form that does not
    link to the first (tests/crypto/ballot/test_blsag_v2.py).
    """
    if len(point) != 32 or point == _IDENTITY or point[31] & 0x80:
        raise MalformedData("not a valid ristretto255 element")
    if not _rbcl().crypto_core_ristretto255_is_valid_point(point):
        raise MalformedData("not a valid ristretto255 element")
    return point


def base_mul(scalar: bytes) -> bytes:
    """``scalar * G``; the zero scalar gives the identity's encoding."""
    if scalar == group.ZERO_SCALAR:
        return _IDENTITY
    result: bytes = _rbcl().crypto_scalarmult_ristretto255_base(scalar)
    return result


def mul(scalar: bytes, point: bytes) -> bytes:
    """``scalar * point`` for a checked point (libsodium decodes it again and refuses a
    bad one: then an unchecked point reached us, our bug)."""
    if scalar == group.ZERO_SCALAR:
        return _IDENTITY
    try:
        result: bytes = _rbcl().crypto_scalarmult_ristretto255(scalar, point)
    except (RuntimeError, ValueError, TypeError):
        raise UsageError("scalar multiplication of an unchecked element") from None
    return result


def add(p: bytes, q: bytes) -> bytes:
    """``p + q`` (either may be the identity)."""
    try:
        result: bytes = _rbcl().crypto_core_ristretto255_add(p, q)
    except (RuntimeError, ValueError, TypeError):
        raise UsageError("addition of an unchecked element") from None
    return result


def hash_to_point(label: str, *parts: bytes) -> bytes:
    """``from_hash(BLAKE2b-512(frame(label, parts)))``: RFC 9496's one-way map (two
    Elligator evaluations added), an element nobody knows the logarithm of."""
    point: bytes = _rbcl().crypto_core_ristretto255_from_hash(kdf.digest(label, *parts, size=64))
    try:
        return check_point(point)
    except MalformedData:
        raise UsageError("hash to point produced the identity; change the input") from None


# -- edwards25519 encoding -> ristretto255 encoding ----------------------------------------


def _is_negative(value: int) -> bool:
    return value & 1 == 1


def _abs(value: int) -> int:
    return _P - value if _is_negative(value) else value


def _sqrt_ratio_m1(u: int, v: int) -> tuple[bool, int]:
    """RFC 9496 section 4.2: ``(True, sqrt(u/v))`` or ``(False, sqrt(i*u/v))``, the
    non-negative root."""
    v3 = v * v % _P * v % _P
    v7 = v3 * v3 % _P * v % _P
    r = u * v3 % _P * pow(u * v7 % _P, (_P - 5) // 8, _P) % _P
    check = v * r % _P * r % _P
    correct = check == u % _P
    flipped = check == (-u) % _P
    flipped_i = check == (-u * _SQRT_M1) % _P
    if flipped or flipped_i:
        r = r * _SQRT_M1 % _P
    return correct or flipped, _abs(r)


def _decode_edwards(point: bytes) -> tuple[int, int]:
    """RFC 8032 section 5.1.3: the affine ``(x, y)`` of a canonical encoding."""
    packed = int.from_bytes(point, "little")
    sign = packed >> 255
    y = packed & ((1 << 255) - 1)
    if y >= _P:
        raise MalformedData("edwards25519 y coordinate is not canonical")
    y2 = y * y % _P
    is_square, x = _sqrt_ratio_m1(y2 - 1, _D * y2 + 1)
    if not is_square or (x == 0 and sign):
        raise MalformedData("not an edwards25519 point")
    if x & 1 != sign:
        x = _P - x
    return x, y


def from_edwards(point: bytes) -> bytes:
    """The ristretto255 encoding of a prime-order edwards25519 point (RFC 9496 section
    4.3.2 with ``Z = 1``, ``T = x*y``).  ``MalformedData`` if ``point`` is not a valid,
    prime-order, non-identity point."""
    return from_checked_edwards(group.check_point(point))


@functools.lru_cache(maxsize=4096)
def from_checked_edwards(point: bytes) -> bytes:
    """``from_edwards`` for a point ``group.check_point`` already accepted (a ring's
    roster keys are checked once, in ``blsag.Ring.of``).  Two exponentiations in Python
    (about 0.2-0.4 ms); a member's key is the same in every ballot of the group, so the
    encodings of the last 4,096 keys (one full ring) are kept."""
    x0, y0 = _decode_edwards(point)
    t0 = x0 * y0 % _P
    u1 = (1 + y0) * (1 - y0) % _P
    u2 = t0
    _, invsqrt = _sqrt_ratio_m1(1, u1 * u2 % _P * u2 % _P)
    den1 = invsqrt * u1 % _P
    den2 = invsqrt * u2 % _P
    z_inv = den1 * den2 % _P * t0 % _P
    if _is_negative(t0 * z_inv % _P):
        x, y = y0 * _SQRT_M1 % _P, x0 * _SQRT_M1 % _P
        den_inv = den1 * _INVSQRT_A_MINUS_D % _P
    else:
        x, y, den_inv = x0, y0, den2
    if _is_negative(x * z_inv % _P):
        y = (-y) % _P
    s = _abs(den_inv * (1 - y) % _P)
    return check_point(s.to_bytes(32, "little"))
