"""Everything derived from an epoch secret (protocol section 3).

A client holds ``E_k`` only while it enters epoch k: it derives the epoch's keys and every
sender's first chain key, stores those, and forgets ``E_k`` (``without_secret``), so a
seized profile holds nothing that re-derives a chain from its start (protocol 3.1).
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field

from crypto import kdf
from crypto.errors import MalformedData, UnsupportedVersion, UsageError

__all__ = ["STORED_KEYS_SIZE", "EpochKeys", "cap_hash", "epoch_commitment"]

_STORED_VERSION = 2  # version 1 was the bare epoch secret (profiles before 0.3)
_STORED = struct.Struct(">B16sQ32s32s32s32s")
STORED_KEYS_SIZE = _STORED.size


def epoch_commitment(group_id: bytes, epoch: int, secret: bytes) -> bytes:
    """Hash of an epoch secret that the signed log entry carries (protocol 2.1)."""
    return kdf.digest("epoch-commitment", group_id, struct.pack(">Q", epoch), secret)


def cap_hash(capability: bytes) -> bytes:
    """What the relay stores in place of a capability."""
    return kdf.digest("cap-hash", capability)


@dataclass(frozen=True)
class EpochKeys:
    """The keys of one epoch of one group. Hold it only while the epoch is live.

    ``secret`` is ``E_k`` right after ``derive`` and ``None`` once forgotten: the stored
    form never carries it, and without it the sender chains cannot be started again.
    """

    group_id: bytes
    epoch: int
    mailbox_cap: bytes = field(repr=False)
    commit_key: bytes = field(repr=False)
    sender_data_key: bytes = field(repr=False)
    vote_key: bytes = field(repr=False)
    secret: bytes | None = field(default=None, repr=False)

    @classmethod
    def derive(cls, group_id: bytes, epoch: int, secret: bytes) -> EpochKeys:
        if len(group_id) != 16 or len(secret) != 32:
            raise UsageError("group id must be 16 bytes and epoch secret 32 bytes")
        return cls(
            group_id=group_id,
            epoch=epoch,
            mailbox_cap=kdf.derive(secret, "mailbox-cap"),
            commit_key=kdf.derive(secret, "commit-key"),
            sender_data_key=kdf.derive(secret, "sender-data-key"),
            vote_key=kdf.derive(secret, "vote-key"),
            secret=secret,
        )

    def without_secret(self) -> EpochKeys:
        """The same keys with ``E_k`` forgotten (what a client keeps)."""
        return dataclasses.replace(self, secret=None)

    def _secret(self) -> bytes:
        if self.secret is None:
            raise UsageError("the epoch secret was forgotten after the epoch was entered")
        return self.secret

    @property
    def commitment(self) -> bytes:
        return epoch_commitment(self.group_id, self.epoch, self._secret())

    def sender_chain_start(self, sender_index: int) -> bytes:
        """``CK_i,0`` for the member at ``sender_index`` of this epoch's roster."""
        return kdf.derive(self._secret(), "sender-chain", struct.pack(">I", sender_index))

    def encode(self) -> bytes:
        """``u8 version=2 | bytes16 group_id | u64 epoch | bytes32 mailbox_cap
        | bytes32 commit_key | bytes32 sender_data_key | bytes32 vote_key``: the stored
        form, for the encrypted profile only. It never holds ``E_k``."""
        return _STORED.pack(
            _STORED_VERSION,
            self.group_id,
            self.epoch,
            self.mailbox_cap,
            self.commit_key,
            self.sender_data_key,
            self.vote_key,
        )

    @classmethod
    def decode(cls, data: bytes) -> EpochKeys:
        """Inverse of ``encode``; ``UnsupportedVersion`` or ``MalformedData`` otherwise."""
        if not data:
            raise MalformedData("empty stored epoch keys")
        if data[0] != _STORED_VERSION:
            raise UnsupportedVersion(f"stored epoch keys version {data[0]}")
        if len(data) != _STORED.size:
            raise MalformedData("stored epoch keys have the wrong length")
        _, group_id, epoch, cap, commit, sender_data, vote = _STORED.unpack(data)
        return cls(group_id, epoch, cap, commit, sender_data, vote)
