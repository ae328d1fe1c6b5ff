"""Per-sender symmetric hash ratchet (protocol section 3).

Each member of an epoch has one chain, started from the epoch secret.  Step ``n`` of a
chain turns chain key ``CK_n`` into a message key and nonce for counter ``n`` and into
``CK_n+1``; the old chain key is then dropped, so a captured state cannot decrypt
messages that were already read (forward secrecy inside an epoch).

The sender keeps a ``SendChain``; every receiver keeps a ``ReceiveChain`` per sender.
Both are frozen values: each step returns a new state and leaves the old one untouched,
so the caller persists the new state only once the message it unlocked has verified (a
forged item must not burn a real member's keys).  Both encode to versioned blobs for the
client's encrypted database.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from crypto import kdf
from crypto.errors import MalformedData, Replay, TooLarge, UnsupportedVersion, UsageError
from crypto.key_schedule import EpochKeys

__all__ = ["MAX_COUNTER", "MAX_SKIP", "MessageKeys", "ReceiveChain", "SendChain"]

MAX_SKIP = 1000
"""Default bound on skipped message keys a receiver keeps per sender chain."""

MAX_COUNTER = 0xFFFFFFFF
"""Counters travel as u32; a chain that has used this counter is exhausted."""

_MAX_U64 = 0xFFFFFFFFFFFFFFFF
_STATE_VERSION = 1
_KIND_SEND = 1
_KIND_RECEIVE = 2

# The derivations below are ``kdf.derive(ck, label)`` with no parts; the frames are
# constants, so they are built once here instead of on every step of every chain.
_CHAIN_NEXT = kdf.frame("chain-next", ())
_MESSAGE_KEY = kdf.frame("message-key", ())
_MESSAGE_NONCE = kdf.frame("message-nonce", ())

_SEND_STATE = struct.Struct(">BBQIQ32s")
_RECEIVE_HEAD = struct.Struct(">BBQIQ32sI")
_SKIPPED_ENTRY = struct.Struct(">I32s24s")

_EMPTY: Mapping[int, MessageKeys] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MessageKeys:
    """The AEAD key and nonce of one message; used once, then deleted."""

    key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != 32 or len(self.nonce) != 24:
            raise UsageError("message key must be 32 bytes and nonce 24 bytes")


def _step(chain_key: bytes) -> tuple[MessageKeys, bytes]:
    """``(MK_n, nonce_n)`` and ``CK_n+1`` from ``CK_n``."""
    blake = hashlib.blake2b
    keys = MessageKeys(
        blake(_MESSAGE_KEY, key=chain_key, digest_size=32).digest(),
        blake(_MESSAGE_NONCE, key=chain_key, digest_size=24).digest(),
    )
    return keys, blake(_CHAIN_NEXT, key=chain_key, digest_size=32).digest()


def _check_common(epoch: int, sender_index: int, chain_key: bytes) -> None:
    if not 0 <= epoch <= _MAX_U64:
        raise UsageError("epoch out of range")
    if not 0 <= sender_index <= 0xFFFFFFFF:
        raise UsageError("sender index out of range")
    if len(chain_key) != 32:
        raise UsageError("chain key must be 32 bytes")


@dataclass(frozen=True, slots=True)
class SendChain:
    """The sending side of one member's chain: ``counter`` is the next counter to use."""

    epoch: int
    sender_index: int
    counter: int
    chain_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_common(self.epoch, self.sender_index, self.chain_key)
        if not 0 <= self.counter <= MAX_COUNTER + 1:
            raise UsageError("counter out of range")

    @classmethod
    def start(cls, keys: EpochKeys, sender_index: int) -> SendChain:
        """The chain of the member at ``sender_index`` at counter 0."""
        return cls(keys.epoch, sender_index, 0, keys.sender_chain_start(sender_index))

    def next(self) -> tuple[MessageKeys, SendChain]:
        """Keys for ``self.counter`` and the chain advanced past it.

        Raises ``UsageError`` when the chain is exhausted (2**32 messages in one epoch):
        the sender must start a new epoch first.
        """
        if self.counter > MAX_COUNTER:
            raise UsageError("sending chain exhausted; start a new epoch")
        keys, chain_key = _step(self.chain_key)
        return keys, SendChain(self.epoch, self.sender_index, self.counter + 1, chain_key)

    def encode(self) -> bytes:
        """``u8 version=1 | u8 kind=1 | u64 epoch | u32 sender_index | u64 counter
        | bytes32 chain_key``, for the encrypted local store only."""
        return _SEND_STATE.pack(
            _STATE_VERSION,
            _KIND_SEND,
            self.epoch,
            self.sender_index,
            self.counter,
            self.chain_key,
        )

    @classmethod
    def decode(cls, data: bytes) -> SendChain:
        """Inverse of ``encode``; raises ``MalformedData`` for anything else."""
        if len(data) < 2:
            raise MalformedData("truncated sending chain state")
        if data[0] != _STATE_VERSION:
            raise UnsupportedVersion(f"sending chain state version {data[0]}")
        if len(data) != _SEND_STATE.size:
            raise MalformedData("sending chain state has the wrong length")
        _, kind, epoch, sender_index, counter, chain_key = _SEND_STATE.unpack(data)
        if kind != _KIND_SEND:
            raise MalformedData("not a sending chain state")
        if counter > MAX_COUNTER + 1:
            raise MalformedData("sending chain counter out of range")
        return cls(epoch, sender_index, counter, chain_key)


