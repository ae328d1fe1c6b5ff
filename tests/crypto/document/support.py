"""Shared inputs for the document tests: fixed keys and ids, test data, announcements."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import nacl.signing

from crypto.document import announce
from crypto.document.hashing import hash_file


def fixed(name: str, size: int = 32) -> bytes:
    """First ``size`` bytes of SHA-256("caucus test " + name)."""
    return hashlib.sha256(b"caucus test " + name.encode()).digest()[:size]


def counter_rng(seed: str) -> Callable[[int], bytes]:
    """A deterministic rng: SHAKE-256 of the seed and a counter."""
    state = {"n": 0}

    def rng(size: int) -> bytes:
        state["n"] += 1
        return hashlib.shake_256(f"{seed}/{state['n']}".encode()).digest(size)

    return rng


def pattern(size: int, seed: str = "data") -> bytes:
    """``size`` bytes that differ at every offset (a repeated block would hide reordering)."""
    block = hashlib.shake_256(seed.encode()).digest(65536)
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.blake2b(counter.to_bytes(8, "big") + block[:64]).digest() + block[64:4096]
        counter += 1
    return bytes(out[:size])


ORGANIZER = nacl.signing.SigningKey(fixed("organizer"))
MEMBER = nacl.signing.SigningKey(fixed("member"))
GROUP_ID = fixed("group", 16)
DOCUMENT_ID = fixed("document", 16)


def make_announcement(
    data: bytes = b"%PDF-1.7 pretend contract\n",
    *,
    signing_key: nacl.signing.SigningKey = ORGANIZER,
    version: int = 3,
    document_id: bytes = DOCUMENT_ID,
    title: str = "Contract template",
    filename: str = "contract.pdf",
    content_key: bytes | None = None,
) -> announce.Announcement:
    return announce.publish(
        signing_key,
        group_id=GROUP_ID,
        document_id=document_id,
        version=version,
        published_at=1_767_225_600_000,
        title=title,
        filename=filename,
        media_type="application/pdf",
        note="Read before Thursday.",
        digest=hash_file(io.BytesIO(data)),
        content_key=content_key if content_key is not None else fixed("content key"),
    )
