"""Everything derived from an epoch secret (protocol section 3)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from crypto import kdf
from crypto.errors import UsageError

__all__ = ["EpochKeys", "cap_hash", "epoch_commitment"]


def epoch_commitment(group_id: bytes, epoch: int, secret: bytes) -> bytes:
    """Hash of an epoch secret that the signed log entry carries (protocol 2.1)."""
    return kdf.digest("epoch-commitment", group_id, struct.pack(">Q", epoch), secret)


def cap_hash(capability: bytes) -> bytes:
    """What the relay stores in place of a capability."""
    return kdf.digest("cap-hash", capability)


@dataclass(frozen=True)
class EpochKeys:
    """The keys of one epoch of one group. Hold it only while the epoch is live."""

    group_id: bytes
    epoch: int
    secret: bytes = field(repr=False)
    mailbox_cap: bytes = field(repr=False)
    commit_key: bytes = field(repr=False)
    sender_data_key: bytes = field(repr=False)

    @classmethod
    def derive(cls, group_id: bytes, epoch: int, secret: bytes) -> EpochKeys:
        if len(group_id) != 16 or len(secret) != 32:
            raise UsageError("group id must be 16 bytes and epoch secret 32 bytes")
        return cls(
            group_id=group_id,
            epoch=epoch,
            secret=secret,
            mailbox_cap=kdf.derive(secret, "mailbox-cap"),
            commit_key=kdf.derive(secret, "commit-key"),
            sender_data_key=kdf.derive(secret, "sender-data-key"),
        )

    @property
    def commitment(self) -> bytes:
        return epoch_commitment(self.group_id, self.epoch, self.secret)

    def sender_chain_start(self, sender_index: int) -> bytes:
        """``CK_i,0`` for the member at ``sender_index`` of this epoch's roster."""
        return kdf.derive(self.secret, "sender-chain", struct.pack(">I", sender_index))
