"""TextBody.decode (one struct call) accepts and rejects exactly what a Reader does."""

from __future__ import annotations

import os
import random

import pytest

from crypto.content import MAX_TEXT, TextBody
from crypto.errors import MalformedData
from crypto.wire import Reader, Writer


def _reference(data: bytes) -> tuple[bytes, str]:
    reader = Reader(data)
    channel_id = reader.fixed(16)
    text = reader.text(MAX_TEXT)
    reader.finish()
    if not text:
        raise MalformedData("text message is empty")
    return channel_id, text


def _outcome(decode: object, data: bytes) -> object:
    try:
        result = decode(data)  # type: ignore[operator]
    except MalformedData as exc:
        return (type(exc), str(exc))
    if isinstance(result, TextBody):
        return (result.channel_id, result.text)
    return result


def _samples() -> list[bytes]:
    rng = random.Random(8)
    good = [
        TextBody(os.urandom(16), text).encode()
        for text in ("x", "hello", "é" * 40, "message 1: " + "x" * 120, "a" * MAX_TEXT)
    ]
    samples = list(good)
    for body in good[:4]:
        samples += [body[:cut] for cut in range(0, len(body), max(1, len(body) // 25))]
        samples += [body + b"\x00", body + b"tail"]
        for _ in range(40):
            flipped = bytearray(body)
            flipped[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
            samples.append(bytes(flipped))
    samples.append(bytes(Writer().fixed(bytes(16), 16).var(b"", MAX_TEXT)))  # empty text
    samples.append(bytes(16) + (MAX_TEXT + 1).to_bytes(4, "big") + b"x")  # over the limit
    samples.append(bytes(16) + (5).to_bytes(4, "big") + b"\xff\xfeabc")  # not UTF-8
    samples.append(bytes(16) + (5).to_bytes(4, "big") + b"\xff\xfeabcdef")  # both
    return samples


@pytest.mark.parametrize("data", _samples())
def test_decode_matches_the_reader(data: bytes) -> None:
    assert _outcome(TextBody.decode, data) == _outcome(_reference, data)
