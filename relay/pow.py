"""Who may create a mailbox, inbox or blob anonymously: free while quiet, work when busy.

A global token bucket hands out *free* creations (protocol 6.2: 10/min, burst 100).
When it is empty, a creation must carry an ``X-Caucus-Work`` stamp (``crypto.relay_work``)
with at least the current number of leading zero bits.  Paid creations never touch the
free bucket, so a caller flooding creations without work cannot starve anyone who pays,
and one who pays is limited by their own hashing: the required bits rise by
``ceil(log2(paid / allowance))`` after each time bucket in which more than ``allowance``
paid creations arrived, and fall by one after each quiet bucket.

A stamp names its time bucket (the current or the previous one) and is checked against
the bits that bucket asked for, so a client that solved the challenge it was given is
accepted even if the price rose meanwhile.  Seeds are keyed hashes of the bucket number,
unpredictable without the relay's key, so work cannot be done in advance.
The time is passed in; nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from crypto.errors import MalformedData
from crypto.kdf import derive
from crypto.relay_work import WorkChallenge, WorkKind, parse_work_header, work_bits
from relay.errors import RelayError
from relay.ratelimit import TokenBuckets, retry_after_header

__all__ = ["CreationGate", "WorkSettings"]


@dataclass(frozen=True)
class WorkSettings:
    key: bytes
    bucket_s: float = 30.0
    allowance: int = 100
    min_bits: int = 12
    max_bits: int = 24


class CreationGate:
    """Free bucket plus adaptive proof of work; ``admit`` raises 429 ``work_required``."""

    def __init__(self, settings: WorkSettings, free_per_s: float, free_burst: float) -> None:
        if not 1 <= settings.min_bits <= settings.max_bits <= 40 or settings.bucket_s <= 0:
            raise ValueError("work bits must satisfy 1 <= min <= max <= 40")
        self._settings = settings
        self._free = TokenBuckets(free_per_s, free_burst, 1)
        self._bucket = -1
        self._paid = 0
        self._levels: dict[int, int] = {}
        self._seeds: dict[int, bytes] = {}

    # ------------------------------------------------------------------ state

    def _roll(self, now: float) -> int:
        """Move to the bucket of ``now``, deciding its level from the ones before."""
        bucket = int(now // self._settings.bucket_s)
        if bucket == self._bucket:
            return bucket
        level = self._levels.get(self._bucket, self._settings.min_bits)
        if 0 <= self._bucket < bucket:
            level = self._next(level, self._paid)
            quiet = min(bucket - self._bucket - 1, self._settings.max_bits)
            level = max(self._settings.min_bits, level - quiet)
        previous = self._levels.get(bucket - 1, level)
        self._levels = {bucket - 1: previous, bucket: level}
        self._seeds = {b: self._seeds.get(b) or self._seed(b) for b in self._levels}
        self._bucket, self._paid = bucket, 0
        return bucket

    def _next(self, level: int, paid: int) -> int:
        s = self._settings
        if paid > s.allowance:
            level += math.ceil(math.log2(paid / s.allowance))
        elif paid * 2 < s.allowance:
            level -= 1
        return min(s.max_bits, max(s.min_bits, level))

    def _seed(self, bucket: int) -> bytes:
        return derive(self._settings.key, "relay-work-seed", bucket.to_bytes(8, "big"), size=16)

    # ------------------------------------------------------------------ API

    def challenge(self, now: float) -> WorkChallenge:
        """What a creation needs now: 0 bits while free creations remain."""
        bucket = self._roll(now)
        bits = 0 if self._free.peek(b"", now) >= 1 else self._levels[bucket]
        return WorkChallenge(bits, bucket, self._seeds[bucket])

    def admit(self, kind: WorkKind, resource_id: bytes, header: bytes | None, now: float) -> None:
        """Let one creation through, or raise ``work_required`` with a fresh challenge."""
        bucket = self._roll(now)
        if header is None:
            wait = self._free.take(b"", now)
            if wait:
                raise self._refusal(bucket, "relay is busy: creations need proof of work", wait)
            return
        try:
            stamp = parse_work_header(header.decode("ascii"))
        except (UnicodeDecodeError, MalformedData):
            raise RelayError("bad_request", "malformed X-Caucus-Work header") from None
        if stamp.bucket not in self._levels:
            raise self._refusal(bucket, "proof of work is for an expired challenge")
        need = self._levels[stamp.bucket]
        if work_bits(self._seeds[stamp.bucket], stamp, kind, resource_id) < need:
            raise self._refusal(bucket, "proof of work has too few zero bits")
        self._paid += 1

    def _refusal(self, bucket: int, detail: str, wait: float = 0.0) -> RelayError:
        return RelayError(
            "work_required",
            detail,
            extra={
                "work_bits": self._levels[bucket],
                "work_bucket": bucket,
                "work_seed": self._seeds[bucket],
            },
            retry_after=retry_after_header(wait) if wait else None,
        )
