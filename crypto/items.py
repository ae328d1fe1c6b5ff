"""Item types in a mailbox and a cheap peek at an item's header (protocol section 4).

Every mailbox item starts ``u8 version | u8 type``; group mailbox items (messages and
votes, which share type 1, and commits) continue with ``u64 epoch``.  A client peeks first
to pick the epoch's keys and the right decoder, before any cryptography runs.  Group items
are version 2; join requests (invite mailboxes) are still version 1.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from crypto.errors import MalformedData, UnsupportedVersion, UsageError

__all__ = [
    "ITEM_HEADER_SIZE",
    "ITEM_VERSION",
    "JOIN_REQUEST_VERSION",
    "ItemType",
    "item_header",
    "peek_item",
    "peek_type",
    "unsupported_item_version",
]

ITEM_VERSION = 2
"""Version of group mailbox items (messages, votes, commits)."""
JOIN_REQUEST_VERSION = 1
ITEM_HEADER_SIZE = 1 + 1 + 8  # version, type, epoch

_HEADER = struct.Struct(">BBQ")


class ItemType(IntEnum):
    """The second byte of a mailbox item, and the kinds a client tells apart."""

    MESSAGE = 1
    COMMIT = 2
    JOIN_REQUEST = 3
    VOTE = 4
    """An anonymous ballot vote.  Since version 2 never on the wire: a vote travels as a
    type-1 item and only a member tells it apart, after decryption (section 4.3)."""
    HEAD = 5  # organizer-signed freshness head (protocol section 4.4, crypto/freshness.py)
    LINK = 7  # link request or bundle in a link mailbox (protocol 8.4, crypto/device_link.py)


_KINDS = {int(kind): kind for kind in ItemType}  # a dict lookup: cheaper than ItemType(n)
_EPOCH_ITEMS = frozenset({ItemType.MESSAGE, ItemType.COMMIT, ItemType.HEAD})
_VERSIONS = {
    ItemType.MESSAGE: ITEM_VERSION,
    ItemType.COMMIT: ITEM_VERSION,
    ItemType.HEAD: ITEM_VERSION,
    ItemType.JOIN_REQUEST: JOIN_REQUEST_VERSION,
    ItemType.LINK: ITEM_VERSION,
}


def unsupported_item_version(version: int, expected: int = ITEM_VERSION) -> UnsupportedVersion:
    """The one-line error for an item of a version this client does not speak."""
    return UnsupportedVersion(
        f"mailbox item of protocol version {version}; this client speaks version {expected}"
    )


def peek_type(item: bytes) -> ItemType:
    """Version and type of any mailbox item; raises ``MalformedData`` / ``UnsupportedVersion``.

    A version-1 vote (type 4) is refused as a version this client does not speak.
    """
    if len(item) < 2:
        raise MalformedData("item shorter than its header")
    kind = _KINDS.get(item[1])
    expected = _VERSIONS.get(kind, ITEM_VERSION) if kind is not None else ITEM_VERSION
    if item[0] != expected:
        raise unsupported_item_version(item[0], expected)
    if kind is None or kind not in _VERSIONS:
        raise MalformedData(f"unknown item type {item[1]}")
    return kind


def peek_item(item: bytes) -> tuple[int, ItemType, int]:
    """``(version, type, epoch)`` of a group mailbox item (a message or vote, or a commit).

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
    """The 10 header bytes of a group mailbox item; also the start of its AEAD data.

    Votes use ``ItemType.MESSAGE``: the relay must not tell them from messages.
    """
    if kind not in _EPOCH_ITEMS:
        raise UsageError("only messages and commits have a group item header")
    if not 0 <= epoch <= 0xFFFFFFFFFFFFFFFF:
        raise UsageError("epoch out of range")
    return _HEADER.pack(ITEM_VERSION, kind, epoch)
