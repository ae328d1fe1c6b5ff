"""Application messages in the group mailbox (protocol section 4.1).

Sealing takes the sender's chain and returns the item plus the advanced chain.  Opening
takes two steps so the caller can fetch the right chain state in between::

    envelope = open_sender_data(keys, item)            # who sent it, which counter
    message_keys, chain = receive_chains[envelope.sender_index].key_for(envelope.counter)
    message = open_message(keys, envelope, message_keys, roster[envelope.sender_index])
    # only now persist ``chain``: a forged item must not burn the sender's keys

The sender index and counter are encrypted (sender data, as in MLS) so the relay does not
learn who sent what; the sender's Ed25519 signature is inside the ciphertext, so only
members see who signed, and a member who knows the epoch secret still cannot post as
another member.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

import nacl.bindings

from crypto import kdf
from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    MalformedData,
    TooLarge,
    UnsupportedVersion,
    UsageError,
)
from crypto.identity import Identity, Rng
from crypto.items import (
    ITEM_HEADER_SIZE,
    ITEM_VERSION,
    ItemType,
    item_header,
    unsupported_item_version,
)
from crypto.key_schedule import EpochKeys
from crypto.padding import pad, unpadded_length
from crypto.ratchet import MessageKeys, SendChain
from crypto.sodium import aead_decrypt, verify_signed

__all__ = [
    "MAX_BODY",
    "MAX_ITEM",
    "MessageEnvelope",
    "OpenedMessage",
    "SealedMessage",
    "SignatureCheck",
    "UncheckedMessage",
    "decrypt_message",
    "open_message",
    "open_sender_data",
    "seal_message",
]

MAX_BODY = 196_608
"""Largest message body, in bytes (a content type's encoding)."""

MAX_ITEM = 262_144
"""Largest message item, in bytes: the relay's limit for a mailbox item."""

INNER_VERSION = 1

_SD_NONCE_SIZE = 24
_SENDER_DATA_SIZE = 8 + 16  # u32 sender_index | u32 counter, plus the AEAD tag
_CT_LENGTH_AT = ITEM_HEADER_SIZE + _SD_NONCE_SIZE + _SENDER_DATA_SIZE  # 58
_CT_AT = _CT_LENGTH_AT + 4  # 62: fixed bytes before the ciphertext
_TAG_SIZE = 16
PADDING_OVERHEAD = _CT_AT + _TAG_SIZE
"""Bytes of an item outside the padded plaintext: sizes of whole items are buckets."""
MAX_CIPHERTEXT = MAX_ITEM - _CT_AT
_SIGNATURE_SIZE = 64

_ITEM_HEAD = struct.Struct(">BBQ")
_U32 = struct.Struct(">I")
_SENDER_DATA = struct.Struct(">II")
# group_id | version | type | epoch | sender_index | counter: the ciphertext's AEAD data.
_CIPHERTEXT_AD = struct.Struct(">16sBBQII")
# version | content_type | sent_at | log_head | prev_message | len(body): the inner head.
_INNER_HEAD = struct.Struct(">BBQ32s32sI")
_MIN_INNER = _INNER_HEAD.size + _SIGNATURE_SIZE
# The frame of ``frame("message", group_id, u64 epoch, u32 index, u32 counter, inner)``
# up to the length of ``inner``: label, then each part's u32 length and bytes.
_SIGNED_PREFIX = kdf.frame("message", ())
_SIGNED_PARTS = struct.Struct(">I16sIQIIIII")
_HASH_PREFIX = kdf.frame("message-hash", ()) + _U32.pack(16)
_HASH_SIG_LENGTH = _U32.pack(_SIGNATURE_SIZE)

_MESSAGE = int(ItemType.MESSAGE)


@dataclass(frozen=True, slots=True)
class SealedMessage:
    """A sealed item ready to post, its hash (the next ``prev_message``) and the chain to
    keep for the next message."""

    item: bytes
    message_hash: bytes
    chain: SendChain


@dataclass(frozen=True, slots=True)
class MessageEnvelope:
    """An item after its sender data was opened: enough to pick the receiving chain."""

    epoch: int
    sender_index: int
    counter: int
    ciphertext: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    """A message as opened: verified, except as ``UncheckedMessage.claimed``.
    ``message_id`` is the first 16 bytes of ``message_hash``."""

    content_type: int
    sent_at: int
    log_head: bytes
    prev_message: bytes
    body: bytes = field(repr=False)
    message_hash: bytes
    message_id: bytes
    sender_pk: bytes
    epoch: int
    sender_index: int
    counter: int


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """A sender's Ed25519 signature over a message, to check: ``signed`` is
    ``signature | signed frame``, as ``crypto_sign_open`` takes it."""

    signed: bytes = field(repr=False)
    public_key: bytes

    def valid(self) -> bool:
        """Whether the signature verifies."""
        return verify_signed(self.signed, self.public_key)


@dataclass(frozen=True, slots=True)
class UncheckedMessage:
    """A message decrypted and parsed, whose signature is not yet checked.

    ``claimed`` is what the item says, not yet what its sender said: nothing may show it,
    keep it or act on it until ``check`` is valid (``verified`` does both at once).
    """

    claimed: OpenedMessage
    check: SignatureCheck

    def verified(self) -> OpenedMessage:
        """The message, or ``BadSignature`` if its sender's signature does not verify."""
        if not self.check.valid():
            raise BadSignature("message signature does not verify")
        return self.claimed


def _message_hash(group_id: bytes, signature: bytes) -> bytes:
    """``H("message-hash", group_id, signature)``, with the constant frame prebuilt."""
    data = b"".join((_HASH_PREFIX, group_id, _HASH_SIG_LENGTH, signature))
    return hashlib.blake2b(data, digest_size=32).digest()


def seal_message(
    keys: EpochKeys,
    chain: SendChain,
    sender: Identity,
    content_type: int,
    body: bytes,
    sent_at: int,
    log_head: bytes,
    prev_message: bytes,
    rng: Rng,
) -> SealedMessage:
    """Sign, pad and encrypt one message with the next key of ``chain``.

    ``log_head`` is the hash of log entry ``keys.epoch`` as the sender saw it and
    ``prev_message`` the hash of the sender's previous message in this group (zeros for
    the first).  Raises ``TooLarge`` for a body over ``MAX_BODY`` bytes and
    ``UsageError`` for a chain of another epoch or malformed arguments.
    """
    if chain.epoch != keys.epoch:
        raise UsageError("sending chain belongs to another epoch")
    if len(body) > MAX_BODY:
        raise TooLarge(f"message body of {len(body)} bytes exceeds {MAX_BODY}")
    if not 0 <= content_type <= 0xFF or not 0 <= sent_at <= 0xFFFFFFFFFFFFFFFF:
        raise UsageError("content type or timestamp out of range")
    if len(log_head) != 32 or len(prev_message) != 32:
        raise UsageError("log head and previous message hash must be 32 bytes")
    sd_nonce = rng(_SD_NONCE_SIZE)
    if len(sd_nonce) != _SD_NONCE_SIZE:
        raise UsageError("rng returned the wrong number of bytes")

    message_keys, next_chain = chain.next()
    index, counter = chain.sender_index, chain.counter
    inner_unsigned = (
        _INNER_HEAD.pack(INNER_VERSION, content_type, sent_at, log_head, prev_message, len(body))
        + body
    )
    signature = sender.sign(
        "message",
        keys.group_id,
        struct.pack(">Q", keys.epoch),
        _U32.pack(index),
        _U32.pack(counter),
        inner_unsigned,
    )
    padded = pad(inner_unsigned + signature, PADDING_OVERHEAD)

    header = item_header(ItemType.MESSAGE, keys.epoch)
    sender_data = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        _SENDER_DATA.pack(index, counter),
        keys.group_id + header,
        sd_nonce,
        keys.sender_data_key,
    )
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded,
        _CIPHERTEXT_AD.pack(keys.group_id, ITEM_VERSION, _MESSAGE, keys.epoch, index, counter),
        message_keys.nonce,
        message_keys.key,
    )
    item = b"".join((header, sd_nonce, sender_data, _U32.pack(len(ciphertext)), ciphertext))
    if len(item) > MAX_ITEM:  # cannot happen with MAX_BODY; kept as a cheap invariant
        raise UsageError("sealed item exceeds the item limit")
    return SealedMessage(item, _message_hash(keys.group_id, signature), next_chain)


