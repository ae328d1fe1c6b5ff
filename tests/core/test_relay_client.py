"""The client's parser of relay fetch frames: strict, never crashes, never reorders."""

from __future__ import annotations

import struct

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.relay_client import (
    MAX_SEQ,
    _fetch_result,
    _retry_after,
    _seq,
    _work_challenge,
    parse_frames,
)
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


# -- every number from the relay is bounded (issue #9, item 6) ---------------------------


def test_frames_must_start_after_the_cursor_and_stay_below_2_53() -> None:
    assert parse_frames(frames([(6, b"a"), (7, b"b")]), after=5) == ((6, b"a"), (7, b"b"))
    with pytest.raises(MalformedData, match="not after 5"):
        parse_frames(frames([(5, b"a")]), after=5)
    with pytest.raises(MalformedData, match="not after 5"):
        parse_frames(frames([(3, b"a"), (9, b"b")]), after=5)
    assert parse_frames(frames([(MAX_SEQ, b"a")])) == ((MAX_SEQ, b"a"),)
    for huge in (MAX_SEQ + 1, 2**62, 2**64 - 1):
        with pytest.raises(MalformedData, match="above 2\\*\\*53-1"):
            parse_frames(frames([(1, b"a"), (huge, b"b")]))


def answer(
    status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    # Raw header bytes, as a socket delivers them ("\xb2" arrives as one latin-1 byte).
    raw = [
        (k.encode(), v.encode("latin-1" if v == "\xb2" else "utf-8"))
        for k, v in (headers or {}).items()
    ]
    return httpx.Response(status, content=body, headers=raw)


@pytest.mark.parametrize(
    "last", ["-1", "+5", " 5", "5 ", "1_000", "05", "0x10", "٣", str(MAX_SEQ + 1), str(2**64 - 1)]
)
def test_x_caucus_last_is_a_plain_decimal_below_2_53(last: str) -> None:
    response = answer(headers={"x-caucus-last": last})
    with pytest.raises(MalformedData, match="X-Caucus-Last"):
        _fetch_result(response, 0)


def test_a_fetch_answer_within_the_bounds_is_read() -> None:
    body = frames([(4, b"x")])
    result = _fetch_result(answer(body=body, headers={"x-caucus-last": str(MAX_SEQ)}), 3)
    assert result.items == ((4, b"x"),) and result.last == MAX_SEQ


@pytest.mark.parametrize(
    "seq", ["true", "0", "-1", "1.5", '"5"', "null", str(MAX_SEQ + 1), str(2**64 - 1), "1" * 5000]
)
def test_a_posted_items_sequence_number_is_bounded(seq: str) -> None:
    response = answer(body=b'{"seq": ' + seq.encode() + b"}")
    with pytest.raises(MalformedData, match="sequence number"):
        _seq(response)


def test_a_posted_items_sequence_number_within_the_bounds_is_read() -> None:
    assert _seq(answer(body=b'{"seq": %d}' % MAX_SEQ)) == MAX_SEQ


@pytest.mark.parametrize("value", ["\xb2", "1e3", "-1", "1234567", "", " 5", "5.0"])
def test_retry_after_other_than_a_few_ascii_digits_is_ignored(value: str) -> None:
    assert _retry_after(answer(429, headers={"retry-after": value}), 30.0) is None


def test_retry_after_is_capped() -> None:
    assert _retry_after(answer(429, headers={"retry-after": "999999"}), 30.0) == 30.0
    assert _retry_after(answer(429, headers={"retry-after": "2"}), 30.0) == 2.0


@pytest.mark.parametrize(
    "doc",
    [
        {"work_bits": True, "work_bucket": 1, "work_seed": "A" * 22},
        {"work_bits": 8, "work_bucket": 2**64, "work_seed": "A" * 22},
        {"work_bits": 8, "work_bucket": -1, "work_seed": "A" * 22},
        {"work_bits": 2**70, "work_bucket": 1, "work_seed": "A" * 22},
        {"work_bits": 8, "work_bucket": 1.5, "work_seed": "A" * 22},
    ],
)
def test_a_proof_of_work_challenge_out_of_range_is_malformed(doc: dict[str, object]) -> None:
    response = httpx.Response(429, json={"error": "work_required", **doc})
    with pytest.raises(MalformedData):
        _work_challenge(response)
