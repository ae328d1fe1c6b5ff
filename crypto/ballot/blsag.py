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

    ring_hash = H(RING, P_0, ..., P_{n-1})
    ctx       = H(CONTEXT, ring_hash, Hp, I, message)
    alpha     random;  c_{pi+1} = Hs(ctx, pi, alpha*G, alpha*Hp)
    for i != pi: s_i random;  c_{i+1} = Hs(ctx, i, s_i*G + c_i*P_i, s_i*Hp + c_i*I)
    s_pi      = alpha - c_pi * x
    signature = (I, c_0, s_0, ..., s_{n-1})

Verification recomputes ``c_1, ..., c_n`` from ``c_0`` and requires ``c_n = c_0``.
``Hs`` is ``hash_to_scalar(CHALLENGE, ctx, u32 i, L_i, R_i)``.

Two versions compute the same equations in the same prime-order group and differ in
its encoding (``RingSuite``):

- version 1, edwards25519 (``crypto/ballot/group.py``): labels ``ballot-ring``,
  ``ballot-ring-context``, ``ballot-ring-challenge``, ``Hp`` from
  ``crypto/ballot/hash_to_group.py``.  Rate and client reports, and ballots of
  definition version 1.
- version 2, ristretto255 (``crypto/ballot/ristretto.py``): the same roster keys in
  their ristretto255 encodings, labels ``ballot-ring-v2``, ``ballot-ring-v2-context``,
  ``ballot-ring-v2-challenge``, ``Hp = from_hash(BLAKE2b-512("ballot-hash-to-point-v2",
  scope))``.  Ballots of definition version 2; a member's check costs about 0.6 of
  version 1's (no subgroup re-check per multiplication).

