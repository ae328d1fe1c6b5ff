"""Parsers and encoders for everything that crosses the relay's HTTP boundary.

Ids in paths, query parameters, bearer capabilities, the small JSON bodies and the binary
fetch frames (protocol 6.1).  Every parser is strict and raises ``RelayError("bad_request")``
on anything unexpected, so random bytes end in a 400, never a 500.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crypto.errors import MalformedData
from crypto.relay_auth import b64url_decode, b64url_encode
from relay.errors import RelayError

__all__ = [
    "FRAME_HEADER",
    "Fetch",
    "decode_frames",
    "encode_frames",
    "json_bytes",
    "parse_bearer",
    "parse_chunk_index",
    "parse_fetch_query",
    "parse_id",
    "parse_json_fields",
    "parse_upto_query",
]

FRAME_HEADER = struct.Struct(">QI")
_ID = re.compile(r"[0-9a-f]{32}")
_UINT = re.compile(rb"(?:0|[1-9][0-9]{0,18})")
_WAIT = re.compile(rb"(?:0|[1-9][0-9]?)(?:\.[0-9]{1,3})?")
_MAX_SQL_INT = 2**63 - 1
_MAX_CAP_B64 = 100


def _bad(detail: str) -> RelayError:
    return RelayError("bad_request", detail)


def parse_id(text: str) -> bytes:
    """A 16-byte id written as 32 lowercase hex characters."""
    if not _ID.fullmatch(text):
        raise _bad("id must be 32 lowercase hex characters")
    return bytes.fromhex(text)


def parse_chunk_index(text: str) -> int:
    """A chunk number in a path: a decimal without leading zeros, below 2**31."""
    raw = text.encode("utf-8", "replace")
    if not _UINT.fullmatch(raw) or len(raw) > 10 or int(raw) >= 2**31:
        raise _bad("chunk index must be a small decimal number")
    return int(raw)


def _uint(raw: bytes, name: str) -> int:
    if not _UINT.fullmatch(raw) or int(raw) > _MAX_SQL_INT:
        raise _bad(f"{name} must be a non-negative decimal integer")
    return int(raw)


def _query_pairs(query: bytes, allowed: frozenset[bytes]) -> dict[bytes, bytes]:
    pairs: dict[bytes, bytes] = {}
    if not query:
        return pairs
    for part in query.split(b"&"):
        name, sep, value = part.partition(b"=")
        if not sep or name not in allowed or name in pairs:
            raise _bad("unexpected or repeated query parameter")
        pairs[name] = value
    return pairs


@dataclass(frozen=True)
class Fetch:
    """A validated ``?after=S&limit=L&wait=W``: limit is capped by the caller's config."""

    after: int
    limit: int | None
    wait_s: float


_FETCH_PARAMS = frozenset({b"after", b"limit", b"wait"})
_UPTO_PARAMS = frozenset({b"upto"})


def parse_fetch_query(query: bytes, max_wait_s: float) -> Fetch:
    pairs = _query_pairs(query, _FETCH_PARAMS)
    after = _uint(pairs[b"after"], "after") if b"after" in pairs else 0
    limit = _uint(pairs[b"limit"], "limit") if b"limit" in pairs else None
    if limit == 0:
        raise _bad("limit must be at least 1")
    wait = 0.0
    if b"wait" in pairs:
        if not _WAIT.fullmatch(pairs[b"wait"]):
            raise _bad("wait must be a number of seconds")
        wait = float(pairs[b"wait"])
        if wait > max_wait_s:
            raise _bad(f"wait must be at most {max_wait_s:g} seconds")
    return Fetch(after=after, limit=limit, wait_s=wait)


def parse_upto_query(query: bytes) -> int:
    pairs = _query_pairs(query, _UPTO_PARAMS)
    if b"upto" not in pairs:
        raise _bad("upto is required")
    return _uint(pairs[b"upto"], "upto")


def parse_bearer(value: bytes | None) -> bytes:
    """The capability in ``Authorization: Bearer <base64url>``; missing means forbidden."""
    if value is None:
        raise RelayError("forbidden", "a capability is required")
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"bearer" or not token or len(token) > _MAX_CAP_B64:
        raise _bad("authorization must be 'Bearer <base64url capability>'")
    try:
        cap = b64url_decode(token.decode("ascii"))
    except (UnicodeDecodeError, MalformedData):
        raise _bad("capability is not base64url") from None
    if not 16 <= len(cap) <= 64:
        raise _bad("capability must be 16 to 64 bytes")
    return cap


def parse_json_fields(body: bytes, fields: Mapping[str, str]) -> dict[str, bytes | int]:
    """A JSON object with exactly ``fields``; kinds are ``"b64:N"`` (N bytes) or ``"uint"``."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise _bad("body is not JSON") from None
    if not isinstance(value, dict) or set(value) != set(fields):
        raise _bad(f"body must be a JSON object with keys {sorted(fields)}")
    out: dict[str, bytes | int] = {}
    for name, kind in fields.items():
        item = value[name]
        if kind == "uint":
            if type(item) is not int or not 0 <= item <= _MAX_SQL_INT:
                raise _bad(f"{name} must be a non-negative integer")
            out[name] = item
            continue
        size = int(kind.removeprefix("b64:"))
        if not isinstance(item, str):
            raise _bad(f"{name} must be a base64url string")
        try:
            raw = b64url_decode(item)
        except MalformedData:
            raise _bad(f"{name} is not base64url") from None
        if len(raw) != size:
            raise _bad(f"{name} must be {size} bytes")
        out[name] = raw
    return out


def json_bytes(value: Mapping[str, object]) -> bytes:
    """Compact JSON for responses; bytes values are written as base64url."""
    plain = {k: b64url_encode(v) if isinstance(v, bytes) else v for k, v in value.items()}
    return json.dumps(plain, separators=(",", ":")).encode("utf-8")


def encode_frames(rows: Iterable[tuple[int, bytes]]) -> bytes:
    """Fetch body: ``u64 seq | u32 len | item`` per item."""
    parts: list[bytes] = []
    for seq, item in rows:
        parts.append(FRAME_HEADER.pack(seq, len(item)))
        parts.append(item)
    return b"".join(parts)


def decode_frames(body: bytes) -> list[tuple[int, bytes]]:
    """Inverse of ``encode_frames``; raises ``MalformedData`` on truncation."""
    out: list[tuple[int, bytes]] = []
    view = memoryview(body)
    pos = 0
    while pos < len(view):
        if len(view) - pos < FRAME_HEADER.size:
            raise MalformedData("truncated frame header")
        seq, size = FRAME_HEADER.unpack_from(view, pos)
        pos += FRAME_HEADER.size
        if len(view) - pos < size:
            raise MalformedData("truncated frame")
        out.append((seq, bytes(view[pos : pos + size])))
        pos += size
    return out
