"""Identity keys (Ed25519), delivery keys (X25519) and their certificates, fingerprints.

The identity key signs; the delivery key receives sealed boxes and is certified by the
identity key so it can rotate without changing who the member is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nacl.exceptions
import nacl.public
import nacl.signing

from crypto import kdf
from crypto.errors import BadSignature, MalformedData, UnsupportedVersion, UsageError
from crypto.wire import Reader, Writer

__all__ = [
    "DELIVERY_CERT_SIZE",
    "DeliveryCert",
    "Identity",
    "Rng",
    "fingerprint",
    "safety_number",
    "sign_framed",
    "verify_framed",
]

Rng = Callable[[int], bytes]

VERSION = 1
DELIVERY_CERT_SIZE = 1 + 32 + 32 + 8 + 64


def sign_framed(signing_key: nacl.signing.SigningKey, label: str, *parts: bytes) -> bytes:
    """Ed25519 signature over ``frame(label, parts)``: 64 bytes."""
    return bytes(signing_key.sign(kdf.frame(label, parts)).signature)


def verify_framed(public_key: bytes, signature: bytes, label: str, *parts: bytes) -> None:
    """Raise ``BadSignature`` unless ``signature`` is valid over ``frame(label, parts)``."""
    if len(public_key) != 32 or len(signature) != 64:
        raise BadSignature("signature or key has the wrong length")
    try:
        nacl.signing.VerifyKey(public_key).verify(kdf.frame(label, parts), signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise BadSignature("signature does not verify") from None


def fingerprint(identity_pk: bytes) -> bytes:
    """32-byte fingerprint of an identity public key; shown as hex."""
    if len(identity_pk) != 32:
        raise UsageError("identity key must be 32 bytes")
    return kdf.digest("fingerprint", identity_pk)


def safety_number(pk_a: bytes, pk_b: bytes) -> str:
    """60 digits both members compute identically (see protocol section 1)."""
    halves = []
    for pk in sorted((pk_a, pk_b)):
        material = kdf.digest("safety-number", pk, size=64)
        digits = "".join(
            f"{int.from_bytes(material[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
        )
        halves.append(digits)
    return "".join(halves)


@dataclass(frozen=True)
class DeliveryCert:
    """An X25519 delivery key certified by an identity key."""

    identity_pk: bytes
    delivery_pk: bytes
    created_at: int
    signature: bytes

    def _signed_part(self) -> bytes:
        return bytes(
            Writer()
            .u8(VERSION)
            .fixed(self.identity_pk, 32)
            .fixed(self.delivery_pk, 32)
            .u64(self.created_at)
        )

    def encode(self) -> bytes:
        return self._signed_part() + self.signature

    @classmethod
    def read(cls, reader: Reader) -> DeliveryCert:
        version = reader.u8()
        if version != VERSION:
            raise UnsupportedVersion(f"delivery certificate version {version}")
        cert = cls(
            identity_pk=reader.fixed(32),
            delivery_pk=reader.fixed(32),
            created_at=reader.u64(),
            signature=reader.fixed(64),
        )
        cert.verify()
        return cert

    @classmethod
    def decode(cls, data: bytes) -> DeliveryCert:
        reader = Reader(data)
        cert = cls.read(reader)
        reader.finish()
        return cert

    def verify(self) -> None:
        verify_framed(self.identity_pk, self.signature, "delivery-cert", self._signed_part())


@dataclass(frozen=True)
class Identity:
    """A profile's private keys. Never encoded except into the encrypted local store."""

    signing_key: nacl.signing.SigningKey
    delivery_key: nacl.public.PrivateKey
    delivery_cert: DeliveryCert

    @classmethod
    def generate(cls, rng: Rng, now: int) -> Identity:
        signing_key = nacl.signing.SigningKey(rng(32))
        delivery_key = nacl.public.PrivateKey(rng(32))
        return cls.from_keys(signing_key, delivery_key, now)

    @classmethod
    def from_keys(
        cls, signing_key: nacl.signing.SigningKey, delivery_key: nacl.public.PrivateKey, now: int
    ) -> Identity:
        unsigned = DeliveryCert(
            identity_pk=bytes(signing_key.verify_key),
            delivery_pk=bytes(delivery_key.public_key),
            created_at=now,
            signature=b"",
        )
        signature = sign_framed(signing_key, "delivery-cert", unsigned._signed_part())
        cert = DeliveryCert(unsigned.identity_pk, unsigned.delivery_pk, now, signature)
        return cls(signing_key, delivery_key, cert)

    def with_new_delivery_key(self, rng: Rng, now: int) -> Identity:
        """This identity with a fresh delivery key and its certificate (a rotation)."""
        return Identity.from_keys(self.signing_key, nacl.public.PrivateKey(rng(32)), now)

    def with_delivery_key(
        self, delivery_key: nacl.public.PrivateKey, cert: DeliveryCert
    ) -> Identity:
        """This identity holding another of its delivery keys; ``UsageError`` unless
        ``cert`` certifies that key for this identity."""
        if cert.identity_pk != self.public_key or cert.delivery_pk != bytes(
            delivery_key.public_key
        ):
            raise UsageError("the certificate does not certify this delivery key for this identity")
        return Identity(self.signing_key, delivery_key, cert)

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def fingerprint(self) -> bytes:
        return fingerprint(self.public_key)

    def sign(self, label: str, *parts: bytes) -> bytes:
        return sign_framed(self.signing_key, label, *parts)

    def secret_bytes(self) -> tuple[bytes, bytes, bytes]:
        """(signing seed, delivery secret, encoded certificate) for the encrypted store."""
        return (bytes(self.signing_key), bytes(self.delivery_key), self.delivery_cert.encode())

    @classmethod
    def from_secret_bytes(cls, seed: bytes, delivery: bytes, cert: bytes) -> Identity:
        if len(seed) != 32 or len(delivery) != 32:
            raise MalformedData("stored identity keys have the wrong length")
        signing_key = nacl.signing.SigningKey(seed)
        delivery_key = nacl.public.PrivateKey(delivery)
        decoded = DeliveryCert.decode(cert)
        if decoded.identity_pk != bytes(signing_key.verify_key) or decoded.delivery_pk != bytes(
            delivery_key.public_key
        ):
            raise MalformedData("stored delivery certificate does not match the keys")
        return cls(signing_key, delivery_key, decoded)