A key image of one version never equals one of the other, so the version of every
signature in a scope is fixed by whoever defines the scope (a ballot's definition),
never chosen by the signer: otherwise one member could sign twice, once per version.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from crypto import kdf
from crypto.ballot import group, ristretto
from crypto.ballot.hash_to_group import hash_to_point
from crypto.errors import BadSignature, MalformedData, UnsupportedVersion, UsageError
from crypto.wire import Reader, Writer

__all__ = [
    "EDWARDS",
    "MAX_RING_SIZE",
    "RISTRETTO",
    "SIGNATURE_VERSION",
    "Ring",
    "RingSignature",
    "RingSuite",
    "key_image",
    "key_image_base",
    "sign",
    "signature_size",
    "suite_of",
    "verify",
]

SIGNATURE_VERSION: Final = 1
"""The version of a signature made without naming a suite (reports)."""
# 4096 members make a 128 KiB signature, inside a message body's 192 KiB.
MAX_RING_SIZE: Final = 4096

_U32 = struct.Struct(">I")


def _same(point: bytes) -> bytes:
    return point


@dataclass(frozen=True)
class RingSuite:
    """The encoding a ring signature computes in, and the labels that keep versions apart.

    ``element`` turns a roster key (an edwards25519 point ``check_point`` accepted) into
    this suite's encoding of the same group element.
    """

    version: int
    ring_label: str
    context_label: str
    challenge_label: str
    image_base: Callable[[bytes], bytes]
    element: Callable[[bytes], bytes]
    check_point: Callable[[bytes], bytes]
    base_mul: Callable[[bytes], bytes]
    mul: Callable[[bytes, bytes], bytes]
    add: Callable[[bytes, bytes], bytes]


EDWARDS: Final = RingSuite(
    version=1,
    ring_label="ballot-ring",
    context_label="ballot-ring-context",
    challenge_label="ballot-ring-challenge",
    image_base=lambda scope: hash_to_point("ballot-hash-to-point", scope),
    element=_same,
    check_point=group.check_point,
    base_mul=group.base_mul,
    mul=group.mul,
    add=group.add,
)

RISTRETTO: Final = RingSuite(
    version=2,
    ring_label="ballot-ring-v2",
    context_label="ballot-ring-v2-context",
    challenge_label="ballot-ring-v2-challenge",
    image_base=lambda scope: ristretto.hash_to_point("ballot-hash-to-point-v2", scope),
    element=ristretto.from_checked_edwards,
    check_point=ristretto.check_point,
    base_mul=ristretto.base_mul,
    mul=ristretto.mul,
    add=ristretto.add,
)

_SUITES: Final = {EDWARDS.version: EDWARDS, RISTRETTO.version: RISTRETTO}


def suite_of(version: int) -> RingSuite:
    """The suite of signature ``version``; ``UnsupportedVersion`` for an unknown one."""
    try:
        return _SUITES[version]
    except KeyError:
        raise UnsupportedVersion(f"ring signature version {version}") from None


def key_image_base(scope: bytes, suite: RingSuite = EDWARDS) -> bytes:
    """``Hp(scope)``: the base of key images in this scope; nobody chooses or knows its log."""
    return suite.image_base(scope)


def key_image(secret: bytes, scope: bytes, suite: RingSuite = EDWARDS) -> bytes:
    """``I = x * Hp(scope)``: equal for every signature by ``x`` in ``scope`` (and suite)."""
    return suite.mul(secret, suite.image_base(scope))


@dataclass(frozen=True)
class Ring:
    """An ordered list of validated, distinct public keys (build once per ballot, reuse).

    ``points`` are the roster's edwards25519 keys, ``elements`` the same keys in the
    suite's encoding (the same bytes for version 1).
    """

    points: tuple[bytes, ...]
    suite: RingSuite = field(repr=False)
    elements: tuple[bytes, ...] = field(repr=False, compare=False)
    digest: bytes = field(repr=False, compare=False)

    @classmethod
    def of(cls, points: Sequence[bytes], suite: RingSuite = EDWARDS) -> Ring:
        """Validate every key (``MalformedData`` on a bad or repeated one) and keep the order."""
        if not 1 <= len(points) <= MAX_RING_SIZE:
            raise MalformedData(f"a ring has 1 to {MAX_RING_SIZE} keys, not {len(points)}")
        for point in points:
            group.check_point(point)
        if len(set(points)) != len(points):
            raise MalformedData("a ring lists the same key twice")
        frozen = tuple(bytes(p) for p in points)
        elements = tuple(suite.element(p) for p in frozen)
        return cls(frozen, suite, elements, kdf.digest(suite.ring_label, *elements))

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
    version: int = SIGNATURE_VERSION

    def encode(self) -> bytes:
        """``u8 version | bytes32 I | bytes32 c_0 | list(MAX_RING_SIZE, bytes32) s``."""
        writer = Writer().u8(self.version).fixed(self.key_image, 32).fixed(self.c0, 32)
        writer.u32(len(self.responses))
        for response in self.responses:
            writer.fixed(response, 32)
        return bytes(writer)

    @classmethod
    def decode(cls, data: bytes, ring_size: int, suite: RingSuite = EDWARDS) -> RingSignature:
        """Strict parse: ``suite``'s version, exactly ``ring_size`` responses, canonical
        scalars, and a key image that is a valid non-identity element of the suite (for
        edwards25519: prime order, no torsion component)."""
        reader = Reader(data)
        version = reader.u8()
        if version not in _SUITES:
            raise UnsupportedVersion(f"ring signature version {version}")
        if version != suite.version:
            raise MalformedData(
                f"ring signature version {version} where the ring is version {suite.version}"
            )
        image = suite.check_point(reader.fixed(32))
        c0 = group.check_scalar(reader.fixed(32))
        responses = reader.items(MAX_RING_SIZE, lambda r: group.check_scalar(r.fixed(32)))
        reader.finish()
        if len(responses) != ring_size:
            raise MalformedData(f"ring signature has {len(responses)} responses, ring {ring_size}")
        return cls(image, c0, tuple(responses), version)


def signature_size(ring_size: int) -> int:
    """Encoded size of a signature over a ring of ``ring_size`` keys (either version)."""
    return 1 + 32 + 32 + 4 + 32 * ring_size


def _context(ring: Ring, base: bytes, image: bytes, message: bytes) -> bytes:
    return kdf.digest(ring.suite.context_label, ring.digest, base, image, message)


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
    suite = ring.suite
    if not 0 <= index < n:
        raise UsageError("signer index outside the ring")
    if not group.is_canonical_scalar(secret) or group.base_mul(secret) != ring.points[index]:
        raise UsageError("secret does not match the ring key at the signer's index")
    base = suite.image_base(scope)
    image = suite.mul(secret, base)
    context = _context(ring, base, image, message)
    points = ring.elements
    base_mul, mul, add, label = suite.base_mul, suite.mul, suite.add, suite.challenge_label

    alpha = group.random_scalar(rng)
    challenges: list[bytes] = [b""] * n
    responses: list[bytes] = [b""] * n
    challenges[(index + 1) % n] = group.hash_to_scalar(
        label, context, _U32.pack(index), base_mul(alpha), mul(alpha, base)
    )
    for step in range(1, n):
        i = (index + step) % n
        s_i = group.random_scalar(rng)
        c_i = challenges[i]
        left = add(base_mul(s_i), mul(c_i, points[i]))
        right = add(mul(s_i, base), mul(c_i, image))
        responses[i] = s_i
        challenges[(i + 1) % n] = group.hash_to_scalar(label, context, _U32.pack(i), left, right)
    responses[index] = group.scalar_sub(alpha, group.scalar_mul(challenges[index], secret))
    return RingSignature(image, challenges[0], tuple(responses), suite.version)


def verify(message: bytes, ring: Ring, scope: bytes, signature: RingSignature) -> None:
    """Raise ``BadSignature`` unless ``signature`` is a ring signature on ``message`` by a
    member of ``ring`` in ``scope``.  Never returns a boolean."""
    n = len(ring)
    suite = ring.suite
    if signature.version != suite.version:
        raise BadSignature("ring signature is of another version than the ring")
    if len(signature.responses) != n:
        raise BadSignature("ring signature does not match the ring size")
    # A hand-built RingSignature skipped decode(): check its fields here too.
    try:
        suite.check_point(signature.key_image)
        group.check_scalar(signature.c0)
        for response in signature.responses:
            group.check_scalar(response)
    except MalformedData:
        raise BadSignature("ring signature has an invalid field") from None
    base = suite.image_base(scope)
    image = signature.key_image
    context = _context(ring, base, image, message)

    base_mul, mul, add, label = suite.base_mul, suite.mul, suite.add, suite.challenge_label
    hash_to_scalar, pack = group.hash_to_scalar, _U32.pack
    challenge = signature.c0
    for i, (point, s_i) in enumerate(zip(ring.elements, signature.responses, strict=True)):
        left = add(base_mul(s_i), mul(challenge, point))
        right = add(mul(s_i, base), mul(challenge, image))
        challenge = hash_to_scalar(label, context, pack(i), left, right)
    if challenge != signature.c0:
        raise BadSignature("ring signature does not verify")
