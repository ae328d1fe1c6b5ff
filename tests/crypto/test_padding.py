"""Padding to size buckets (protocol 4.1): exact sizes, canonical form, strict unpadding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import MalformedData, RemoteError, UsageError
from crypto.padding import bucket_size, pad, pad_to, padme, read_padded, unpad, unpadded_length

VECTORS = json.loads((Path(__file__).parent / "vectors" / "messages.json").read_text())


@pytest.mark.parametrize(
    ("size", "bucket"),
    [
        (0, 256),
        (1, 256),
        (256, 256),
        (257, 512),
        (3841, 4096),
        (4096, 4096),
        (4097, 8192),
        (8192, 8192),
        (8193, 16384),
        (196_832, 262_144),
        (262_144, 262_144),
    ],
)
def test_bucket_sizes(size: int, bucket: int) -> None:
    assert bucket_size(size) == bucket


def test_negative_sizes_are_a_usage_error() -> None:
    with pytest.raises(UsageError):
        bucket_size(-1)
    with pytest.raises(UsageError):
        pad(b"", overhead=-1)


@given(data=st.binary(max_size=9000), overhead=st.integers(0, 300))
def test_round_trip_fills_exactly_one_bucket(data: bytes, overhead: int) -> None:
    padded = pad(data, overhead)
    assert overhead + len(padded) == bucket_size(overhead + 4 + len(data))
    assert padded[:4] == len(data).to_bytes(4, "big")
    assert unpad(padded, overhead) == data
    assert unpadded_length(padded, overhead) == len(data)


@given(data=st.binary(min_size=1, max_size=600), where=st.data())
def test_nonzero_padding_is_rejected(data: bytes, where: st.DataObject) -> None:
    padded = bytearray(pad(data))
    slack = len(padded) - 4 - len(data)
    if slack == 0:
        return
    position = 4 + len(data) + where.draw(st.integers(0, slack - 1))
    padded[position] = where.draw(st.integers(1, 255))
    with pytest.raises(MalformedData, match="not zero"):
        unpad(bytes(padded))


def test_length_past_the_end_is_rejected() -> None:
    padded = bytearray(pad(b"abc"))
    padded[:4] = (253).to_bytes(4, "big")
    with pytest.raises(MalformedData, match="exceeds"):
        unpad(bytes(padded))
    with pytest.raises(MalformedData, match="shorter"):
        unpad(b"\x00\x00")


def test_more_padding_than_needed_is_not_canonical() -> None:
    # Padding "abc" to 512 instead of 256 bytes would let two encodings carry one value.
    too_long = pad(b"abc") + bytes(256)
    with pytest.raises(MalformedData, match="bucket"):
        unpad(too_long)
    # The same bytes are the canonical form under a different overhead.
    with pytest.raises(MalformedData, match="bucket"):
        unpad(pad(b"abc", overhead=0), overhead=78)


@given(st.binary(max_size=1200), st.integers(0, 100))
def test_unpad_of_arbitrary_bytes_only_raises_remote_errors(blob: bytes, overhead: int) -> None:
    try:
        data = unpad(blob, overhead)
    except RemoteError:
        return
    assert pad(data, overhead) == blob


@pytest.mark.parametrize("vector", VECTORS["padding"], ids=lambda v: f"{len(v['data']) // 2}B")
def test_known_answer_vectors(vector: dict[str, object]) -> None:
    data = bytes.fromhex(str(vector["data"]))
    padded = bytes.fromhex(str(vector["padded"]))
    overhead = int(str(vector["overhead"]))
    assert pad(data, overhead) == padded
    assert unpad(padded, overhead) == data


# Padme (PETS 2019, Algorithm 1), worked by hand: E = floor(log2 L), S = floor(log2 E) + 1,
# the low E - S bits rounded up.  E.g. 129: E = 7, S = 3, 4 bits -> 144; 1,000,000:
# E = 19, S = 5, 14 bits -> 62 * 16384.
@pytest.mark.parametrize(
    ("length", "bucket"),
    [
        (0, 0),
        (1, 1),
        (2, 2),
        (8, 8),
        (9, 10),
        (17, 18),
        (100, 104),
        (129, 144),
        (1000, 1024),
        (1024, 1024),
        (1025, 1088),
        (10_000, 10_240),
        (65_537, 67_584),
        (1_000_000, 1_015_808),
        (1_048_577, 1_081_344),
        (2_178, 2_304),
        (9_850, 10_240),
    ],
)
def test_padme_known_values(length: int, bucket: int) -> None:
    assert padme(length) == bucket


def test_padme_overhead_bounds() -> None:
    worst = max((padme(n) - n) / n for n in range(1, 1 << 16))
    assert worst == pytest.approx(15 / 129)
    assert all(padme(n) - n < n / 16 for n in range(1024, 1 << 16, 7))
    assert all(padme(n) - n <= n / 32 for n in range((1 << 20) + 1, (1 << 20) + 4096))
    with pytest.raises(UsageError):
        padme(-1)


@given(length=st.integers(0, 1 << 40))
def test_padme_is_idempotent_and_monotone(length: int) -> None:
    bucket = padme(length)
    assert bucket >= length
    assert padme(bucket) == bucket
    assert padme(length + 1) >= bucket


@given(data=st.binary(max_size=300), slack=st.integers(0, 300))
def test_pad_to_round_trip_and_strict_read(data: bytes, slack: int) -> None:
    padded = pad_to(data, 4 + len(data) + slack)
    assert len(padded) == 4 + len(data) + slack
    assert read_padded(padded) == data
    if slack:
        damaged = bytearray(padded)
        damaged[-1] = 1
        with pytest.raises(MalformedData, match="not zero"):
            read_padded(bytes(damaged))
    with pytest.raises(UsageError):
        pad_to(data, 3 + len(data))
    with pytest.raises(MalformedData):
        read_padded(padded[: 3 + len(data)])
