"""Content types and the text body codec (protocol 4.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.content import (
    BALLOT_TYPES,
    DEFAULT_CHANNEL,
    DOCUMENT_TYPES,
    MAX_TEXT,
    PARSERS,
    ContentType,
    TextBody,
    parse_content,
)
from crypto.errors import MalformedData, RemoteError, TooLarge, UsageError

texts = st.text(min_size=1, max_size=200)  # Hypothesis text() never yields lone surrogates


@given(st.binary(min_size=16, max_size=16), texts)
def test_text_round_trip(channel_id: bytes, words: str) -> None:
    body = TextBody(channel_id, words)
    encoded = body.encode()
    assert encoded[:16] == channel_id
    assert encoded[16:20] == len(words.encode()).to_bytes(4, "big")
    assert TextBody.decode(encoded) == body
    assert parse_content(ContentType.TEXT, encoded) == body
    assert body.content_type is ContentType.TEXT


def test_whitespace_only_text_is_allowed_but_empty_is_not() -> None:
    assert TextBody.decode(TextBody(DEFAULT_CHANNEL, " \n").encode()).text == " \n"
    with pytest.raises(UsageError):
        TextBody(DEFAULT_CHANNEL, "")
    with pytest.raises(MalformedData, match="empty"):
        TextBody.decode(DEFAULT_CHANNEL + bytes(4))


def test_text_size_limit_is_in_utf8_bytes() -> None:
    exactly = TextBody(DEFAULT_CHANNEL, "é" * (MAX_TEXT // 2))
    assert TextBody.decode(exactly.encode()) == exactly
    with pytest.raises(UsageError):
        TextBody(DEFAULT_CHANNEL, "é" * (MAX_TEXT // 2) + "x").encode()
    oversized = DEFAULT_CHANNEL + (MAX_TEXT + 1).to_bytes(4, "big") + b"x" * (MAX_TEXT + 1)
    with pytest.raises(TooLarge):
        TextBody.decode(oversized)


def test_text_codec_rejects_bad_input() -> None:
    with pytest.raises(UsageError):
        TextBody(bytes(15), "hi")
    with pytest.raises(UsageError):
        TextBody(DEFAULT_CHANNEL, "\ud800").encode()
    with pytest.raises(MalformedData, match="UTF-8"):
        TextBody.decode(DEFAULT_CHANNEL + b"\x00\x00\x00\x01\xff")
    with pytest.raises(MalformedData, match="trailing"):
        TextBody.decode(TextBody(DEFAULT_CHANNEL, "hi").encode() + b"\x00")
    with pytest.raises(MalformedData, match="truncated"):
        TextBody.decode(TextBody(DEFAULT_CHANNEL, "hi").encode()[:-1])


@pytest.mark.parametrize("content_type", [0, 8, 15, *BALLOT_TYPES, *DOCUMENT_TYPES, 48, 255])
def test_unregistered_types_are_rejected(content_type: int) -> None:
    with pytest.raises(MalformedData, match="unknown content type"):
        parse_content(content_type, TextBody(DEFAULT_CHANNEL, "hi").encode())


def test_registry_and_ranges_are_consistent() -> None:
    assert set(PARSERS) == set(ContentType)
    reserved = set(BALLOT_TYPES) | set(DOCUMENT_TYPES)
    assert not set(BALLOT_TYPES) & set(DOCUMENT_TYPES)
    assert ContentType.TEXT not in reserved
    assert all(0 < member <= 255 for member in ContentType)


@given(st.integers(0, 255), st.binary(max_size=300))
def test_parse_content_on_random_bytes_only_raises_remote_errors(
    content_type: int, body: bytes
) -> None:
    try:
        parsed = parse_content(content_type, body)
    except RemoteError:
        return
    assert parsed.encode() == body


@given(st.data())
def test_parse_content_on_mutations_only_raises_remote_errors(data: st.DataObject) -> None:
    encoded = bytearray(TextBody(DEFAULT_CHANNEL, data.draw(texts)).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        encoded[data.draw(st.integers(0, len(encoded) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    for candidate in (bytes(encoded), bytes(encoded[:cut])):
        try:
            parsed = parse_content(ContentType.TEXT, candidate)
        except RemoteError:
            continue
        assert parsed.encode() == candidate
