"""Commits: a log entry encrypted under the ending epoch plus the new epoch secret sealed
to every member of the new roster (protocol 3, 4.2).

The entry is readable by everyone who held the old epoch (a removed member learns of its
removal); the new secret only by the new roster.  A relay can swap sealed boxes, as they
are anonymous, but not make anyone accept its secret: the recipient checks the secret
against the commitment inside the author's signed entry.

Version 2 hides the roster size and the entry's kind from the relay: the sealed list has
``sealed_slots(n)`` boxes (a power of two, at least 8) -- the real ones at the roster
indexes, then dummies that look like sealed boxes -- and the padded entry brings the whole
item to ``commit_size(slots, len(entry))``, a Padme bucket.
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
from crypto.items import ITEM_VERSION, ItemType, item_header, unsupported_item_version
from crypto.key_schedule import EpochKeys, epoch_commitment
from crypto.log_entry import LogEntry
from crypto.padding import pad_to, padme, read_padded
from crypto.sealed import SEAL_OVERHEAD, open_sealed, seal
from crypto.wire import Reader, Writer

__all__ = [
    "DELIVERY_VERSION",
    "EPOCH_DELIVERY_SIZE",
    "MAX_COMMIT_CIPHERTEXT",
    "MAX_SEALED_SLOTS",
    "MIN_ENTRY_SPACE",
    "SEALED_DELIVERY_SIZE",
    "commit_size",
    "open_commit",
    "open_epoch_delivery",
    "seal_commit",
    "sealed_slots",
]

DELIVERY_VERSION = 1
EPOCH_DELIVERY_SIZE = 1 + 16 + 8 + 32 + 32
SEALED_DELIVERY_SIZE = EPOCH_DELIVERY_SIZE + SEAL_OVERHEAD
MAX_COMMIT_CIPHERTEXT = 131072
MIN_SEALED_SLOTS = 8
MAX_SEALED_SLOTS = 16384
"""``sealed_slots(MAX_MEMBERS)``: the longest sealed list a version-2 commit carries."""
MIN_ENTRY_SPACE = 1024
"""Bytes the padded entry (``u32 len | entry | zeros``) takes at least: every entry kind
of today (at most about 460 bytes) gives one size for a given slot count."""
_NONCE_SIZE = 24
_TAG_SIZE = 16
_FIXED = 10 + _NONCE_SIZE + 4 + _TAG_SIZE + 4  # header, nonce, two u32 lengths, AEAD tag


def sealed_slots(members: int) -> int:
    """Sealed boxes in a commit for a new roster of ``members``: the next power of two,
    at least 8, so the relay learns the roster size only within a factor of two."""
    if not 0 <= members <= MAX_MEMBERS:
        raise UsageError("roster size out of range")
    return max(MIN_SEALED_SLOTS, 1 << max(members - 1, 0).bit_length())


def commit_size(slots: int, entry_size: int) -> int:
    """Size of a version-2 commit item with ``slots`` boxes carrying an entry of
    ``entry_size`` bytes: the Padme bucket of the item with its entry given at least
    ``MIN_ENTRY_SPACE`` bytes."""
    if slots < 0 or entry_size < 0:
        raise UsageError("sizes must not be negative")
    return padme(_FIXED + slots * SEALED_DELIVERY_SIZE + max(4 + entry_size, MIN_ENTRY_SPACE))


def _dummy_box(rng: Callable[[int], bytes]) -> bytes:
    """A box no one can open that looks like a real one: a real X25519 public key (an
    ephemeral key is one; random bytes are often not a curve point) and random bytes in
    place of the ciphertext and tag."""
    secret = rng(32)
    rest = rng(SEALED_DELIVERY_SIZE - 32)
    if len(secret) != 32 or len(rest) != SEALED_DELIVERY_SIZE - 32:
        raise UsageError("rng returned the wrong number of bytes")
    return nacl.bindings.crypto_scalarmult_base(secret) + rest


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
        raise unsupported_item_version(version)
    kind = reader.u8()
    if kind != ItemType.COMMIT:
        raise MalformedData("item is not a commit")
    epoch = reader.u64()
    nonce = reader.fixed(_NONCE_SIZE)
    ciphertext = reader.var(MAX_COMMIT_CIPHERTEXT)
    sealed = reader.items(MAX_SEALED_SLOTS, lambda r: r.fixed(SEALED_DELIVERY_SIZE))
    reader.finish()
    count = len(sealed)
    if count < MIN_SEALED_SLOTS or count & (count - 1):
        raise MalformedData("commit's sealed list is not a bucket of member counts")
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
    roster = new_state.roster()
    slots = sealed_slots(len(roster))
    encoded = entry.encode()
    entry_space = commit_size(slots, len(encoded)) - _FIXED - slots * SEALED_DELIVERY_SIZE
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad_to(encoded, entry_space), prev_keys.group_id + header, nonce, prev_keys.commit_key
    )
    plaintext = _delivery_plaintext(entry.group_id, entry.seq, entry.hash, new_secret)
    boxes = [seal(m.delivery_cert.delivery_pk, plaintext, rng) for m in roster]
    boxes += [_dummy_box(rng) for _ in range(slots - len(roster))]
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
    encoded = read_padded(plaintext)
    if len(item) != commit_size(len(parsed.sealed), len(encoded)):
        raise MalformedData("commit is not padded to the bucket of its content")
    entry = LogEntry.decode(encoded)
    if entry.group_id != prev_keys.group_id or entry.seq != prev_keys.epoch + 1:
        raise InvalidLogEntry("commit carries an entry for another position")
    return entry


def open_epoch_delivery(item: bytes, entry: LogEntry, new_state: GroupState, me: Identity) -> bytes:
    """My new epoch secret from a commit whose ``entry`` I validated into ``new_state``.

    Raises ``NotAMember`` if I am not in the new roster (I was removed or left),
    ``MalformedData`` if the item's sealed list is not ``sealed_slots`` of the roster size,
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
    if len(parsed.sealed) != sealed_slots(len(new_state.members)):
        raise MalformedData("commit does not carry the sealed list for this roster size")
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