@dataclass(frozen=True, slots=True)
class ReceiveChain:
    """A receiver's view of one sender's chain.

    ``next_counter`` is the lowest counter whose key has not been derived yet;
    ``chain_key`` is ``CK_next_counter``.  ``skipped`` holds the keys of lower counters
    that have not arrived yet (reordered or dropped messages), in ascending counter
    order, read-only.  Every other lower counter was used or evicted: it is a replay.
    """

    epoch: int
    sender_index: int
    next_counter: int
    chain_key: bytes = field(repr=False)
    skipped: Mapping[int, MessageKeys] = field(
        default_factory=lambda: _EMPTY, repr=False, hash=False
    )

    def __post_init__(self) -> None:
        _check_common(self.epoch, self.sender_index, self.chain_key)
        if not 0 <= self.next_counter <= MAX_COUNTER + 1:
            raise UsageError("counter out of range")
        # Chains share one read-only mapping until it changes, so the common in-order
        # step costs O(1); a plain dict from a caller is copied once, here.
        if type(self.skipped) is not MappingProxyType:
            object.__setattr__(self, "skipped", MappingProxyType(dict(self.skipped)))

    @classmethod
    def start(cls, keys: EpochKeys, sender_index: int) -> ReceiveChain:
        """The chain of the member at ``sender_index``, expecting counter 0 first."""
        return cls(keys.epoch, sender_index, 0, keys.sender_chain_start(sender_index))

    def key_for(self, counter: int, max_skip: int = MAX_SKIP) -> tuple[MessageKeys, ReceiveChain]:
        """Keys for message ``counter`` and the chain with those keys deleted.

        In order (``counter == next_counter``) this is one ratchet step and shares the
        skipped keys with ``self``.  Ahead of order, the keys of the counters in between
        are kept as skipped; at most ``max_skip`` are kept and the oldest (lowest
        counters) are evicted first, so a message that arrives later than that raises
        ``Replay``.  Raises ``TooLarge`` when ``counter`` is more than ``max_skip``
        ahead of ``next_counter`` and ``Replay`` for a counter already used or deleted.
        """
        expected = self.next_counter
        if counter == expected:
            keys, chain_key = _step(self.chain_key)
            return keys, ReceiveChain(
                self.epoch, self.sender_index, counter + 1, chain_key, self.skipped
            )
        if not 0 <= counter <= MAX_COUNTER:
            raise UsageError("counter out of range")
        if max_skip < 0:
            raise UsageError("max_skip must not be negative")
        if counter < expected:
            keys_or_none = self.skipped.get(counter)
            if keys_or_none is None:
                raise Replay("message key already used or deleted")
            remaining = dict(self.skipped)
            del remaining[counter]
            return keys_or_none, ReceiveChain(
                self.epoch,
                self.sender_index,
                expected,
                self.chain_key,
                MappingProxyType(remaining),
            )
        if counter - expected > max_skip:
            raise TooLarge(f"counter is {counter - expected} ahead; at most {max_skip} allowed")
        skipped = dict(self.skipped)
        chain_key = self.chain_key
        for skipped_counter in range(expected, counter):
            keys, chain_key = _step(chain_key)
            skipped[skipped_counter] = keys
        keys, chain_key = _step(chain_key)
        if len(skipped) > max_skip:
            keep = sorted(skipped)[len(skipped) - max_skip :]
            skipped = {n: skipped[n] for n in keep}
        return keys, ReceiveChain(
            self.epoch, self.sender_index, counter + 1, chain_key, MappingProxyType(skipped)
        )

    def encode(self) -> bytes:
        """``u8 version=1 | u8 kind=2 | u64 epoch | u32 sender_index | u64 next_counter
        | bytes32 chain_key | list(max_skip, u32 counter | bytes32 key | bytes24 nonce)``
        with the skipped counters ascending; for the encrypted local store only."""
        head = _RECEIVE_HEAD.pack(
            _STATE_VERSION,
            _KIND_RECEIVE,
            self.epoch,
            self.sender_index,
            self.next_counter,
            self.chain_key,
            len(self.skipped),
        )
        pack = _SKIPPED_ENTRY.pack
        skipped = self.skipped
        entries = [pack(n, skipped[n].key, skipped[n].nonce) for n in sorted(skipped)]
        return head + b"".join(entries)

    @classmethod
    def decode(cls, data: bytes, max_skip: int = MAX_SKIP) -> ReceiveChain:
        """Inverse of ``encode``; raises ``MalformedData`` for anything else, including
        more than ``max_skip`` skipped keys, or skipped counters not strictly ascending
        and below ``next_counter``."""
        if len(data) < 2:
            raise MalformedData("truncated receiving chain state")
        if data[0] != _STATE_VERSION:
            raise UnsupportedVersion(f"receiving chain state version {data[0]}")
        if len(data) < _RECEIVE_HEAD.size:
            raise MalformedData("truncated receiving chain state")
        _, kind, epoch, sender_index, next_counter, chain_key, count = _RECEIVE_HEAD.unpack_from(
            data
        )
        if kind != _KIND_RECEIVE:
            raise MalformedData("not a receiving chain state")
        if next_counter > MAX_COUNTER + 1:
            raise MalformedData("receiving chain counter out of range")
        if count > max_skip:
            raise TooLarge(f"{count} skipped keys exceed the limit of {max_skip}")
        if len(data) != _RECEIVE_HEAD.size + count * _SKIPPED_ENTRY.size:
            raise MalformedData("receiving chain state has the wrong length")
        skipped: dict[int, MessageKeys] = {}
        previous = -1
        for n, key, nonce in _SKIPPED_ENTRY.iter_unpack(memoryview(data)[_RECEIVE_HEAD.size :]):
            if not previous < n < next_counter:
                raise MalformedData("skipped counters must ascend and precede next_counter")
            skipped[n] = MessageKeys(key, nonce)
            previous = n
        return cls(epoch, sender_index, next_counter, chain_key, MappingProxyType(skipped))
