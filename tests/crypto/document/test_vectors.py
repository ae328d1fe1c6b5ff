"""Known-answer vectors (tests/crypto/vectors/documents.json), checked two ways: our code
must reproduce them, and independent code (libsodium through PyNaCl's hash and raw
secretstream bindings, OpenSSL through pyca/cryptography) must agree with them."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
from pathlib import Path

import nacl.encoding
import nacl.hash
import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
)

from crypto.document import announce, minisign, stream
from crypto.document.hashing import hash_file
from tests.crypto.document import gen_vectors

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "documents.json").read_text()
)
RAW = nacl.encoding.RawEncoder


def frame(label: str, *parts: bytes) -> bytes:
    """protocol.md section 0, written out again here rather than imported."""
    name = b"caucus/v1/" + label.encode()
    return (
        struct.pack(">H", len(name)) + name + b"".join(struct.pack(">I", len(p)) + p for p in parts)
    )


def test_vectors_say_where_they_come_from() -> None:
    assert "gen_vectors.py" in VECTORS["origin"] and "minisign" in VECTORS["origin"]


def test_generator_reproduces_the_deterministic_fields() -> None:
    assert gen_vectors.minisign_vector() == VECTORS["minisign"]
    assert gen_vectors.keys_vector() == VECTORS["keys"]
    assert gen_vectors.announcement_vector() == VECTORS["announcement"]


def test_minisign_vector_independently() -> None:
    v = VECTORS["minisign"]
    seed, pk = bytes.fromhex(v["signing_seed"]), bytes.fromhex(v["public_key"])
    assert bytes(nacl.signing.SigningKey(seed).verify_key) == pk
    key_id = nacl.hash.blake2b(frame("minisign-key-id", pk), digest_size=8, encoder=RAW)
    assert key_id.hex() == v["key_id"] == minisign.minisign_key_id(pk).hex()
    assert v["key_id_hex"] == f"{int.from_bytes(key_id, 'little'):016X}"
    data = bytes.fromhex(v["file"])
    prehash = nacl.hash.blake2b(data, digest_size=64, encoder=RAW)
    assert prehash.hex() == v["blake2b512"] == hashlib.blake2b(data).hexdigest()
    lines = v["signature_file"].split("\n")
    struct_bytes = base64.b64decode(lines[1])
    assert struct_bytes[:10] == b"ED" + key_id
    openssl_key = Ed25519PublicKey.from_public_bytes(pk)
    openssl_key.verify(struct_bytes[10:], prehash)
    assert lines[2] == "trusted comment: " + v["trusted_comment"]
    openssl_key.verify(
        base64.b64decode(lines[3]), struct_bytes[10:] + v["trusted_comment"].encode()
    )
    assert base64.b64decode(v["public_key_file"].split("\n")[1]) == b"Ed" + key_id + pk
    minisign.verify(pk, prehash, minisign.parse_signature(v["signature_file"]))


def test_key_vector_independently() -> None:
    v = VECTORS["keys"]
    key = bytes.fromhex(v["content_key"])

    def kdf(label: str, size: int = 32) -> str:
        return nacl.hash.blake2b(frame(label), key=key, digest_size=size, encoder=RAW).hex()

    assert v["stream_key"] == kdf("document-stream-key")
    assert v["blob_id"] == kdf("document-blob-id", 16)
    assert v["blob_capability"] == kdf("document-blob-cap")


def test_stream_vectors_open_with_raw_libsodium_and_with_ours() -> None:
    for v in VECTORS["stream"]:
        key, doc = bytes.fromhex(v["content_key"]), bytes.fromhex(v["document_id"])
        chunks = [bytes.fromhex(c) for c in v["chunks"]]
        plaintext = bytes.fromhex(v["plaintext"])
        stream_key = nacl.hash.blake2b(
            frame("document-stream-key"), key=key, digest_size=32, encoder=RAW
        )
        ad = frame("document-chunk", doc, struct.pack(">I", v["version"]), b"\x02")
        state = crypto_secretstream_xchacha20poly1305_state()
        assert chunks[0][0] == 2
        crypto_secretstream_xchacha20poly1305_init_pull(state, chunks[0][1:25], stream_key)
        m, tag = crypto_secretstream_xchacha20poly1305_pull(state, chunks[0][25:], ad)
        # Both documents are under 4 KiB: padded with zeros to 4,096 bytes (section 3).
        padded = plaintext + bytes(4096 - len(plaintext))
        assert (m, tag) == (padded, crypto_secretstream_xchacha20poly1305_TAG_FINAL)
        size = len(plaintext)
        assert b"".join(stream.decrypt_stream(key, doc, v["version"], size, chunks)) == plaintext


def test_announcement_vector_independently() -> None:
    v = VECTORS["announcement"]
    encoded = bytes.fromhex(v["encoded"])
    ann = announce.Announcement.decode(encoded)
    data = bytes.fromhex(v["file"])
    assert ann.digest == hash_file(io.BytesIO(data))
    assert ann.sha256 == hashlib.sha256(data).digest()
    assert ann.trusted_comment == v["trusted_comment"]
    openssl_key = Ed25519PublicKey.from_public_bytes(ann.signer)
    openssl_key.verify(encoded[-64:], frame("document-announcement", encoded[:-64]))
    openssl_key.verify(ann.file_signature, nacl.hash.blake2b(data, digest_size=64, encoder=RAW))
    openssl_key.verify(ann.comment_signature, ann.file_signature + v["trusted_comment"].encode())
    assert announce.export(ann).signature_text == v["signature_file"]
    ack = announce.Acknowledgement.decode(bytes.fromhex(v["acknowledgement"]))
    announce.check_acknowledgement(ack, ann)
