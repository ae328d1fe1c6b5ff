"""The two libsodium calls a catch-up makes per message, without PyNaCl's wrappers.

Opening a message runs XChaCha20-Poly1305 decryption twice (sender data, then the
message) and one Ed25519 verification.  ``nacl.bindings`` checks and formats its
argument errors on every call (it builds three error strings per decryption even when
nothing is wrong) and its ``crypto_sign_open`` copies the signed message out again,
which libsodium does not need; together that cost more than the cryptography itself for
a short message (bench/client_bench.py, docs/protocol.md 7.7).  These call the same
libsodium functions through PyNaCl's own compiled binding, with the checks that keep the
C calls in bounds done here.  They accept and reject exactly what the PyNaCl calls do
(tests/crypto/test_sodium.py compares them).
"""

from __future__ import annotations

from typing import Any

import nacl.bindings  # noqa: F401  (importing it initialises libsodium)
from nacl._sodium import ffi, lib

from crypto.errors import UsageError

__all__ = ["aead_decrypt", "verify_signed"]

_KEY_SIZE = 32
_NONCE_SIZE = 24
_TAG_SIZE = 16
_SIGNATURE_SIZE = 64
_PUBLIC_KEY_SIZE = 32

_ffi: Any = ffi
_lib: Any = lib
_NULL = _ffi.NULL


def aead_decrypt(ciphertext: bytes, ad: bytes, nonce: bytes, key: bytes) -> bytes | None:
    """XChaCha20-Poly1305 (IETF) decryption: the plaintext, or None when the tag does not
    verify (``nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt`` would raise
    ``CryptoError``; for a ciphertext shorter than the tag, where PyNaCl raises
    ``ValueError``, also None).  ``UsageError`` for a nonce or key of the wrong size."""
    if len(nonce) != _NONCE_SIZE or len(key) != _KEY_SIZE:
        raise UsageError("nonce must be 24 bytes and key 32 bytes")
    size = len(ciphertext) - _TAG_SIZE
    if size < 0:
        return None
    out = _ffi.new("unsigned char[]", size or 1)
    result = _lib.crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, _NULL, _NULL, ciphertext, len(ciphertext), ad, len(ad), nonce, key
    )
    if result != 0:
        return None
    plaintext: bytes = _ffi.buffer(out, size)[:]
    return plaintext


def verify_signed(signed: bytes, public_key: bytes) -> bool:
    """Ed25519: whether ``signed`` (``signature | message``) verifies under
    ``public_key``, as ``nacl.bindings.crypto_sign_open`` decides, without copying the
    message out."""
    if len(signed) < _SIGNATURE_SIZE or len(public_key) != _PUBLIC_KEY_SIZE:
        raise UsageError("signed message shorter than a signature, or public key not 32 bytes")
    return bool(_lib.crypto_sign_open(_NULL, _NULL, signed, len(signed), public_key) == 0)
