"""Organizer-signed freshness heads (protocol section 4.4, version 2).

A *head* is a small statement an organizer signs: "at ``issued_at`` (my clock) the newest
entry of this group's log I hold is ``seq`` with hash ``head``".  The relay cannot forge
one (Ed25519 by an organizer of the epoch) and cannot make an old one look new (the time
is inside the signature).  It travels as its own mailbox item, type 5, encrypted under a
key of the epoch it names, so only members of that epoch read it::

    u8 version=1 | u8 type=5 | u64 epoch                  (the shared item header)
    | bytes24 nonce
    | AEAD(KDF(E_epoch, "head-key"), nonce, padded head, ad = group_id | item header)

    head = u8 version=2 | bytes16 group_id | u64 seq | bytes32 head | u64 issued_at
           | bytes32 author | bytes64 Ed25519(author, frame("freshness-head", preceding))

A member sealed out of a newer epoch (the relay withholding the commit that started it)
reads no newer head: the newest one it can confirm ages, and its client holds sends.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import nacl.bindings
import nacl.exceptions

from crypto import kdf
from crypto.errors import (
    DecryptionFailed,
    ForkDetected,
    MalformedData,
    NotPermitted,
    TooLarge,
    UnsupportedVersion,
    UsageError,
)
from crypto.group_log import GroupState, Role
from crypto.identity import Identity, verify_framed
from crypto.items import ITEM_HEADER_SIZE, ITEM_VERSION, ItemType, item_header
from crypto.key_schedule import EpochKeys
from crypto.padding import pad, unpad

__all__ = [
    "HEAD_SIZE",
    "HEAD_VERSION",
    "MAX_HEAD_ITEM",
    "Head",
    "check_head",
    "head_key",
    "open_head_item",
    "seal_head_item",
    "sign_head",
]

HEAD_VERSION: Final = 2
"""Version byte of the signed head (a protocol-2 format; nothing older exists)."""

_UNSIGNED = struct.Struct(">B16sQ32sQ32s")
HEAD_SIZE: Final = _UNSIGNED.size + 64
"""Bytes of an encoded head: 161."""

_NONCE_SIZE = 24
_TAG_SIZE = 16
HEAD_PADDING_OVERHEAD: Final = ITEM_HEADER_SIZE + _NONCE_SIZE + _TAG_SIZE
MAX_HEAD_ITEM: Final = 256
"""A head item is always the smallest bucket, the size of a short text message."""

_HEADER = struct.Struct(">BBQ")
_HEAD_ITEM = int(ItemType.HEAD)

Rng = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class Head:
    """A signed statement of an organizer's log head at a time (not yet checked against
    any group state: ``check_head`` does that)."""

    group_id: bytes
    seq: int
    head: bytes
    issued_at: int
    author: bytes
    signature: bytes

    def _unsigned(self) -> bytes:
        return _UNSIGNED.pack(
            HEAD_VERSION, self.group_id, self.seq, self.head, self.issued_at, self.author
        )

    def encode(self) -> bytes:
        return self._unsigned() + self.signature

    @classmethod
    def decode(cls, data: bytes) -> Head:
        """Strict: ``UnsupportedVersion`` for another version, ``MalformedData`` for a
        wrong length.  The signature is not checked here."""
        if len(data) < 1:
            raise MalformedData("empty freshness head")
        if data[0] != HEAD_VERSION:
            raise UnsupportedVersion(
                f"freshness head version {data[0]} (this client speaks {HEAD_VERSION})"
            )
        if len(data) != HEAD_SIZE:
            raise MalformedData("freshness head has the wrong length")
        _, group_id, seq, head, issued_at, author = _UNSIGNED.unpack_from(data)
        return cls(group_id, seq, head, issued_at, author, bytes(data[_UNSIGNED.size :]))

    def verify(self) -> None:
        """``BadSignature`` unless the author's signature covers every field."""
        verify_framed(self.author, self.signature, "freshness-head", self._unsigned())


