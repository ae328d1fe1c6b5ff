"""Pure parts of the relay: epoch rules, token buckets, inbox signatures, the SQLite schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nacl.signing
import pytest

from crypto.errors import BadSignature, Expired, MalformedData, UsageError
from crypto.relay_auth import (
    b64url_decode,
    b64url_encode,
    bearer_header,
    inbox_auth_header,
    parse_inbox_auth,
    verify_inbox_auth,
)
from relay import schema
from relay.epochs import Epoch, after_commit, read_window
from relay.ratelimit import TokenBuckets

# ------------------------------------------------------------------ epochs


def test_current_epoch_window() -> None:
    window = read_window(Epoch(4), mailbox_last=9, after=0)
    assert (window.low, window.high, window.visible_last, window.ended) == (4, 9, 9, False)


def test_past_epoch_window_stops_at_its_commit() -> None:
    window = read_window(Epoch(1, 3), mailbox_last=9, after=1)
    assert (window.low, window.high, window.visible_last) == (2, 3, 3)
    assert read_window(Epoch(1, 3), mailbox_last=9, after=3).ended
    assert read_window(Epoch(1, 3), mailbox_last=9, after=7).ended


def test_empty_new_epoch_reports_the_seq_before_it() -> None:
    window = read_window(Epoch(6), mailbox_last=5, after=0)
    assert window.empty and window.visible_last == 5 and not window.ended


def test_after_commit() -> None:
    closed, opened = after_commit(Epoch(3), 7)
    assert closed == Epoch(3, 7) and opened == Epoch(8)
    with pytest.raises(ValueError):
        after_commit(Epoch(3, 7), 9)


# ------------------------------------------------------------------ token buckets


def test_bucket_burst_then_refill() -> None:
    buckets = TokenBuckets(rate_per_s=2.0, burst=3.0)
    assert [buckets.take(b"k", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take(b"k", 100.0)
    assert wait == pytest.approx(0.5)
    assert buckets.take(b"k", 100.5) == 0.0
    assert buckets.take(b"other", 100.5) == 0.0


def test_bucket_survives_clock_going_backwards() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=1.0)
    assert buckets.take(b"k", 100.0) == 0.0
    assert buckets.take(b"k", 50.0) > 0


def test_bucket_table_stays_bounded() -> None:
    buckets = TokenBuckets(rate_per_s=0.001, burst=2.0, max_keys=100)
    for n in range(1000):
        buckets.take(n.to_bytes(4, "big"), 1.0)
    assert len(buckets) <= 100


# ------------------------------------------------------------------ relay_auth


def test_inbox_auth_roundtrip_and_failures() -> None:
    key = nacl.signing.SigningKey(bytes(range(32)))
    inbox = bytes(16)
    header = inbox_auth_header(key, inbox, 1_700_000_000_000)
    parsed = parse_inbox_auth(header)
    assert parsed.timestamp_ms == 1_700_000_000_000 and len(parsed.signature) == 64
    public = bytes(key.verify_key)
    verify_inbox_auth(header, public, inbox, 1_700_000_000_000 + 300_000)
    with pytest.raises(Expired):
        verify_inbox_auth(header, public, inbox, 1_700_000_000_000 + 300_001)
    with pytest.raises(BadSignature):
        verify_inbox_auth(header, public, b"\x01" * 16, 1_700_000_000_000)
    with pytest.raises(BadSignature):
        other = bytes(nacl.signing.SigningKey(bytes(32)).verify_key)
        verify_inbox_auth(header, other, inbox, 1_700_000_000_000)
    with pytest.raises(MalformedData):
        parse_inbox_auth(header[:-4])
    with pytest.raises(UsageError):
        inbox_auth_header(key, bytes(15), 0)


def test_inbox_auth_header_is_deterministic() -> None:
    """Fixed vector: Ed25519 is deterministic, so this catches any change of framing."""
    key = nacl.signing.SigningKey(bytes(range(32)))
    header = inbox_auth_header(key, bytes(range(16)), 1_700_000_000_000)
    assert header == inbox_auth_header(key, bytes(range(16)), 1_700_000_000_000)
    raw = b64url_decode(header)
    assert raw[:8] == (1_700_000_000_000).to_bytes(8, "big")
    assert len(header) == 96


@pytest.mark.parametrize("text", ["QQ", "QQ==", "QUJD", "", "_-8"])
def test_b64url_accepts_canonical(text: str) -> None:
    assert b64url_encode(b64url_decode(text)) == text.rstrip("=")


@pytest.mark.parametrize("text", ["Q", "QR", "QQ=", "Q===", "+/8", "QQ==QQ", "é", "QQ ="])
def test_b64url_rejects_the_rest(text: str) -> None:
    with pytest.raises(MalformedData):
        b64url_decode(text)


def test_bearer_header() -> None:
    assert bearer_header(b"\xff" * 3) == "Bearer ____"
    with pytest.raises(UsageError):
        bearer_header(b"")


# ------------------------------------------------------------------ schema


def test_sqlite_connections_are_durable(tmp_path: Path) -> None:
    conn = schema.connect(tmp_path / "r.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    conn.close()


def test_schema_rejects_inconsistent_rows(tmp_path: Path) -> None:
    conn = schema.connect(tmp_path / "r.db")
    schema.migrate(conn)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO queues (kind, qid, created_hour) VALUES (1, ?, 0)", (bytes(16),))
    conn.close()
