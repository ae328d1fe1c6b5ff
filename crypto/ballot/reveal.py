"""The per-ballot reveal key: choices are sealed to it, its creator releases it at the close.

The release is ``u8 version=1 | bytes16 ballot_id | bytes32 reveal_sk``, posted by the
creator in a signed group message once the ballot has closed.  Every member checks that
the secret matches the definition's ``reveal_pk`` (``RevealKeyMismatch`` otherwise), so a
wrong key cannot produce a different tally: it produces none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import nacl.bindings

from crypto.ballot.errors import RevealKeyMismatch
from crypto.errors import MalformedData, UnsupportedVersion, UsageError
from crypto.wire import Reader, Writer

__all__ = ["REVEAL_VERSION", "RevealKey"]

REVEAL_VERSION: Final = 1


@dataclass(frozen=True)
class RevealKey:
    """An X25519 key pair; the secret never shows in ``repr``."""

    secret: bytes = field(repr=False)
    public: bytes

    @classmethod
    def generate(cls, rng: Callable[[int], bytes]) -> RevealKey:
        return cls.from_secret(rng(32))

    @classmethod
    def from_secret(cls, secret: bytes) -> RevealKey:
        if len(secret) != 32:
            raise UsageError("reveal secret must be 32 bytes")
        return cls(bytes(secret), nacl.bindings.crypto_scalarmult_base(secret))

    def encode_release(self, ballot_id: bytes) -> bytes:
        """The creator's release message body for ``ballot_id``."""
        return bytes(Writer().u8(REVEAL_VERSION).fixed(ballot_id, 16).fixed(self.secret, 32))

    @classmethod
    def decode_release(cls, data: bytes, ballot_id: bytes, reveal_pk: bytes) -> RevealKey:
        """Parse a release and check it belongs to this ballot and matches ``reveal_pk``."""
        reader = Reader(data)
        version = reader.u8()
        if version != REVEAL_VERSION:
            raise UnsupportedVersion(f"reveal release version {version}")
        released_for = reader.fixed(16)
        secret = reader.fixed(32)
        reader.finish()
        if released_for != ballot_id:
            raise MalformedData("reveal release names another ballot")
        key = cls.from_secret(secret)
        if key.public != reveal_pk:
            raise RevealKeyMismatch("released key does not match the ballot's reveal key")
        return key
