"""How ballots travel: the anonymous vote item and the ballot message bodies.

**Vote item** (protocol section 4.3, ``docs/ballots.md`` section 10).  A vote must not
travel as a signed group message: those carry the sender's index and identity signature.
It is encrypted under a key every member of the epoch derives, and it looks exactly like
an application message to the relay -- same header (type 1), same layout, same size
buckets -- so the relay cannot tell a vote from a chat line::

    u8 version=2 | u8 type=1 | u64 epoch                       (10 bytes: the item header)
    | bytes24 nonce                                             (random, from rng)
    | bytes24 marker = AEAD(vote key, nonce, u8 4 | 7 zero bytes, ad = group_id | header)
    | var(262082) AEAD(vote key, KDF(vote key, "vote-nonce", nonce, size=24),
                       padded vote, ad = group_id | header)

A message has its sender data where a vote has the marker; a receiver tries the epoch's
sender-data key first, then the vote key (``open_inner``, which hands a message's opened
sender data on so it is decrypted once; ``inner_item_type`` for the type alone).  The padded vote is
``u32 len | vote | zeros`` such that the whole item is a bucket size
(``crypto/padding.py``), exactly as for a message, so every vote of one ballot has one
size and shares it with messages of similar length.

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

from crypto import kdf
from crypto.ballot.reveal import REVEAL_VERSION
from crypto.ballot.vote import VOTE_VERSION
from crypto.errors import (
    DecryptionFailed,
    MalformedData,
    TooLarge,
    UnsupportedVersion,
    UsageError,
)
from crypto.items import (
    ITEM_HEADER_SIZE,
    ITEM_VERSION,
    ItemType,
    item_header,
    unsupported_item_version,
)
from crypto.key_schedule import EpochKeys
from crypto.message import MAX_CIPHERTEXT, PADDING_OVERHEAD, MessageEnvelope
from crypto.padding import pad, unpad
from crypto.sodium import aead_decrypt
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
    "inner_item_type",
    "open_inner",
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
_MARKER_AT = ITEM_HEADER_SIZE + _NONCE_SIZE  # 34
_LENGTH_AT = _MARKER_AT + 8 + _TAG_SIZE  # 58: where a message's ciphertext length sits
_CIPHERTEXT_AT = _LENGTH_AT + 4  # 62
VOTE_PADDING_OVERHEAD: Final = PADDING_OVERHEAD
"""Bytes of a vote item outside the padded vote (78, as for a message): whole items are
bucket sizes, the same buckets as messages."""

_HEADER = struct.Struct(">BBQ")
_U32 = struct.Struct(">I")
_SENDER_DATA = struct.Struct(">II")
_MARKER = bytes((int(ItemType.VOTE),)) + bytes(7)
_MESSAGE = int(ItemType.MESSAGE)

Rng = Callable[[int], bytes]


def vote_key(keys: EpochKeys) -> bytes:
    """``KDF(E_epoch, "vote-key")``: every member of the epoch can open every vote item."""
    return keys.vote_key


def _body_nonce(key: bytes, nonce: bytes) -> bytes:
    return kdf.derive(key, "vote-nonce", nonce, size=_NONCE_SIZE)


def seal_vote_item(keys: EpochKeys, vote: bytes, rng: Rng) -> bytes:
    """Encrypt and pad a vote (``cast_vote``'s output) for the group mailbox of ``keys``.

    Nothing of the voter goes in: the nonce is random and the key is shared by the epoch.
    The item has a message's header, layout and size bucket.
    """
    if not vote:
        raise UsageError("a vote item needs a vote")
    nonce = rng(_NONCE_SIZE)
    if len(nonce) != _NONCE_SIZE:
        raise UsageError("rng returned the wrong number of bytes")
    header = item_header(ItemType.MESSAGE, keys.epoch)
    key = vote_key(keys)
    ad = keys.group_id + header
    marker = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(_MARKER, ad, nonce, key)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(vote, VOTE_PADDING_OVERHEAD), ad, _body_nonce(key, nonce), key
    )
    item = b"".join((header, nonce, marker, _U32.pack(len(ciphertext)), ciphertext))
    if len(item) > MAX_VOTE_ITEM:
        raise TooLarge(f"vote item of {len(item)} bytes exceeds {MAX_VOTE_ITEM}")
    return item


def _check_frame(keys: EpochKeys, item: bytes) -> None:
    size = len(item)
    if size > MAX_VOTE_ITEM:
        raise TooLarge(f"vote item of {size} bytes exceeds {MAX_VOTE_ITEM}")
    if size < _CIPHERTEXT_AT + _TAG_SIZE:
        raise MalformedData("vote item shorter than its fixed fields")
    version, kind, epoch = _HEADER.unpack_from(item)
    if version != ITEM_VERSION:
        raise unsupported_item_version(version)
    if kind != _MESSAGE:
        raise MalformedData("item is not a message or vote")
    if epoch != keys.epoch:
        raise DecryptionFailed("vote item belongs to another epoch")
    (length,) = _U32.unpack_from(item, _LENGTH_AT)
    if length != size - _CIPHERTEXT_AT or length > MAX_CIPHERTEXT:
        raise MalformedData("ciphertext length does not match the item")


def _open_marker(keys: EpochKeys, key: bytes, item: bytes) -> None:
    try:
        marker = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            item[_MARKER_AT:_LENGTH_AT],
            keys.group_id + item[:ITEM_HEADER_SIZE],
            item[ITEM_HEADER_SIZE:_MARKER_AT],
            key,
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("item is not a vote of this epoch") from None
    if marker != _MARKER:
        raise MalformedData("vote marker names another inner type")


def open_inner(keys: EpochKeys, item: bytes) -> MessageEnvelope | None:
    """A type-1 item of ``keys``'s epoch told apart after decryption: the message's
    envelope when its sender-data field opens under the sender-data key (what
    ``open_sender_data`` returns, decrypted once), or None for a vote, whose marker opened
    under the vote key.

    Raises ``DecryptionFailed`` when it opens under neither, and what ``open_vote_item``
    raises for a bad frame (every check of ``open_sender_data`` is among them).
    """
    if type(item) is not bytes:
        item = bytes(item)
    _check_frame(keys, item)
    sender_data = aead_decrypt(
        item[_MARKER_AT:_LENGTH_AT],
        keys.group_id + item[:ITEM_HEADER_SIZE],
        item[ITEM_HEADER_SIZE:_MARKER_AT],
        keys.sender_data_key,
    )
    if sender_data is None:
        _open_marker(keys, vote_key(keys), item)
        return None
    sender_index, counter = _SENDER_DATA.unpack(sender_data)
    return MessageEnvelope(keys.epoch, sender_index, counter, item[_CIPHERTEXT_AT:])


def inner_item_type(keys: EpochKeys, item: bytes) -> ItemType:
    """``MESSAGE`` or ``VOTE`` for a type-1 item of ``keys``'s epoch, told apart after
    decryption (``open_inner``): the sender-data field opens under the sender-data key
    (a message) or under the vote key (a vote).

    Raises ``DecryptionFailed`` when it opens under neither, and what ``open_vote_item``
    raises for a bad frame.
    """
    return ItemType.VOTE if open_inner(keys, item) is None else ItemType.MESSAGE


def open_vote_item(keys: EpochKeys, item: bytes) -> bytes:
    """The vote inside a vote item, for ``verify_vote``.

    Raises ``TooLarge`` over ``MAX_VOTE_ITEM`` bytes, ``UnsupportedVersion`` or
    ``MalformedData`` for a bad header, size or padding, and ``DecryptionFailed`` for an
    item of another epoch than ``keys`` or one that does not open (a message, another
    group, tampered).
    """
    item = bytes(item)
    _check_frame(keys, item)
    key = vote_key(keys)
    _open_marker(keys, key, item)
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            item[_CIPHERTEXT_AT:],
            keys.group_id + item[:ITEM_HEADER_SIZE],
            _body_nonce(key, item[ITEM_HEADER_SIZE:_MARKER_AT]),
            key,
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
