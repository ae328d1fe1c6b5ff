"""Commits: a log entry encrypted under the ending epoch plus the new epoch secret sealed
to every member of the new roster (protocol 3, 4.2).

The entry is readable by everyone who held the old epoch (a removed member learns of its
removal); the new secret only by the new roster.  A relay can swap sealed boxes, as they
are anonymous, but not make anyone accept its secret: the recipient checks the secret
against the commitment inside the author's signed entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions

from crypto.errors import (
    DecryptionFailed,
    EpochKeyMismatch,
    InvalidLogEntry,
    MalformedData,
    UnsupportedVersion,
    UsageError,
)
from crypto.group_log import MAX_MEMBERS, GroupState
from crypto.identity import Identity
from crypto.items import ITEM_VERSION, ItemType, item_header
from crypto.key_schedule import EpochKeys, epoch_commitment
from crypto.log_entry import LogEntry
from crypto.sealed import SEAL_OVERHEAD, open_sealed, seal
from crypto.wire import Reader, Writer

__all__ = [
    "DELIVERY_VERSION",
    "EPOCH_DELIVERY_SIZE",
    "MAX_COMMIT_CIPHERTEXT",
    "SEALED_DELIVERY_SIZE",
    "open_commit",
    "open_epoch_delivery",
    "seal_commit",
]

DELIVERY_VERSION = 1
EPOCH_DELIVERY_SIZE = 1 + 16 + 8 + 32 + 32
SEALED_DELIVERY_SIZE = EPOCH_DELIVERY_SIZE + SEAL_OVERHEAD
MAX_COMMIT_CIPHERTEXT = 131072
_NONCE_SIZE = 24


@dataclass(frozen=True)
class _CommitItem:
    """A parsed commit item; nothing in it is authenticated yet."""

    header: bytes
    epoch: int
    nonce: bytes
    ciphertext: bytes
    sealed: tuple[bytes, ...]


def _parse(item: bytes) -> _CommitItem:
    reader = Reader(item)
    version = reader.u8()
    if version != ITEM_VERSION:
        raise UnsupportedVersion(f"item version {version}")
    kind = reader.u8()
    if kind != ItemType.COMMIT:
        raise MalformedData("item is not a commit")
    epoch = reader.u64()
    nonce = reader.fixed(_NONCE_SIZE)
    ciphertext = reader.var(MAX_COMMIT_CIPHERTEXT)
    sealed = reader.items(MAX_MEMBERS, lambda r: r.fixed(SEALED_DELIVERY_SIZE))
    reader.finish()
    return _CommitItem(item[:10], epoch, nonce, ciphertext, tuple(sealed))


def _delivery_plaintext(group_id: bytes, epoch: int, entry_hash: bytes, secret: bytes) -> bytes:
    return bytes(
        Writer()
        .u8(DELIVERY_VERSION)
        .fixed(group_id, 16)
        .u64(epoch)
        .fixed(entry_hash, 32)
        .fixed(secret, 32)
    )


def _check_state_matches(entry: LogEntry, new_state: GroupState) -> None:
    if new_state.group_id != entry.group_id or new_state.seq != entry.seq:
        raise UsageError("new_state is not the state after this entry")
    if new_state.head != entry.hash:
        raise UsageError("new_state is not the state after this entry")


def seal_commit(
    prev_keys: EpochKeys,
    entry: LogEntry,
    new_state: GroupState,
    new_secret: bytes,
    rng: Callable[[int], bytes],
) -> bytes:
    """The commit item that ends epoch ``prev_keys.epoch`` with ``entry``.

    ``new_state`` must be the state after ``entry`` and ``new_secret`` the secret the entry
    commits to (as returned by ``author_entry``); anything else is a ``UsageError``.
    """
    if entry.group_id != prev_keys.group_id or entry.seq != prev_keys.epoch + 1:
        raise UsageError("entry does not follow the epoch of prev_keys")
    _check_state_matches(entry, new_state)
    if len(new_secret) != 32 or entry.epoch_commitment != epoch_commitment(
        entry.group_id, entry.seq, new_secret
    ):
        raise UsageError("new_secret is not the secret the entry commits to")
    header = item_header(ItemType.COMMIT, prev_keys.epoch)
    nonce = rng(_NONCE_SIZE)
    if len(nonce) != _NONCE_SIZE:
        raise UsageError("rng returned the wrong number of bytes")
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        entry.encode(), prev_keys.group_id + header, nonce, prev_keys.commit_key
    )
    plaintext = _delivery_plaintext(entry.group_id, entry.seq, entry.hash, new_secret)
    boxes = [seal(m.delivery_cert.delivery_pk, plaintext, rng) for m in new_state.roster()]
    writer = Writer().fixed(header, len(header)).fixed(nonce, _NONCE_SIZE)
    writer.var(ciphertext, MAX_COMMIT_CIPHERTEXT).u32(len(boxes))
    for box in boxes:
        writer.fixed(box, SEALED_DELIVERY_SIZE)
    return bytes(writer)


def open_commit(prev_keys: EpochKeys, item: bytes) -> LogEntry:
    """Decrypt a commit with the keys of the epoch it ends; the entry is not yet validated.

    Raises ``MalformedData`` (or a subclass) for bad framing, ``DecryptionFailed`` for an
    item of another epoch or tampered bytes, ``InvalidLogEntry`` if the entry inside does
    not belong at this position.  Validate the entry with ``GroupState.apply`` next.
    """
    parsed = _parse(item)
    if parsed.epoch != prev_keys.epoch:
        raise DecryptionFailed(
            f"commit ends epoch {parsed.epoch}, keys are for epoch {prev_keys.epoch}"
        )
    try:
        plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            parsed.ciphertext,
            prev_keys.group_id + parsed.header,
            parsed.nonce,
            prev_keys.commit_key,
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("commit does not decrypt with this epoch's commit key") from None
    entry = LogEntry.decode(plaintext)
    if entry.group_id != prev_keys.group_id or entry.seq != prev_keys.epoch + 1:
        raise InvalidLogEntry("commit carries an entry for another position")
    return entry


def open_epoch_delivery(item: bytes, entry: LogEntry, new_state: GroupState, me: Identity) -> bytes:
    """My new epoch secret from a commit whose ``entry`` I validated into ``new_state``.

    Raises ``NotAMember`` if I am not in the new roster (I was removed or left),
    ``MalformedData`` if the item does not carry one box per member,
    ``DecryptionFailed`` if my box does not open and ``EpochKeyMismatch`` if it holds
    anything but the secret the signed entry commits to.
    """
    _check_state_matches(entry, new_state)
    parsed = _parse(item)
    if parsed.epoch + 1 != entry.seq:
        raise EpochKeyMismatch("commit item is for another epoch than the entry")
    index = new_state.sender_index(me.public_key)
    record = new_state.member_at(index)
    if record.delivery_cert.delivery_pk != me.delivery_cert.delivery_pk:
        raise DecryptionFailed("the roster lists another delivery key for this identity")
    if len(parsed.sealed) != len(new_state.members):
        raise MalformedData("commit does not carry one sealed secret per member")
    plaintext = open_sealed(me.delivery_key, parsed.sealed[index])
    reader = Reader(plaintext)
    version = reader.u8()
    if version != DELIVERY_VERSION:
        raise UnsupportedVersion(f"epoch delivery version {version}")
    group_id = reader.fixed(16)
    epoch = reader.u64()
    entry_hash = reader.fixed(32)
    secret = reader.fixed(32)
    reader.finish()
    if group_id != entry.group_id or epoch != entry.seq or entry_hash != entry.hash:
        raise EpochKeyMismatch("sealed epoch secret is for another group, epoch or entry")
    if epoch_commitment(group_id, epoch, secret) != entry.epoch_commitment:
        raise EpochKeyMismatch("sealed epoch secret does not match the signed commitment")
    return secret
