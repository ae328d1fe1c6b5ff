"""Proof of work for anonymous creations on a busy relay (protocol section 6.2).

When creations come faster than the relay's allowance, it asks each anonymous creation
of a mailbox, inbox or blob for a nonce such that
``digest("relay-work", seed, u64 bucket, kind, resource id, u64 nonce)`` starts with
``bits`` zero bits.  The relay announces ``(bits, bucket, seed)``; the seed of a time
bucket is unpredictable, so work cannot be done ahead of time, and the resource id binds
one solution to one creation.  Shared by the relay (``check_work``) and the client
(``solve_work``) so the two hash the same bytes.  Pure: no clock, no randomness.
"""

from __future__ import annotations

import enum
import hashlib
import re
import struct
from dataclasses import dataclass

from crypto.errors import MalformedData, UsageError
from crypto.kdf import frame
from crypto.relay_auth import b64url_decode, b64url_encode

__all__ = [
    "MAX_WORK_BITS",
    "WORK_HEADER",
    "WorkChallenge",
    "WorkKind",
    "WorkStamp",
    "parse_work_header",
    "solve_work",
    "work_bits",
    "work_header",
]

WORK_HEADER = "X-Caucus-Work"
MAX_WORK_BITS = 40
"""No relay may ask for more (a client refuses); 2^40 hashes is far beyond any client."""

SEED_SIZE = 16
_ID_SIZE = 16
_U64 = struct.Struct(">Q")
_HEADER = re.compile(r"(\d{1,12})\.([A-Za-z0-9_-]{11})")


class WorkKind(enum.Enum):
    """What is being created: part of the hashed bytes, so one nonce creates one thing."""

    MAILBOX = b"mailbox"
    INBOX = b"inbox"
    BLOB = b"blob"


@dataclass(frozen=True)
class WorkChallenge:
    """What the relay asks for now: ``bits`` leading zero bits over this bucket's seed."""

    bits: int
    bucket: int
    seed: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.bits <= MAX_WORK_BITS or self.bucket < 0:
            raise MalformedData("work challenge out of range")
        if len(self.seed) != SEED_SIZE:
            raise MalformedData("work seed must be 16 bytes")


@dataclass(frozen=True)
class WorkStamp:
    """A client's answer: the bucket it worked for and its nonce."""

    bucket: int
    nonce: int


def _prefix(seed: bytes, bucket: int, kind: WorkKind, resource_id: bytes) -> bytes:
    """Framed bytes up to the nonce's length prefix; the 8 nonce bytes follow."""
    if len(resource_id) != _ID_SIZE:
        raise UsageError("resource ids are 16 bytes")
    whole = frame("relay-work", (seed, _U64.pack(bucket), kind.value, resource_id, bytes(8)))
    return whole[:-8]


def _zero_bits(digest: bytes) -> int:
    top = int.from_bytes(digest[:8], "big")
    return 64 - top.bit_length()


def work_bits(seed: bytes, stamp: WorkStamp, kind: WorkKind, resource_id: bytes) -> int:
    """Leading zero bits of the stamp's digest (at most 64)."""
    data = _prefix(seed, stamp.bucket, kind, resource_id) + _U64.pack(stamp.nonce)
    return _zero_bits(hashlib.blake2b(data, digest_size=32).digest())


def solve_work(
    challenge: WorkChallenge,
    kind: WorkKind,
    resource_id: bytes,
    *,
    start: int = 0,
    max_tries: int | None = None,
) -> WorkStamp | None:
    """Search nonces from ``start``; ``None`` if ``max_tries`` ran out first.

    Expected cost is ``2**bits`` hashes (about a second per million in CPython).
    """
    if challenge.bits == 0:
        return WorkStamp(challenge.bucket, start)
    base = hashlib.blake2b(
        _prefix(challenge.seed, challenge.bucket, kind, resource_id), digest_size=32
    )
    limit = 1 << (64 - challenge.bits)
    pack = _U64.pack
    end = (1 << 64) if max_tries is None else min(1 << 64, start + max_tries)
    for nonce in range(start, end):
        h = base.copy()
        h.update(pack(nonce))
        if int.from_bytes(h.digest()[:8], "big") < limit:
            return WorkStamp(challenge.bucket, nonce)
    return None


def work_header(stamp: WorkStamp) -> str:
    """``X-Caucus-Work: <bucket>.<base64url(u64 nonce)>``."""
    return f"{stamp.bucket}.{b64url_encode(_U64.pack(stamp.nonce))}"


def parse_work_header(text: str) -> WorkStamp:
    match = _HEADER.fullmatch(text)
    if match is None:
        raise MalformedData("X-Caucus-Work must be <bucket>.<base64url 8-byte nonce>")
    nonce = b64url_decode(match.group(2))
    return WorkStamp(int(match.group(1)), _U64.unpack(nonce)[0])
