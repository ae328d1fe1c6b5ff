"""crypto/sodium.py accepts and rejects exactly what the PyNaCl calls it replaces do."""

from __future__ import annotations

import os

import nacl.bindings
import nacl.exceptions
import nacl.signing
import pytest

from crypto.errors import UsageError
from crypto.sodium import aead_decrypt, verify_signed


def _pynacl_decrypt(ciphertext: bytes, ad: bytes, nonce: bytes, key: bytes) -> bytes | None:
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
    except nacl.exceptions.CryptoError:
        return None


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100, 4096])
def test_aead_decrypt_matches_pynacl_on_every_flipped_byte(size: int) -> None:
    key, nonce, ad = os.urandom(32), os.urandom(24), os.urandom(26)
    plaintext = os.urandom(size)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)
    assert aead_decrypt(ciphertext, ad, nonce, key) == plaintext
    for position in range(0, len(ciphertext), max(1, len(ciphertext) // 40)):
        tampered = bytearray(ciphertext)
        tampered[position] ^= 0x01
        assert aead_decrypt(bytes(tampered), ad, nonce, key) is None
        assert _pynacl_decrypt(bytes(tampered), ad, nonce, key) is None
    for wrong in ((ad + b"x", nonce, key), (ad, os.urandom(24), key), (ad, nonce, os.urandom(32))):
        assert aead_decrypt(ciphertext, *wrong) is None
        assert _pynacl_decrypt(ciphertext, *wrong) is None
    assert aead_decrypt(ciphertext[:-1], ad, nonce, key) is None


def test_aead_decrypt_of_a_ciphertext_shorter_than_its_tag_is_a_failure() -> None:
    # (PyNaCl raises ValueError here; every caller checks the length first anyway.)
    key, nonce = os.urandom(32), os.urandom(24)
    for size in range(16):
        assert aead_decrypt(os.urandom(size), b"", nonce, key) is None


def test_aead_decrypt_refuses_a_wrong_size_key_or_nonce() -> None:
    with pytest.raises(UsageError):
        aead_decrypt(bytes(32), b"", bytes(23), bytes(32))
    with pytest.raises(UsageError):
        aead_decrypt(bytes(32), b"", bytes(24), bytes(31))


def test_verify_signed_matches_crypto_sign_open() -> None:
    signer = nacl.signing.SigningKey.generate()
    public_key = bytes(signer.verify_key)
    for size in (0, 1, 64, 500):
        signed = bytes(signer.sign(os.urandom(size)))
        assert verify_signed(signed, public_key)
        nacl.bindings.crypto_sign_open(signed, public_key)
        for position in range(0, len(signed), max(1, len(signed) // 30)):
            tampered = bytearray(signed)
            tampered[position] ^= 0x80
            assert not verify_signed(bytes(tampered), public_key)
            with pytest.raises(nacl.exceptions.BadSignatureError):
                nacl.bindings.crypto_sign_open(bytes(tampered), public_key)
        other = bytes(nacl.signing.SigningKey.generate().verify_key)
        assert not verify_signed(signed, other)


def test_verify_signed_refuses_malformed_arguments() -> None:
    with pytest.raises(UsageError):
        verify_signed(bytes(63), bytes(32))
    with pytest.raises(UsageError):
        verify_signed(bytes(64), bytes(31))
