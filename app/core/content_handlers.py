"""Content types beyond plain text (documents, ballots) plug into message processing here.

A handler sees a verified message together with the group state of the epoch it was sent
in (the roster that decides, for example, whether its sender was an organizer), may write
its own tables inside the caller's transaction, and returns the line of text the message
list shows. Raising a ``RemoteError`` rejects the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.database import Database
from app.core.events import Event
from crypto.group_log import GroupState, MemberRecord
from crypto.key_schedule import EpochKeys
from crypto.message import OpenedMessage

__all__ = [
    "HANDLERS",
    "ITEM_HANDLERS",
    "PAYLOAD_HANDLERS",
    "AnonymousItem",
    "Handler",
    "ItemHandler",
    "PayloadHandler",
    "Received",
    "register",
    "register_item",
    "register_payload",
]


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
    changed: list[Event] = field(default_factory=list)
    """What the handler changed (a ballot, a document), told to listeners once the
    batch holding this message has committed."""


Handler = Callable[[Received], str]

HANDLERS: dict[int, Handler] = {}


def register(content_type: int, handler: Handler) -> None:
    """Called at import time by the module that owns the content type."""
    if content_type in HANDLERS:
        raise ValueError(f"content type {content_type} already has a handler")
    HANDLERS[content_type] = handler


@dataclass(frozen=True)
class AnonymousItem:
    """A group mailbox item of a type without a sender (anonymous ballots), with the live
    epoch keys that decrypt it and the group state of that epoch."""

    db: Database
    group_id: bytes
    state: GroupState
    keys: EpochKeys
    item: bytes
    relay_seq: int
    now: int
    changed: list[Event] = field(default_factory=list)


ItemHandler = Callable[[AnonymousItem], str | None]
"""Returns a warning to record, or None. Raising a ``RemoteError`` rejects the item."""

ITEM_HANDLERS: dict[int, ItemHandler] = {}


def register_item(item_type: int, handler: ItemHandler) -> None:
    """Claim a mailbox item type (crypto/items.py) beyond messages and commits."""
    if item_type in ITEM_HANDLERS:
        raise ValueError(f"item type {item_type} already has a handler")
    ITEM_HANDLERS[item_type] = handler


PayloadHandler = Callable[[AnonymousItem, bytes], str | None]
"""Handles the opened payload of an anonymous item whose first byte it claimed."""

PAYLOAD_HANDLERS: dict[int, PayloadHandler] = {}


def register_payload(first_byte: int, handler: PayloadHandler) -> None:
    """Claim anonymous payloads starting with ``first_byte`` (a content type of
    ``crypto.content.UNION_TYPES``); ballot votes start with their version and keep the
    rest (docs/union-tools.md section 4)."""
    if first_byte in PAYLOAD_HANDLERS:
        raise ValueError(f"anonymous payload {first_byte} already has a handler")
    PAYLOAD_HANDLERS[first_byte] = handler
