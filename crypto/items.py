"""Item types in a mailbox and a cheap peek at an item's header (protocol section 4).

Every mailbox item starts ``u8 version | u8 type``; group mailbox items (messages,
commits and anonymous votes) continue with ``u64 epoch``.  A client peeks first to pick
the epoch's keys and the right decoder, before any cryptography runs.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from crypto.errors import MalformedData, UnsupportedVersion, UsageError

__all__ = ["ITEM_HEADER_SIZE", "ITEM_VERSION", "ItemType", "item_header", "peek_item", "peek_type"]

ITEM_VERSION = 1
ITEM_HEADER_SIZE = 1 + 1 + 8  # version, type, epoch

_HEADER = struct.Struct(">BBQ")


class ItemType(IntEnum):
    """The second byte of every mailbox item."""

    MESSAGE = 1
    COMMIT = 2
    JOIN_REQUEST = 3
    VOTE = 4  # anonymous ballot vote (docs/ballots.md section 10)
    HEAD = 5  # organizer-signed freshness head (protocol section 4.4, crypto/freshness.py)


_EPOCH_ITEMS = frozenset({ItemType.MESSAGE, ItemType.COMMIT, ItemType.VOTE, ItemType.HEAD})


def peek_type(item: bytes) -> ItemType:
    """Version and type of any mailbox item; raises ``MalformedData`` / ``UnsupportedVersion``."""
    if len(item) < 2:
        raise MalformedData("item shorter than its header")
    if item[0] != ITEM_VERSION:
        raise UnsupportedVersion(f"item version {item[0]}")
    try:
        return ItemType(item[1])
    except ValueError:
        raise MalformedData(f"unknown item type {item[1]}") from None


def peek_item(item: bytes) -> tuple[int, ItemType, int]:
    """``(version, type, epoch)`` of a group mailbox item (a message, commit or vote).

    Join requests live in invite mailboxes and carry no epoch, so they are rejected here
    with ``MalformedData``; use ``peek_type`` for them.
    """
    kind = peek_type(item)
    if kind not in _EPOCH_ITEMS:
        raise MalformedData("item type has no epoch: not a group mailbox item")
    if len(item) < ITEM_HEADER_SIZE:
        raise MalformedData("item shorter than its header")
    version, _, epoch = _HEADER.unpack_from(item)
    return version, kind, epoch


def item_header(kind: ItemType, epoch: int) -> bytes:
    """The 10 header bytes of a group mailbox item; also the start of its AEAD data."""
    if kind not in _EPOCH_ITEMS:
        raise UsageError("only group mailbox items have an epoch header")
    if not 0 <= epoch <= 0xFFFFFFFFFFFFFFFF:
        raise UsageError("epoch out of range")
    return _HEADER.pack(ITEM_VERSION, kind, epoch)
