"""Anonymous sealed boxes (libsodium ``crypto_box_seal`` format) with caller-supplied randomness.

``nacl.public.SealedBox.encrypt`` draws its ephemeral key from libsodium's global random
source; ``crypto/`` takes all randomness from the caller's ``rng`` so tests and vectors are
deterministic.  The output is byte-for-byte the libsodium format
(``epk | crypto_box(m, nonce = BLAKE2b-192(epk | pk), pk, esk)``), so PyNaCl's
``SealedBox.decrypt`` opens it; the tests check that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import nacl.bindings
import nacl.exceptions
import nacl.public

from crypto.errors import DecryptionFailed, MalformedData, UsageError

__all__ = ["SEAL_OVERHEAD", "check_delivery_key", "open_sealed", "seal"]

SEAL_OVERHEAD = 32 + 16  # ephemeral public key, Poly1305 tag

# Any clamped scalar works: clamping makes it a multiple of 8, so a point of small order
# multiplies to the identity, which libsodium reports as an error.
_PROBE_SCALAR = bytes(range(1, 33))


def check_delivery_key(public_key: bytes) -> None:
    """Raise ``MalformedData`` unless ``public_key`` is a usable X25519 key.

    A low-order point would make every later ``seal`` to it fail, so a member whose
    certificate carries one could stop every commit; such keys are refused on input.
    """
    if len(public_key) != 32:
        raise MalformedData("delivery key must be 32 bytes")
    try:
        nacl.bindings.crypto_scalarmult(_PROBE_SCALAR, public_key)
    except nacl.exceptions.CryptoError:
        raise MalformedData("delivery key is a low-order point") from None


def seal(recipient_pk: bytes, plaintext: bytes, rng: Callable[[int], bytes]) -> bytes:
    """Encrypt anonymously to an X25519 public key; ``len(plaintext) + 48`` bytes."""
    if len(recipient_pk) != 32:
        raise UsageError("recipient key must be 32 bytes")
    ephemeral_sk = rng(32)
    if len(ephemeral_sk) != 32:
        raise UsageError("rng returned the wrong number of bytes")
    ephemeral_pk = nacl.bindings.crypto_scalarmult_base(ephemeral_sk)
    nonce = hashlib.blake2b(ephemeral_pk + recipient_pk, digest_size=24).digest()
    try:
        boxed = nacl.bindings.crypto_box(plaintext, nonce, recipient_pk, ephemeral_sk)
    except nacl.exceptions.CryptoError:
        raise UsageError("cannot seal to a low-order delivery key") from None
    return ephemeral_pk + boxed


def open_sealed(private_key: nacl.public.PrivateKey, box: bytes) -> bytes:
    """Open a sealed box addressed to ``private_key``; ``DecryptionFailed`` otherwise."""
    if len(box) < SEAL_OVERHEAD:
        raise DecryptionFailed("sealed box is too short")
    try:
        return bytes(nacl.public.SealedBox(private_key).decrypt(box))
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("sealed box does not open with this key") from None
