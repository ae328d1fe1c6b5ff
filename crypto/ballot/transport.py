"""How ballots travel: the anonymous vote item and the ballot message bodies.

**Vote item** (mailbox item type 4, ``docs/ballots.md`` section 10).  A vote must not
travel as a group message: those carry the sender's index and identity signature.  It is
encrypted under a key every member of the epoch derives, with a random nonce, and padded
like a message, so the relay sees "some member posted something" and members see only
the vote's ring signature::

    u8 version=1 | u8 type=4 | u64 epoch                       (10 bytes: the item header)
    | bytes24 nonce                                             (random, from rng)
    | AEAD(KDF(E_epoch, "vote-key"), nonce, padded vote, ad = group_id | item header)

The padded vote is ``u32 len | vote | zeros`` such that the whole item is a bucket size
(``crypto/padding.py``), so every vote of one ballot has the same size.

**Ballot messages** (signed group messages, content types 16-19): the definition (16) is
``BallotDefinition.encode()``; the close marker (17) and the cancellation (19) are
``u8 version=1 | bytes16 ballot_id`` (``BallotNotice``); the reveal (18) is the creator's
``RevealKey.encode_release`` (checked against the definition by ``decode_release``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import nacl.bindings
import nacl.exceptions

from crypto.ballot.reveal import REVEAL_VERSION
from crypto.ballot.vote import VOTE_VERSION
from crypto.errors import (
    DecryptionFailed,
    MalformedData,
    TooLarge,
    UnsupportedVersion,
    UsageError,
)
from crypto.items import ITEM_HEADER_SIZE, ITEM_VERSION, ItemType, item_header
from crypto.key_schedule import EpochKeys
from crypto.padding import pad, unpad
from crypto.wire import Reader, Writer

__all__ = [
    "CONTENT_TYPE_CANCEL",
    "CONTENT_TYPE_CLOSE",
    "CONTENT_TYPE_DEFINITION",
    "CONTENT_TYPE_REVEAL",
    "MAX_VOTE_ITEM",
    "NOTICE_VERSION",
    "VOTE_PADDING_OVERHEAD",
    "BallotNotice",
    "open_vote_item",
    "peek_ballot_id",
    "reveal_ballot_id",
    "seal_vote_item",
    "vote_key",
]

CONTENT_TYPE_DEFINITION: Final = 16
CONTENT_TYPE_CLOSE: Final = 17
CONTENT_TYPE_REVEAL: Final = 18
CONTENT_TYPE_CANCEL: Final = 19

NOTICE_VERSION: Final = 1

MAX_VOTE_ITEM: Final = 262_144
"""The relay's item limit; a vote over the largest ring (4,096 keys) fits."""

_NONCE_SIZE = 24
_TAG_SIZE = 16
VOTE_PADDING_OVERHEAD: Final = ITEM_HEADER_SIZE + _NONCE_SIZE + _TAG_SIZE
"""Bytes of a vote item outside the padded vote: whole items are bucket sizes."""

_HEADER = struct.Struct(">BBQ")
_VOTE = int(ItemType.VOTE)

Rng = Callable[[int], bytes]


def vote_key(keys: EpochKeys) -> bytes:
    """``KDF(E_epoch, "vote-key")``: every member of the epoch can open every vote item."""
    return keys.vote_key


def seal_vote_item(keys: EpochKeys, vote: bytes, rng: Rng) -> bytes:
    """Encrypt and pad a vote (``cast_vote``'s output) for the group mailbox of ``keys``.

    Nothing of the voter goes in: the nonce is random and the key is shared by the epoch.
    """
    if not vote:
        raise UsageError("a vote item needs a vote")
    nonce = rng(_NONCE_SIZE)
    if len(nonce) != _NONCE_SIZE:
        raise UsageError("rng returned the wrong number of bytes")
    header = item_header(ItemType.VOTE, keys.epoch)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(vote, VOTE_PADDING_OVERHEAD), keys.group_id + header, nonce, vote_key(keys)
    )
    item = header + nonce + ciphertext
    if len(item) > MAX_VOTE_ITEM:
        raise TooLarge(f"vote item of {len(item)} bytes exceeds {MAX_VOTE_ITEM}")
    return item


def open_vote_item(keys: EpochKeys, item: bytes) -> bytes:
    """The vote inside a vote item, for ``verify_vote``.

    Raises ``TooLarge`` over ``MAX_VOTE_ITEM`` bytes, ``UnsupportedVersion`` or
    ``MalformedData`` for a bad header, size or padding, and ``DecryptionFailed`` for an
    item of another epoch than ``keys`` or one that does not open (another group, tampered).
    """
    item = bytes(item)
    size = len(item)
    if size > MAX_VOTE_ITEM:
        raise TooLarge(f"vote item of {size} bytes exceeds {MAX_VOTE_ITEM}")
    if size < VOTE_PADDING_OVERHEAD:
        raise MalformedData("vote item shorter than its fixed fields")
    version, kind, epoch = _HEADER.unpack_from(item)
    if version != ITEM_VERSION:
        raise UnsupportedVersion(f"item version {version}")
    if kind != _VOTE:
        raise MalformedData("item is not a vote")
    if epoch != keys.epoch:
        raise DecryptionFailed("vote item belongs to another epoch")
    nonce = item[ITEM_HEADER_SIZE : ITEM_HEADER_SIZE + _NONCE_SIZE]
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            item[ITEM_HEADER_SIZE + _NONCE_SIZE :],
            keys.group_id + item[:ITEM_HEADER_SIZE],
            nonce,
            vote_key(keys),
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("vote item did not decrypt") from None
    return unpad(padded, VOTE_PADDING_OVERHEAD)


def peek_ballot_id(vote: bytes) -> bytes:
    """The ballot a vote names (to find its definition before verifying it)."""
    if len(vote) < 17:
        raise MalformedData("vote shorter than its header")
    if vote[0] != VOTE_VERSION:
        raise UnsupportedVersion(f"vote version {vote[0]}")
    return bytes(vote[1:17])


def reveal_ballot_id(release: bytes) -> bytes:
    """The ballot a reveal release names; ``RevealKey.decode_release`` does the full check."""
    if len(release) < 17:
        raise MalformedData("reveal release shorter than its header")
    if release[0] != REVEAL_VERSION:
        raise UnsupportedVersion(f"reveal release version {release[0]}")
    return bytes(release[1:17])


@dataclass(frozen=True)
class BallotNotice:
    """Body of a close marker (17) or a cancellation (19): ``u8 version=1 | bytes16 id``.

    The content type says which; the message signature covers it.
    """

    ballot_id: bytes

    def __post_init__(self) -> None:
        if len(self.ballot_id) != 16:
            raise UsageError("ballot id must be 16 bytes")

    def encode(self) -> bytes:
        return bytes(Writer().u8(NOTICE_VERSION).fixed(self.ballot_id, 16))

    @classmethod
    def decode(cls, data: bytes) -> BallotNotice:
        reader = Reader(data)
        version = reader.u8()
        if version != NOTICE_VERSION:
            raise UnsupportedVersion(f"ballot notice version {version}")
        ballot_id = reader.fixed(16)
        reader.finish()
        return cls(ballot_id)
