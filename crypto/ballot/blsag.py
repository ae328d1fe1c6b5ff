"""Linkable ring signatures (bLSAG, Zero to Monero 2nd ed. section 3.4) with a scoped key image.

A member with secret ``x`` and public key ``P = x*G`` in a ring ``P_0..P_{n-1}`` signs a
message so that anyone can check *some* ring member signed, nobody can tell which, and two
signatures by the same key in the same *scope* carry the same key image
``I = x*Hp(scope)``.  The base ``Hp(scope)`` is hashed from the scope (for ballots: the
ballot tag), so no party can choose it or know its logarithm.  One base for the whole
ring is the original LSAG form (Liu, Wei and Wong 2004 use ``h = H(ring)``; Fujisaki and
Suzuki's traceable ring signatures ``h = H(issue, ring)``): linkability holds because
``I`` depends only on ``x`` and the scope; anonymity reduces to DDH (deciding whether
``(G, P_j, Hp, I)`` is a Diffie-Hellman tuple).  Monero's per-key base ``Hp(P)`` would
make key images equal across ballots, which we must not allow.

Signing (``pi`` is the signer's index, all indices mod n)::

    ring_hash = H("ballot-ring", P_0, ..., P_{n-1})
    ctx       = H("ballot-ring-context", ring_hash, Hp, I, message)
    alpha     random;  c_{pi+1} = Hs(ctx, pi, alpha*G, alpha*Hp)
    for i != pi: s_i random;  c_{i+1} = Hs(ctx, i, s_i*G + c_i*P_i, s_i*Hp + c_i*I)
    s_pi      = alpha - c_pi * x
    signature = (I, c_0, s_0, ..., s_{n-1})

Verification recomputes ``c_1, ..., c_n`` from ``c_0`` and requires ``c_n = c_0``.
``Hs`` is ``hash_to_scalar("ballot-ring-challenge", ctx, u32 i, L_i, R_i)``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from crypto import kdf
from crypto.ballot import group
from crypto.ballot.hash_to_group import hash_to_point
from crypto.errors import BadSignature, MalformedData, UnsupportedVersion, UsageError
from crypto.wire import Reader, Writer

__all__ = [
    "MAX_RING_SIZE",
    "SIGNATURE_VERSION",
    "Ring",
    "RingSignature",
    "key_image",
    "key_image_base",
    "sign",
    "signature_size",
    "verify",
]

SIGNATURE_VERSION: Final = 1
# 4096 members make a 128 KiB signature, inside a message body's 192 KiB.
MAX_RING_SIZE: Final = 4096

_U32 = struct.Struct(">I")


def key_image_base(scope: bytes) -> bytes:
    """``Hp(scope)``: the base of key images in this scope; nobody chooses or knows its log."""
    return hash_to_point("ballot-hash-to-point", scope)


def key_image(secret: bytes, scope: bytes) -> bytes:
    """``I = x * Hp(scope)``: equal for every signature by ``x`` in ``scope``."""
    return group.mul(secret, key_image_base(scope))


@dataclass(frozen=True)
class Ring:
    """An ordered list of validated, distinct public keys (build once per ballot, reuse)."""

    points: tuple[bytes, ...]
    digest: bytes = field(repr=False, compare=False)

    @classmethod
    def of(cls, points: Sequence[bytes]) -> Ring:
        """Validate every key (``MalformedData`` on a bad or repeated one) and keep the order."""
        if not 1 <= len(points) <= MAX_RING_SIZE:
            raise MalformedData(f"a ring has 1 to {MAX_RING_SIZE} keys, not {len(points)}")
        for point in points:
            group.check_point(point)
        if len(set(points)) != len(points):
            raise MalformedData("a ring lists the same key twice")
        frozen = tuple(bytes(p) for p in points)
        return cls(frozen, kdf.digest("ballot-ring", *frozen))

    def __len__(self) -> int:
        return len(self.points)

    def index(self, public_key: bytes) -> int:
        """Position of ``public_key``; ``UsageError`` if it is not in the ring."""
        try:
            return self.points.index(public_key)
        except ValueError:
            raise UsageError("key is not in the ring") from None


@dataclass(frozen=True)
class RingSignature:
    """``(I, c_0, s_0..s_{n-1})``; decoding checks every field, verification the equations."""

    key_image: bytes
    c0: bytes
    responses: tuple[bytes, ...]

    def encode(self) -> bytes:
        """``u8 version | bytes32 I | bytes32 c_0 | list(MAX_RING_SIZE, bytes32) s``."""
        writer = Writer().u8(SIGNATURE_VERSION).fixed(self.key_image, 32).fixed(self.c0, 32)
        writer.u32(len(self.responses))
        for response in self.responses:
            writer.fixed(response, 32)
        return bytes(writer)

    @classmethod
    def decode(cls, data: bytes, ring_size: int) -> RingSignature:
        """Strict parse: version, exactly ``ring_size`` responses, canonical scalars, and a
        key image that is a prime-order, non-identity point (no torsion component)."""
        reader = Reader(data)
        version = reader.u8()
        if version != SIGNATURE_VERSION:
            raise UnsupportedVersion(f"ring signature version {version}")
        image = group.check_point(reader.fixed(32))
        c0 = group.check_scalar(reader.fixed(32))
        responses = reader.items(MAX_RING_SIZE, lambda r: group.check_scalar(r.fixed(32)))
        reader.finish()
        if len(responses) != ring_size:
            raise MalformedData(f"ring signature has {len(responses)} responses, ring {ring_size}")
        return cls(image, c0, tuple(responses))


def signature_size(ring_size: int) -> int:
    """Encoded size of a signature over a ring of ``ring_size`` keys."""
    return 1 + 32 + 32 + 4 + 32 * ring_size


def _context(ring: Ring, base: bytes, image: bytes, message: bytes) -> bytes:
    return kdf.digest("ballot-ring-context", ring.digest, base, image, message)


def _challenge(context: bytes, index: int, left: bytes, right: bytes) -> bytes:
    return group.hash_to_scalar("ballot-ring-challenge", context, _U32.pack(index), left, right)


def sign(
    message: bytes,
    ring: Ring,
    index: int,
    secret: bytes,
    scope: bytes,
    rng: Callable[[int], bytes],
) -> RingSignature:
    """Sign ``message`` as ring member ``index`` holding ``secret``, linkable in ``scope``."""
    n = len(ring)
    if not 0 <= index < n:
        raise UsageError("signer index outside the ring")
    if not group.is_canonical_scalar(secret) or group.base_mul(secret) != ring.points[index]:
        raise UsageError("secret does not match the ring key at the signer's index")
    base = key_image_base(scope)
    image = group.mul(secret, base)
    context = _context(ring, base, image, message)
    points = ring.points

    alpha = group.random_scalar(rng)
    challenges: list[bytes] = [b""] * n
    responses: list[bytes] = [b""] * n
    challenges[(index + 1) % n] = _challenge(
        context, index, group.base_mul(alpha), group.mul(alpha, base)
    )
    for step in range(1, n):
        i = (index + step) % n
        s_i = group.random_scalar(rng)
        c_i = challenges[i]
        left = group.add(group.base_mul(s_i), group.mul(c_i, points[i]))
        right = group.add(group.mul(s_i, base), group.mul(c_i, image))
        responses[i] = s_i
        challenges[(i + 1) % n] = _challenge(context, i, left, right)
    responses[index] = group.scalar_sub(alpha, group.scalar_mul(challenges[index], secret))
    return RingSignature(image, challenges[0], tuple(responses))


def verify(message: bytes, ring: Ring, scope: bytes, signature: RingSignature) -> None:
    """Raise ``BadSignature`` unless ``signature`` is a ring signature on ``message`` by a
    member of ``ring`` in ``scope``.  Never returns a boolean."""
    n = len(ring)
    if len(signature.responses) != n:
        raise BadSignature("ring signature does not match the ring size")
    # A hand-built RingSignature skipped decode(): check its fields here too.
    try:
        group.check_point(signature.key_image)
        group.check_scalar(signature.c0)
        for response in signature.responses:
            group.check_scalar(response)
    except MalformedData:
        raise BadSignature("ring signature has an invalid field") from None
    base = key_image_base(scope)
    image = signature.key_image
    context = _context(ring, base, image, message)

    base_mul, mul, add = group.base_mul, group.mul, group.add
    challenge = signature.c0
    for i, (point, s_i) in enumerate(zip(ring.points, signature.responses, strict=True)):
        left = add(base_mul(s_i), mul(challenge, point))
        right = add(mul(s_i, base), mul(challenge, image))
        challenge = _challenge(context, i, left, right)
    if challenge != signature.c0:
        raise BadSignature("ring signature does not verify")
