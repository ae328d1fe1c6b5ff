"""Token-bucket rate limiting keyed by opaque bytes; the time is passed in.

Keys are capability hashes, inbox ids or blob ids (never an IP address).  Buckets that
have refilled completely are forgotten, and the table never holds more than
``max_keys`` entries, so memory stays bounded whatever keys an attacker invents.
"""

from __future__ import annotations

import math

__all__ = ["TokenBuckets", "retry_after_header"]


class TokenBuckets:
    """Many buckets sharing one rate and burst."""

    __slots__ = ("_buckets", "_burst", "_max_keys", "_rate")

    def __init__(self, rate_per_s: float, burst: float, max_keys: int = 100_000) -> None:
        if rate_per_s <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be positive, burst and max_keys at least 1")
        self._rate = rate_per_s
        self._burst = burst
        self._max_keys = max_keys
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def peek(self, key: bytes, now: float) -> float:
        """Tokens ``key`` has now, without spending one."""
        entry = self._buckets.get(key)
        if entry is None:
            return self._burst
        level, stamp = entry
        return min(self._burst, level + max(0.0, now - stamp) * self._rate)

    def take(self, key: bytes, now: float) -> float:
        """Spend one token for ``key``; return 0.0 if allowed, else seconds until allowed."""
        entry = self._buckets.get(key)
        if entry is None:
            tokens = self._burst
        else:
            level, stamp = entry
            tokens = min(self._burst, level + max(0.0, now - stamp) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self._rate
        if entry is None and len(self._buckets) >= self._max_keys:
            self.forget_full(now)
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0

    def forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (they behave exactly like absent ones).

        If every bucket is still draining, drop the oldest half: losing a partly spent
        bucket only lets that key burst again, a bounded cost.
        """
        full = [
            key
            for key, (level, stamp) in self._buckets.items()
            if level + max(0.0, now - stamp) * self._rate >= self._burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            by_age = sorted(self._buckets.items(), key=lambda kv: kv[1][1])
            for key, _ in by_age[: len(by_age) // 2 + 1]:
                del self._buckets[key]


def retry_after_header(wait_s: float) -> int:
    """Whole seconds for ``Retry-After`` (at least 1)."""
    return max(1, math.ceil(wait_s))