def sign_head(identity: Identity, state: GroupState, issued_at: int) -> Head:
    """Our head for ``state`` at ``issued_at``; ``UsageError`` unless we organize it."""
    me = identity.public_key
    if not state.is_member(me) or state.role_of(me) != Role.ORGANIZER:
        raise UsageError("only an organizer signs freshness heads")
    if not 0 <= issued_at <= 0xFFFFFFFFFFFFFFFF:
        raise UsageError("time out of range")
    unsigned = _UNSIGNED.pack(
        HEAD_VERSION, state.group_id, state.seq, state.head, issued_at, identity.public_key
    )
    signature = identity.sign("freshness-head", unsigned)
    return Head(state.group_id, state.seq, state.head, issued_at, identity.public_key, signature)


def head_key(keys: EpochKeys) -> bytes:
    """``KDF(vote key, "head-key")``: every member of the epoch opens the epoch's heads.

    Derived from the epoch's vote key rather than from ``E_epoch``, which no client keeps
    once it has entered the epoch (protocol 3.1); a distinct label keeps the two apart."""
    return kdf.derive(keys.vote_key, "head-key")


def seal_head_item(keys: EpochKeys, head: Head, rng: Rng) -> bytes:
    """The mailbox item carrying ``head``, for the epoch of ``keys`` (which it must name)."""
    if head.group_id != keys.group_id or head.seq != keys.epoch:
        raise UsageError("a head is sealed in the epoch it names")
    nonce = rng(_NONCE_SIZE)
    if len(nonce) != _NONCE_SIZE:
        raise UsageError("rng returned the wrong number of bytes")
    header = item_header(ItemType.HEAD, keys.epoch)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(head.encode(), HEAD_PADDING_OVERHEAD), keys.group_id + header, nonce, head_key(keys)
    )
    return header + nonce + ciphertext


def open_head_item(keys: EpochKeys, item: bytes) -> Head:
    """The head inside a head item of the epoch of ``keys``, its signature verified.

    Raises ``TooLarge``, ``UnsupportedVersion``/``MalformedData`` (header, size, padding,
    format), ``DecryptionFailed`` (another epoch, another group, tampered) and
    ``BadSignature``.  The head's group and seq must be the item's.
    """
    item = bytes(item)
    if len(item) > MAX_HEAD_ITEM:
        raise TooLarge(f"head item of {len(item)} bytes exceeds {MAX_HEAD_ITEM}")
    if len(item) < HEAD_PADDING_OVERHEAD:
        raise MalformedData("head item shorter than its fixed fields")
    version, kind, epoch = _HEADER.unpack_from(item)
    if version != ITEM_VERSION:
        raise UnsupportedVersion(f"item version {version}")
    if kind != _HEAD_ITEM:
        raise MalformedData("item is not a freshness head")
    if epoch != keys.epoch:
        raise DecryptionFailed("head item belongs to another epoch")
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            item[ITEM_HEADER_SIZE + _NONCE_SIZE :],
            keys.group_id + item[:ITEM_HEADER_SIZE],
            item[ITEM_HEADER_SIZE : ITEM_HEADER_SIZE + _NONCE_SIZE],
            head_key(keys),
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("head item did not decrypt") from None
    head = Head.decode(unpad(padded, HEAD_PADDING_OVERHEAD))
    if head.group_id != keys.group_id or head.seq != epoch:
        raise MalformedData("a head names another group or epoch than its item")
    head.verify()
    return head


def check_head(head: Head, state: GroupState) -> None:
    """A verified head of ``state``'s epoch counts only from an organizer of that epoch
    (``NotPermitted``) naming the same log head as ours (``ForkDetected``)."""
    if head.seq != state.seq or head.group_id != state.group_id:
        raise UsageError("check a head against the state of the epoch it names")
    if not state.is_member(head.author) or state.role_of(head.author) != Role.ORGANIZER:
        raise NotPermitted("a freshness head from someone who is not an organizer")
    if head.head != state.head:
        raise ForkDetected(
            "an organizer's log differs from ours at this epoch: "
            "the relay is showing members different histories"
        )
