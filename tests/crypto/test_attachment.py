"""Attachment message bodies (content type 6, protocol 4.1.2): one encoding per value,
the limits enforced on decode, and a file that opens only as the one its sender signed."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from crypto.attachment import (
    MAX_ATTACHMENT_SIZE,
    Attachment,
    AttachmentBody,
    encrypt_attachment,
    open_attachment,
)
from crypto.content import DEFAULT_CHANNEL, ContentType, parse_content
from crypto.errors import BadSignature, DecryptionFailed, MalformedData, UsageError
from crypto.wire import Writer


def _file(name: str = "rota.csv", size: int = 10) -> Attachment:
    return Attachment(name, "text/csv", size, bytes(range(32)), bytes(32))


def test_round_trip_and_registered() -> None:
    body = AttachmentBody(DEFAULT_CHANNEL, "", (_file(), _file("b.pdf", 0)))
    assert parse_content(ContentType.ATTACHMENT, body.encode()) == body
    assert AttachmentBody.decode(body.encode()).encode() == body.encode()


def _raw(count: int, name: bytes = b"a.txt", size: int = 1) -> bytes:
    writer = Writer().fixed(DEFAULT_CHANNEL, 16).var(b"", 65536).u8(count)
    for _ in range(count):
        writer.var(name, 255).var(b"text/plain", 127).u64(size)
        writer.fixed(bytes(32), 32).fixed(bytes(32), 32)
    return bytes(writer)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (_raw(0), "1 to 8 files"),
        (_raw(9), "1 to 8 files"),
        (_raw(1, name=b"../etc/passwd"), "plain name"),
        (_raw(1, name=b"invoice\xe2\x80\xaefdp.exe"), "plain name"),
        (_raw(1, size=MAX_ATTACHMENT_SIZE + 1), "at most"),
        (_raw(1) + b"\x00", "trailing"),
    ],
)
def test_strict_decode(data: bytes, match: str) -> None:
    assert AttachmentBody.decode(_raw(1)).attachments[0].name == "a.txt"
    with pytest.raises(MalformedData, match=match):
        AttachmentBody.decode(data)


def test_sender_side_limits() -> None:
    with pytest.raises(UsageError):
        AttachmentBody(DEFAULT_CHANNEL, "", ())
    with pytest.raises(UsageError):
        _file(size=MAX_ATTACHMENT_SIZE + 1)


def test_opens_only_as_the_signed_file() -> None:
    data = os.urandom(1_500_000)
    key = os.urandom(32)
    chunks = list(encrypt_attachment(key, io.BytesIO(data)))
    digest = hashlib.sha256(data).digest()
    good = Attachment("a.bin", "application/octet-stream", len(data), key, digest)
    assert b"".join(open_attachment(good, chunks)) == data
    wrong_hash = Attachment(good.name, good.media_type, len(data), key, bytes(32))
    with pytest.raises(BadSignature):
        b"".join(open_attachment(wrong_hash, chunks))
    other_key = Attachment(good.name, good.media_type, len(data), os.urandom(32), good.sha256)
    with pytest.raises(DecryptionFailed):
        b"".join(open_attachment(other_key, chunks))
