"""The help mailbox of a group and the items in it (protocol 4.5).

A member whose key box in a commit was bad still holds the ending epoch, but the relay
refuses writes made with a past epoch's capability. The help mailbox is a second mailbox
per group that every member can find without any epoch secret: its id, capability and
item key are derived from the group id. It carries key requests, key answers and group
moves (``crypto/key_request.py``, ``crypto/group_move.py``), each padded to a bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

import nacl.bindings
import nacl.exceptions

from crypto import kdf
from crypto.errors import DecryptionFailed, MalformedData, TooLarge, UnsupportedVersion, UsageError
from crypto.padding import pad, unpad

__all__ = [
    "HELP_ITEM_TYPE",
    "HELP_VERSION",
    "MAX_HELP_ITEM",
    "HelpBox",
    "HelpItem",
    "HelpKind",
    "open_help_item",
    "seal_help_item",
]

HELP_VERSION = 2
HELP_ITEM_TYPE = 6
MAX_HELP_ITEM = 262144  # the relay's item limit
_NONCE_SIZE = 24
_TAG_SIZE = 16
_HEADER_SIZE = 3  # version, type, kind
_OVERHEAD = _HEADER_SIZE + _NONCE_SIZE + _TAG_SIZE


class HelpKind(IntEnum):
    """The third byte of a help item."""

    KEY_REQUEST = 1
    KEY_ANSWER = 2
    GROUP_MOVE = 3


@dataclass(frozen=True)
class HelpBox:
    """Where a group's help mailbox is and how its items are sealed."""

    group_id: bytes
    mailbox_id: bytes
    capability: bytes = field(repr=False)
    key: bytes = field(repr=False)

    @classmethod
    def derive(cls, group_id: bytes) -> HelpBox:
        if len(group_id) != 16:
            raise UsageError("group id must be 16 bytes")
        return cls(
            group_id=group_id,
            mailbox_id=kdf.derive(group_id, "help-mailbox", size=16),
            capability=kdf.derive(group_id, "help-cap"),
            key=kdf.derive(group_id, "help-key"),
        )


@dataclass(frozen=True)
class HelpItem:
    """An opened help item: its kind and body (the body is not yet checked)."""

    kind: HelpKind
    body: bytes


def seal_help_item(box: HelpBox, kind: HelpKind, body: bytes, rng: Callable[[int], bytes]) -> bytes:
    """``version | type | kind | nonce | AEAD(help key, padded body)``, a bucket size."""
    header = bytes((HELP_VERSION, HELP_ITEM_TYPE, int(HelpKind(kind))))
    nonce = rng(_NONCE_SIZE)
    if len(nonce) != _NONCE_SIZE:
        raise UsageError("rng returned the wrong number of bytes")
    padded = pad(body, _OVERHEAD)
    if _OVERHEAD + len(padded) > MAX_HELP_ITEM:
        raise UsageError("help item body too large")
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, box.group_id + header, nonce, box.key
    )
    return header + nonce + ciphertext


def open_help_item(box: HelpBox, item: bytes) -> HelpItem:
    """Open a help item; ``UnsupportedVersion``, ``MalformedData``, ``TooLarge`` or
    ``DecryptionFailed`` when it is not one of ours."""
    if len(item) > MAX_HELP_ITEM:
        raise TooLarge("help item larger than the item limit")
    if len(item) < _OVERHEAD:
        raise MalformedData("help item shorter than its header")
    if item[0] != HELP_VERSION:
        raise UnsupportedVersion(f"help item version {item[0]} (this client speaks 2)")
    if item[1] != HELP_ITEM_TYPE:
        raise MalformedData("not a help item")
    try:
        kind = HelpKind(item[2])
    except ValueError:
        raise MalformedData(f"unknown help item kind {item[2]}") from None
    header = item[:_HEADER_SIZE]
    nonce = item[_HEADER_SIZE : _HEADER_SIZE + _NONCE_SIZE]
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            item[_HEADER_SIZE + _NONCE_SIZE :], box.group_id + header, nonce, box.key
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("help item does not decrypt with this group's help key") from None
    return HelpItem(kind, unpad(padded, _OVERHEAD))