def open_sender_data(keys: EpochKeys, item: bytes) -> MessageEnvelope:
    """Check an item's header and decrypt its sender data with the epoch's key.

    Raises ``TooLarge`` over ``MAX_ITEM`` bytes, ``UnsupportedVersion``/``MalformedData``
    for a bad header or length, and ``DecryptionFailed`` when the item is of another
    epoch than ``keys`` or its sender data does not open (another group, or tampered).
    """
    if type(item) is not bytes:
        item = bytes(item)
    size = len(item)
    if size > MAX_ITEM:
        raise TooLarge(f"item of {size} bytes exceeds {MAX_ITEM}")
    if size < ITEM_HEADER_SIZE:
        raise MalformedData("item shorter than its header")
    version, kind, epoch = _ITEM_HEAD.unpack_from(item)
    if version != ITEM_VERSION:
        raise unsupported_item_version(version)
    if kind != _MESSAGE:
        raise MalformedData("item is not an application message")
    if size < _CT_AT + _TAG_SIZE:
        raise MalformedData("item shorter than a message")
    if epoch != keys.epoch:
        raise DecryptionFailed("item belongs to another epoch")
    (ct_length,) = _U32.unpack_from(item, _CT_LENGTH_AT)
    if ct_length != size - _CT_AT:
        raise MalformedData("ciphertext length does not match the item")
    sender_data = aead_decrypt(
        item[ITEM_HEADER_SIZE + _SD_NONCE_SIZE : _CT_LENGTH_AT],
        keys.group_id + item[:ITEM_HEADER_SIZE],
        item[ITEM_HEADER_SIZE : ITEM_HEADER_SIZE + _SD_NONCE_SIZE],
        keys.sender_data_key,
    )
    if sender_data is None:
        raise DecryptionFailed("sender data did not decrypt")
    sender_index, counter = _SENDER_DATA.unpack(sender_data)
    return MessageEnvelope(epoch, sender_index, counter, item[_CT_AT:])


