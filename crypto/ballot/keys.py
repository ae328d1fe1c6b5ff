"""Ballot key pairs and their proof of possession (the body of a BALLOT_KEY log entry).

A member's ballot key is a scalar ``x`` with ``P = x*G``, one per group membership (so keys
are unlinkable across groups).  It is registered with a Schnorr proof of possession over
the member's identity key and the group id, so nobody can register another member's key,
a key someone else derived (``P' = P + d*G``), or reuse a proof from another group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from crypto.ballot import group
from crypto.errors import BadSignature, MalformedData, UnsupportedVersion, UsageError
from crypto.wire import Reader, Writer

__all__ = [
    "BALLOT_KEY_RECORD_VERSION",
    "POP_SIZE",
    "BallotKeyPair",
    "BallotKeyRecord",
    "make_pop",
    "verify_pop",
]

BALLOT_KEY_RECORD_VERSION: Final = 1
POP_SIZE: Final = 64


@dataclass(frozen=True)
class BallotKeyPair:
    """A ballot secret scalar and its public point; the secret never shows in ``repr``."""

    secret: bytes = field(repr=False)
    public: bytes

    @classmethod
    def generate(cls, rng: Callable[[int], bytes]) -> BallotKeyPair:
        """A fresh key pair from 64 bytes of ``rng`` (uniform mod L, never zero)."""
        return cls.from_secret(group.random_scalar(rng))

    @classmethod
    def from_secret(cls, secret: bytes) -> BallotKeyPair:
        """Rebuild from the stored scalar; ``MalformedData`` if it is not canonical or zero."""
        group.check_scalar(secret)
        if secret == group.ZERO_SCALAR:
            raise MalformedData("ballot secret is zero")
        return cls(bytes(secret), group.base_mul(secret))

    def secret_bytes(self) -> bytes:
        """The 32-byte scalar, for the encrypted local store only."""
        return self.secret


def _pop_challenge(public: bytes, commitment: bytes, identity_pk: bytes, group_id: bytes) -> bytes:
    if len(identity_pk) != 32 or len(group_id) != 16:
        raise UsageError("identity key must be 32 bytes and group id 16 bytes")
    return group.hash_to_scalar("ballot-key-pop", group_id, identity_pk, public, commitment)


def make_pop(
    keypair: BallotKeyPair, identity_pk: bytes, group_id: bytes, rng: Callable[[int], bytes]
) -> bytes:
    """Schnorr proof ``R | s`` that the holder of ``identity_pk`` knows ``x`` for ``P``.

    ``k`` random, ``R = k*G``, ``e = Hs("ballot-key-pop", group_id, identity_pk, P, R)``,
    ``s = k + e*x``.  64 bytes.
    """
    k = group.random_scalar(rng)
    commitment = group.base_mul(k)
    e = _pop_challenge(keypair.public, commitment, identity_pk, group_id)
    s = group.scalar_add(k, group.scalar_mul(e, keypair.secret))
    return commitment + s


def verify_pop(public: bytes, pop: bytes, identity_pk: bytes, group_id: bytes) -> None:
    """Raise ``BadSignature`` unless ``pop`` proves knowledge of ``public``'s secret,
    bound to ``identity_pk`` and ``group_id``; ``MalformedData`` for bad encodings."""
    group.check_point(public)
    if len(pop) != POP_SIZE:
        raise MalformedData("proof of possession must be 64 bytes")
    commitment = group.check_point(pop[:32])
    s = group.check_scalar(pop[32:])
    e = _pop_challenge(public, commitment, identity_pk, group_id)
    if group.base_mul(s) != group.add(commitment, group.mul(e, public)):
        raise BadSignature("proof of possession of the ballot key does not verify")


@dataclass(frozen=True)
class BallotKeyRecord:
    """Body of a BALLOT_KEY log entry: ``u8 version=1 | bytes32 ballot_pk | bytes64 pop``.

    The log entry's author is the identity the proof is bound to; the group log code calls
    ``decode(body, author, group_id)``.
    """

    public: bytes
    pop: bytes

    @classmethod
    def create(
        cls,
        keypair: BallotKeyPair,
        identity_pk: bytes,
        group_id: bytes,
        rng: Callable[[int], bytes],
    ) -> BallotKeyRecord:
        return cls(keypair.public, make_pop(keypair, identity_pk, group_id, rng))

    def encode(self) -> bytes:
        return bytes(
            Writer().u8(BALLOT_KEY_RECORD_VERSION).fixed(self.public, 32).fixed(self.pop, POP_SIZE)
        )

    @classmethod
    def decode(cls, body: bytes, identity_pk: bytes, group_id: bytes) -> BallotKeyRecord:
        """Parse strictly and verify the proof for this author and group."""
        reader = Reader(body)
        version = reader.u8()
        if version != BALLOT_KEY_RECORD_VERSION:
            raise UnsupportedVersion(f"ballot key record version {version}")
        record = cls(reader.fixed(32), reader.fixed(POP_SIZE))
        reader.finish()
        verify_pop(record.public, record.pop, identity_pk, group_id)
        return record
