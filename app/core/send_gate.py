"""The narrow interface the outbox asks before delivering a group's queue.

``app.core.freshness`` implements it (docs/protocol.md section 4.4): a group whose newest
confirmed organizer head is older than the bound T is *held*. A hold is not a failure:
the queue stays pending, in order, and goes out once the group is confirmed again or the
user says "send anyway".
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from app.core.errors import RelayError

__all__ = ["SendGate", "SendHeld"]


class SendHeld(RelayError):
    """Sending to a group is held: this profile cannot confirm it holds the group's newest
    log entry. The message stays queued."""


class SendGate(Protocol):
    """What the outbox asks before delivering a group's queue."""

    async def check(self, group_id: bytes, content_types: Collection[int]) -> None:
        """Return if the group's queue, holding messages of ``content_types``, may go
        out now; raise ``SendHeld`` otherwise."""
