"""The edwards25519 prime-order group through libsodium (PyNaCl bindings), checked at the edge.

Points and scalars stay 32-byte ``bytes`` (libsodium's encodings) so the hot loops in
ring signatures add no Python objects.  Every point or scalar that arrives from outside
goes through ``check_point`` / ``check_scalar`` first: a point must be canonical, on the
curve, in the prime-order subgroup and not the identity (``is_valid_point`` checks all
four, the lesson of Monero's 2017 key-image bug); a scalar must be canonical (< L), so a
signature has exactly one encoding.
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.bindings as _na
import nacl.exceptions

from crypto import kdf
from crypto.errors import MalformedData, UsageError

__all__ = [
    "BASE",
    "IDENTITY",
    "POINT_SIZE",
    "SCALAR_SIZE",
    "ZERO_SCALAR",
    "L",
    "add",
    "base_mul",
    "check_point",
    "check_scalar",
    "hash_to_scalar",
    "is_canonical_scalar",
    "mul",
    "random_scalar",
    "scalar_add",
    "scalar_mul",
    "scalar_sub",
    "sub",
]

POINT_SIZE = 32
SCALAR_SIZE = 32

# Order of the prime-order subgroup: 2^252 + 27742317777372353535851937790883648493.
L = 2**252 + 27742317777372353535851937790883648493

ZERO_SCALAR = bytes(32)
# Encoding of the neutral element (x = 0, y = 1).  Never accepted from outside.
IDENTITY = b"\x01" + bytes(31)
# The standard base point G (y = 4/5), as RFC 8032 encodes it.
BASE = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")

_is_valid_point = _na.crypto_core_ed25519_is_valid_point
_add = _na.crypto_core_ed25519_add
_sub = _na.crypto_core_ed25519_sub
_reduce = _na.crypto_core_ed25519_scalar_reduce
_scalar_add = _na.crypto_core_ed25519_scalar_add
_scalar_sub = _na.crypto_core_ed25519_scalar_sub
_scalar_mul = _na.crypto_core_ed25519_scalar_mul
_mul = _na.crypto_scalarmult_ed25519_noclamp
_base_mul = _na.crypto_scalarmult_ed25519_base_noclamp


def is_canonical_scalar(scalar: bytes) -> bool:
    """True for a 32-byte little-endian integer below L."""
    return len(scalar) == SCALAR_SIZE and int.from_bytes(scalar, "little") < L


def check_scalar(scalar: bytes) -> bytes:
    """Return ``scalar`` if canonical, else raise ``MalformedData`` (one encoding per value)."""
    if not is_canonical_scalar(scalar):
        raise MalformedData("scalar is not canonical (must be 32 bytes and below L)")
    return scalar


def check_point(point: bytes) -> bytes:
    """Return ``point`` if it is a canonical, prime-order, non-identity point.

    Raises ``MalformedData`` otherwise: small-order points (the 8 torsion points),
    mixed-order points (P + T), non-canonical encodings (y >= p) and off-curve bytes.
    """
    if len(point) != POINT_SIZE or not _is_valid_point(point):
        raise MalformedData("not a valid point of the prime-order subgroup")
    return point


def random_scalar(rng: Callable[[int], bytes]) -> bytes:
    """A uniform non-zero scalar: 64 random bytes reduced mod L (bias below 2^-250).

    Zero comes up with probability 2^-252; an rng that keeps producing it is broken.
    """
    for _ in range(8):
        seed = rng(64)
        if len(seed) != 64:
            raise UsageError("rng returned the wrong number of bytes")
        scalar = _reduce(seed)
        if scalar != ZERO_SCALAR:
            return scalar
    raise UsageError("rng keeps producing multiples of L: it is broken")


def hash_to_scalar(label: str, *parts: bytes) -> bytes:
    """``reduce(BLAKE2b-512(frame(label, parts))) mod L``: Fiat-Shamir challenges."""
    return _reduce(kdf.digest(label, *parts, size=64))


def base_mul(scalar: bytes) -> bytes:
    """``scalar * G``; the zero scalar gives the identity (libsodium refuses it)."""
    if scalar == ZERO_SCALAR:
        return IDENTITY
    try:
        return _base_mul(scalar)
    except nacl.exceptions.RuntimeError:
        raise UsageError("base multiplication failed") from None


def mul(scalar: bytes, point: bytes) -> bytes:
    """``scalar * point`` for a point already validated by ``check_point``.

    The zero scalar gives the identity.  libsodium re-checks that the point is in the
    prime-order subgroup; a failure here means an unchecked point reached us: our bug.
    """
    if scalar == ZERO_SCALAR:
        return IDENTITY
    try:
        return _mul(scalar, point)
    except nacl.exceptions.RuntimeError:
        raise UsageError("scalar multiplication of an unchecked point") from None


def add(p: bytes, q: bytes) -> bytes:
    """``p + q`` (either may be the identity)."""
    return _add(p, q)


def sub(p: bytes, q: bytes) -> bytes:
    """``p - q``."""
    return _sub(p, q)


def scalar_add(a: bytes, b: bytes) -> bytes:
    """``a + b mod L``."""
    return _scalar_add(a, b)


def scalar_sub(a: bytes, b: bytes) -> bytes:
    """``a - b mod L``."""
    return _scalar_sub(a, b)


def scalar_mul(a: bytes, b: bytes) -> bytes:
    """``a * b mod L``."""
    return _scalar_mul(a, b)
