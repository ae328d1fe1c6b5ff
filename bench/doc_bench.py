"""How fast documents encrypt and decrypt, against raw libsodium secretstream underneath.

For 1 MB and 100 MB documents held in memory (so disk speed does not enter), measures in
one process: raw secretstream push/pull through ``nacl.bindings`` with the same 1 MiB
chunks; our ``encrypt_stream`` / ``StreamDecryptor``; and the two paths the client really
runs, publishing (hash while encrypting) and opening (decrypt, hash, check the signed
hash).  The ratio is the share of raw speed our layer keeps.  Best of ``--rounds``.

    python bench/doc_bench.py [--rounds 3] [--sizes 1000000,100000000]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nacl.bindings as sodium
import nacl.signing

from crypto.document.announce import Announcement, open_document, publish
from crypto.document.hashing import ContentHasher, read_pieces
from crypto.document.stream import CHUNK_SIZE, StreamDecryptor, encrypt_stream

DOC_ID = bytes(16)
AD = b"x" * 59  # the length of our associated data frame


def raw_encrypt(data: bytes, key: bytes) -> list[bytes]:
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    out = [header]
    view = memoryview(data)
    last = max(0, (len(data) - 1) // CHUNK_SIZE)
    for index in range(last + 1):
        piece = bytes(view[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE])
        tag = (
            sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
            if index == last
            else sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        )
        out.append(sodium.crypto_secretstream_xchacha20poly1305_push(state, piece, AD, tag))
    return out


def raw_decrypt(chunks: list[bytes], key: bytes) -> int:
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, chunks[0], key)
    total = 0
    for chunk in chunks[1:]:
        plaintext, _ = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, AD)
        total += len(plaintext)
    return total


def ours_encrypt(data: bytes, key: bytes) -> list[bytes]:
    return list(encrypt_stream(key, DOC_ID, 1, io.BytesIO(data)))


def ours_decrypt(chunks: list[bytes], key: bytes, size: int) -> int:
    decryptor = StreamDecryptor(key, DOC_ID, 1, size)
    total = sum(len(decryptor.feed(chunk)) for chunk in chunks)
    decryptor.finish()
    return total


def publish_path(data: bytes, key: bytes, signer: nacl.signing.SigningKey) -> Announcement:
    hasher = ContentHasher()
    for _chunk in encrypt_stream(key, DOC_ID, 1, hasher.tee(read_pieces(io.BytesIO(data)))):
        pass  # the client uploads each chunk here
    return publish(
        signer,
        group_id=bytes(16),
        document_id=DOC_ID,
        version=1,
        published_at=0,
        title="bench",
        filename="bench.bin",
        media_type="application/octet-stream",
        note="",
        digest=hasher.result(),
        content_key=key,
    )


def open_path(ann: Announcement, chunks: list[bytes]) -> int:
    return sum(len(piece) for piece in open_document(ann, chunks))


def best(rounds: int, work: Callable[..., object], *args: object) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def measure(
    size: int, rounds: int, key: bytes, signer: nacl.signing.SigningKey
) -> list[tuple[str, float, float]]:
    """(operation, raw seconds, our seconds) for one document size."""
    data = os.urandom(size)
    raw_chunks = raw_encrypt(data, key)
    our_chunks = ours_encrypt(data, key)
    ann = publish_path(data, key, signer)
    raw_enc = best(rounds, raw_encrypt, data, key)
    raw_dec = best(rounds, raw_decrypt, raw_chunks, key)
    return [
        ("encrypt", raw_enc, best(rounds, ours_encrypt, data, key)),
        ("decrypt", raw_dec, best(rounds, ours_decrypt, our_chunks, key, size)),
        ("publish (hash + encrypt)", raw_enc, best(rounds, publish_path, data, key, signer)),
        ("open (decrypt + check)", raw_dec, best(rounds, open_path, ann, our_chunks)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="1000000,100000000")
    args = parser.parse_args()
    key = os.urandom(32)
    signer = nacl.signing.SigningKey(os.urandom(32))
    print(f"chunk size {CHUNK_SIZE} bytes; best of {args.rounds} rounds; MB = 10^6 bytes")
    print(f"{'size':>12} {'operation':<26} {'raw MB/s':>9} {'ours MB/s':>9} {'ratio':>6}")
    for size in (int(s) for s in args.sizes.split(",")):
        rounds = args.rounds * (20 if size <= 10 * CHUNK_SIZE else 1)
        for name, raw_s, ours_s in measure(size, rounds, key, signer):
            raw_rate, our_rate = size / raw_s / 1e6, size / ours_s / 1e6
            ratio = our_rate / raw_rate
            print(f"{size:>12} {name:<26} {raw_rate:>9.0f} {our_rate:>9.0f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
