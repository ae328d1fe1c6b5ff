"""The client's parser of relay fetch frames: strict, never crashes, never reorders."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.relay_client import parse_frames
from crypto.errors import MalformedData


def frames(rows: list[tuple[int, bytes]]) -> bytes:
    return b"".join(struct.pack(">QI", seq, len(item)) + item for seq, item in rows)


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_round_trip(items: list[bytes]) -> None:
    rows = [(i * 3 + 1, item) for i, item in enumerate(items)]
    assert list(parse_frames(frames(rows))) == rows


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_malformed(data: bytes) -> None:
    try:
        parsed = parse_frames(data)
    except MalformedData:
        return
    seqs = [seq for seq, _ in parsed]
    assert seqs == sorted(set(seqs))


def test_truncated_and_unordered_frames_are_rejected() -> None:
    body = frames([(1, b"abc"), (2, b"de")])
    with pytest.raises(MalformedData, match="truncated"):
        parse_frames(body[:-1])
    with pytest.raises(MalformedData, match="truncated"):
        parse_frames(body[:5])
    with pytest.raises(MalformedData, match="order"):
        parse_frames(frames([(2, b"x"), (2, b"y")]))
