"""Hash to the prime-order group: ``Hp(x) = from_uniform(BLAKE2b-256(frame(label, x)))``.

libsodium's ``crypto_core_ed25519_from_uniform`` reads the 32 bytes as a field element
(the low 255 bits) and a sign for x (the top bit), applies the Elligator 2 map and then
multiplies by the cofactor 8, so its output is always in the prime-order subgroup (our
tests check ``L * Hp = identity`` and compare with an independent Elligator 2 written
from the paper's formulas).  Nobody knows the discrete logarithm of the result to base G,
which is what key images need: whoever knew ``h`` with ``Hp = h*G`` could link every
key image ``x*Hp`` to its public key ``x*G`` by computing ``h*P`` for each member.

The map is a *non-uniform* encoding (one Elligator evaluation, like RFC 9380's
``encode_to_curve``): its outputs cover only part of the group.  That is enough for a
base point of unknown logarithm; it is not a random oracle into the whole group.
Elligator sends the field element 0 (and a few others) to a point of small order that
the cofactor clears to the identity; BLAKE2b hits one with probability about 2^-250,
and we refuse it anyway rather than hand out the identity as a base.
"""

from __future__ import annotations

import nacl.bindings as _na

from crypto import kdf
from crypto.ballot.group import check_point
from crypto.errors import MalformedData, UsageError

__all__ = ["hash_to_point"]


def hash_to_point(label: str, *parts: bytes) -> bytes:
    """A point of the prime-order subgroup with unknown logarithm, from a labelled frame."""
    uniform = kdf.digest(label, *parts, size=32)
    point = _na.crypto_core_ed25519_from_uniform(uniform)
    try:
        return check_point(point)
    except MalformedData:
        # Only the identity can come out of from_uniform and fail the check.
        raise UsageError("hash to point produced the identity; change the input") from None
