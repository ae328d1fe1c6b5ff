"""How fast a receiver opens group messages, against the raw primitives underneath.

Opens N messages from one sender the way the client does (``open_sender_data``, then
``ReceiveChain.key_for``, then ``open_message``) and, in the same process, performs one
raw PyNaCl XChaCha20-Poly1305 decryption plus one Ed25519 verification per message of
the same sizes.  The ratio is the share of the primitives' speed our code keeps; the
protocol costs one more (small) AEAD for the sender data and three BLAKE2b steps.

    python bench/crypto_bench.py [--count 10000] [--body 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nacl.bindings
import nacl.signing

from crypto.identity import Identity
from crypto.key_schedule import EpochKeys
from crypto.message import open_message, open_sender_data, seal_message
from crypto.ratchet import ReceiveChain, SendChain


def seal_many(count: int, body_size: int) -> tuple[EpochKeys, bytes, list[bytes]]:
    keys = EpochKeys.derive(os.urandom(16), 7, os.urandom(32))
    sender = Identity.generate(os.urandom, 0)
    chain = SendChain.start(keys, 3)
    body = os.urandom(body_size)
    items = []
    prev = bytes(32)
    for n in range(count):
        sealed = seal_message(keys, chain, sender, 1, body, n, bytes(32), prev, os.urandom)
        items.append(sealed.item)
        chain, prev = sealed.chain, sealed.message_hash
    return keys, sender.public_key, items


def run_protocol(keys: EpochKeys, sender_pk: bytes, items: list[bytes]) -> float:
    chain = ReceiveChain.start(keys, 3)
    start = time.perf_counter()
    for item in items:
        envelope = open_sender_data(keys, item)
        message_keys, next_chain = chain.key_for(envelope.counter)
        open_message(keys, envelope, message_keys, sender_pk)
        chain = next_chain
    return time.perf_counter() - start


def raw_payloads(count: int, item_size: int) -> tuple[list[tuple[bytes, bytes]], bytes, bytes]:
    """(ciphertext, signature | message) pairs of the same sizes as the items."""
    key = os.urandom(32)
    nonce = os.urandom(24)
    signing_key = nacl.signing.SigningKey(os.urandom(32))
    plaintext_size = item_size - 62 - 16
    payloads = []
    for _ in range(count):
        plaintext = os.urandom(plaintext_size)
        ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, b"a" * 38, nonce, key
        )
        signed = signing_key.sign(plaintext[: plaintext_size - 64]).signature
        payloads.append((ciphertext, signed + plaintext[: plaintext_size - 64]))
    return payloads, key + nonce, bytes(signing_key.verify_key)


def run_raw(payloads: list[tuple[bytes, bytes]], key_nonce: bytes, pk: bytes) -> float:
    key, nonce = key_nonce[:32], key_nonce[32:]
    decrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt
    verify = nacl.bindings.crypto_sign_open
    ad = b"a" * 38
    start = time.perf_counter()
    for ciphertext, signed in payloads:
        decrypt(ciphertext, ad, nonce, key)
        verify(signed, pk)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--body", type=int, default=200, help="message body size in bytes")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    keys, sender_pk, items = seal_many(args.count, args.body)
    payloads, key_nonce, pk = raw_payloads(args.count, len(items[0]))
    ours = min(run_protocol(keys, sender_pk, items) for _ in range(args.rounds))
    raw = min(run_raw(payloads, key_nonce, pk) for _ in range(args.rounds))
    print(f"messages: {args.count}, body {args.body} B, item {len(items[0])} B")
    print(f"protocol open: {args.count / ours:9.0f} msg/s  ({ours / args.count * 1e6:5.1f} us/msg)")
    print(
        f"raw AEAD+Ed25519: {args.count / raw:6.0f} msg/s  ({raw / args.count * 1e6:5.1f} us/msg)"
    )
    print(f"ratio: {raw / ours:.2f}")


if __name__ == "__main__":
    main()
