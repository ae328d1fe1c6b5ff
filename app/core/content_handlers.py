"""Content types beyond plain text (documents, ballots) plug into message processing here.

A handler sees a verified message together with the group state of the epoch it was sent
in (the roster that decides, for example, whether its sender was an organizer), may write
its own tables inside the caller's transaction, and returns the line of text the message
list shows. Raising a ``RemoteError`` rejects the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.core.database import Database
from crypto.group_log import GroupState, MemberRecord
from crypto.message import OpenedMessage

__all__ = ["HANDLERS", "Handler", "Received", "register"]


@dataclass(frozen=True)
class Received:
    """Everything a handler may use about one received message."""

    db: Database
    group_id: bytes
    state: GroupState
    message: OpenedMessage
    sender: MemberRecord
    relay_seq: int
    now: int


Handler = Callable[[Received], str]

HANDLERS: dict[int, Handler] = {}


def register(content_type: int, handler: Handler) -> None:
    """Called at import time by the module that owns the content type."""
    if content_type in HANDLERS:
        raise ValueError(f"content type {content_type} already has a handler")
    HANDLERS[content_type] = handler
