"""Credentials the client shows the relay: inbox signatures and bearer capabilities.

One definition shared by the client (which builds headers) and the relay (which checks
them), so the two can never disagree about the bytes (protocol section 6).  Pure: the
clock is passed in as ``now_ms``.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass

import nacl.signing

from crypto.errors import Expired, MalformedData, UsageError
from crypto.identity import sign_framed, verify_framed

__all__ = [
    "AUTH_WINDOW_MS",
    "INBOX_AUTH_HEADER",
    "InboxAuth",
    "b64url_decode",
    "b64url_encode",
    "bearer_header",
    "inbox_auth_header",
    "parse_inbox_auth",
    "verify_inbox_auth",
]

AUTH_WINDOW_MS = 300_000
"""How far an inbox signature's timestamp may be from the relay's clock."""

INBOX_AUTH_HEADER = "X-Caucus-Auth"

_INBOX_ID_SIZE = 16
_AUTH_SIZE = 8 + 64
_U64 = struct.Struct(">Q")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """base64url without padding: the relay's only text encoding for bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url, padding optional; raise ``MalformedData`` on anything else.

    Non-canonical encodings (stray bits in the last character) are rejected so each
    value has exactly one accepted spelling.
    """
    body = text.rstrip("=")
    padding = len(text) - len(body)
    if padding and (len(text) % 4 or padding > 2):
        raise MalformedData("bad base64 padding")
    if len(body) % 4 == 1 or not _B64URL.fullmatch(body):
        raise MalformedData("not base64url")
    try:
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise MalformedData("not base64url") from None
    if b64url_encode(data) != body:
        raise MalformedData("non-canonical base64url")
    return data


def bearer_header(capability: bytes) -> str:
    """Value of the ``Authorization`` header that presents a capability."""
    if not capability:
        raise UsageError("empty capability")
    return "Bearer " + b64url_encode(capability)


def _check_inbox_id(inbox_id: bytes) -> None:
    if len(inbox_id) != _INBOX_ID_SIZE:
        raise UsageError("inbox id must be 16 bytes")


def inbox_auth_header(signing_key: nacl.signing.SigningKey, inbox_id: bytes, now_ms: int) -> str:
    """Value of ``X-Caucus-Auth`` proving ownership of ``inbox_id`` at time ``now_ms``."""
    _check_inbox_id(inbox_id)
    if not 0 <= now_ms <= 0xFFFFFFFFFFFFFFFF:
        raise UsageError("timestamp out of range")
    stamp = _U64.pack(now_ms)
    signature = sign_framed(signing_key, "inbox-read", inbox_id, stamp)
    return b64url_encode(stamp + signature)


@dataclass(frozen=True)
class InboxAuth:
    """A parsed ``X-Caucus-Auth`` header: not yet verified."""

    timestamp_ms: int
    signature: bytes


def parse_inbox_auth(header: str) -> InboxAuth:
    """Decode ``X-Caucus-Auth``; raise ``MalformedData`` if it is not 72 bytes of base64url."""
    if len(header) > 128:
        raise MalformedData("inbox auth header too long")
    raw = b64url_decode(header)
    if len(raw) != _AUTH_SIZE:
        raise MalformedData("inbox auth must be 72 bytes")
    (timestamp,) = _U64.unpack(raw[:8])
    return InboxAuth(timestamp_ms=timestamp, signature=raw[8:])


def verify_inbox_auth(
    header: str,
    auth_key: bytes,
    inbox_id: bytes,
    now_ms: int,
    window_ms: int = AUTH_WINDOW_MS,
) -> InboxAuth:
    """Check an ``X-Caucus-Auth`` header for ``inbox_id`` against its owner's ``auth_key``.

    Raises ``MalformedData`` (unparseable), ``Expired`` (timestamp further than
    ``window_ms`` from ``now_ms``) or ``BadSignature``; returns the parsed header.
    """
    _check_inbox_id(inbox_id)
    auth = parse_inbox_auth(header)
    if abs(auth.timestamp_ms - now_ms) > window_ms:
        raise Expired("inbox auth timestamp outside the accepted window")
    verify_framed(auth_key, auth.signature, "inbox-read", inbox_id, _U64.pack(auth.timestamp_ms))
    return auth