def open_message(
    keys: EpochKeys,
    envelope: MessageEnvelope,
    message_keys: MessageKeys,
    sender_pk: bytes,
) -> OpenedMessage:
    """Decrypt, unpad, parse and verify a message from the member with ``sender_pk``.

    ``message_keys`` come from the sender's ``ReceiveChain.key_for(envelope.counter)``
    and ``sender_pk`` from the roster at ``envelope.sender_index``.  Raises
    ``DecryptionFailed``, ``MalformedData`` (or ``TooLarge``/``UnsupportedVersion``)
    and ``BadSignature``; on any of them the caller must not persist the advanced chain.
    """
    return decrypt_message(keys, envelope, message_keys, sender_pk).verified()


def decrypt_message(
    keys: EpochKeys,
    envelope: MessageEnvelope,
    message_keys: MessageKeys,
    sender_pk: bytes,
) -> UncheckedMessage:
    """``open_message`` up to, not including, the signature check: the same errors
    except ``BadSignature``. For a caller that checks the signature before it keeps
    anything (``app.core.signature_checks``)."""
    epoch = envelope.epoch
    if epoch != keys.epoch:
        raise UsageError("envelope belongs to another epoch than the keys")
    if len(sender_pk) != 32:
        raise UsageError("sender public key must be 32 bytes")
    group_id = keys.group_id
    index = envelope.sender_index
    counter = envelope.counter
    padded = aead_decrypt(
        envelope.ciphertext,
        _CIPHERTEXT_AD.pack(group_id, ITEM_VERSION, _MESSAGE, epoch, index, counter),
        message_keys.nonce,
        message_keys.key,
    )
    if padded is None:
        raise DecryptionFailed("message did not decrypt")

    # Parse the inner plaintext in place, at offset 4 of the padded buffer.
    inner_length = unpadded_length(padded, PADDING_OVERHEAD)
    if inner_length < _MIN_INNER:
        raise MalformedData("message plaintext too short")
    version, content_type, sent_at, log_head, prev_message, body_length = _INNER_HEAD.unpack_from(
        padded, 4
    )
    if version != INNER_VERSION:
        raise UnsupportedVersion(f"message version {version}")
    if body_length > MAX_BODY:
        raise TooLarge(f"message body of {body_length} bytes exceeds {MAX_BODY}")
    body_at = 4 + _INNER_HEAD.size
    signature_at = body_at + body_length
    if signature_at + _SIGNATURE_SIZE != 4 + inner_length:
        raise MalformedData("message body length does not match the plaintext")
    signature = padded[signature_at : signature_at + _SIGNATURE_SIZE]

    signed = b"".join(
        (
            signature,
            _SIGNED_PREFIX,
            _SIGNED_PARTS.pack(16, group_id, 8, epoch, 4, index, 4, counter, signature_at - 4),
            memoryview(padded)[4:signature_at],
        )
    )
    message_hash = _message_hash(group_id, signature)
    claimed = OpenedMessage(
        content_type,
        sent_at,
        log_head,
        prev_message,
        padded[body_at:signature_at],
        message_hash,
        message_hash[:16],
        sender_pk,
        epoch,
        index,
        counter,
    )
    return UncheckedMessage(claimed, SignatureCheck(signed, sender_pk))
