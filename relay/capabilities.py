"""From an ``Authorization: Bearer`` header to the capability hash the relay compares.

The relay only ever compares ``H("cap-hash", cap)`` (protocol 6).  Decoding and hashing
are memoized per header value because the same few capabilities arrive again and again;
the table is bounded and simply emptied when full.  It holds nothing a relay operator
does not already see in every request.
"""

from __future__ import annotations

from crypto.key_schedule import cap_hash
from relay.codec import parse_bearer

__all__ = ["CapabilityHashes"]


class CapabilityHashes:
    """Memoized ``cap_hash(parse_bearer(header))``; errors are never cached."""

    __slots__ = ("_max", "_table")

    def __init__(self, max_entries: int = 4096) -> None:
        self._table: dict[bytes, bytes] = {}
        self._max = max_entries

    def of_header(self, value: bytes | None) -> bytes:
        """The presented capability's hash; ``RelayError`` 403/400 if missing or malformed."""
        if value is not None:
            known = self._table.get(value)
            if known is not None:
                return known
        presented = cap_hash(parse_bearer(value))
        if value is not None:
            if len(self._table) >= self._max:
                self._table.clear()
            self._table[value] = presented
        return presented
