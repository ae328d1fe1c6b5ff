"""Catch-up with the signature checks on worker threads (docs/protocol.md 7.7).

A page of mailbox items is processed in relay order, one item at a time
(``GroupSession.process``): each message advances its sender's receiving chain, is
stored, and may change what follows. Its Ed25519 verification is the largest single cost
of opening it (``bench/client_bench.py --profile``), and it depends only on the decrypted
bytes and the sender's key. So before a page is processed, ``prepare`` decrypts the
page's messages of the live epoch ahead, with scratch copies of the receiving chains, and
hands their signatures to a small thread pool (libsodium runs without Python's global
lock, so the checks run beside the storing on a second core).

``GroupSession`` uses a prepared message only where it is exactly what it would have
computed itself: the same item, the same receiving chain before it, the same sender key;
anything else (a commit earlier in the page, a message that failed, a replay) goes the
ordinary way. A verdict is always ``verify_signed`` on the very bytes that are then
stored, under the roster's key, so nothing unverified is ever accepted; a prepared
message that is not used costs only the work done ahead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from crypto.ballot.transport import open_inner
from crypto.errors import RemoteError, UsageError
from crypto.group_log import GroupState
from crypto.items import ItemType, peek_item
from crypto.key_schedule import EpochKeys
from crypto.message import DecryptedMessage, MessageEnvelope, decrypt_message
from crypto.ratchet import MessageKeys, ReceiveChain
from crypto.sodium import verify_signed

__all__ = ["Prepared", "SignaturePool", "prepare"]

BATCH = 32
"""Signatures per task: large enough that handing them over costs little, small enough
that the first verdicts are ready while the page is still being decrypted."""


def _verify_batch(batch: Sequence[tuple[bytes, bytes]]) -> list[bool]:
    return [verify_signed(signed, public_key) for signed, public_key in batch]


class SignaturePool:
    """Worker threads for signature checks, started on first use (none on one core)."""

    def __init__(self, workers: int | None = None) -> None:
        cores = os.cpu_count() or 1
        self._workers = workers if workers is not None else min(2, cores - 1)
        self._executor: ThreadPoolExecutor | None = None

    @property
    def enabled(self) -> bool:
        return self._workers > 0

    def submit(self, batch: Sequence[tuple[bytes, bytes]]) -> Future[list[bool]]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=max(1, self._workers), thread_name_prefix="caucus-verify"
            )
        return self._executor.submit(_verify_batch, tuple(batch))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """One message decrypted ahead; ``verify`` answers for exactly its bytes and key."""

    item: bytes = field(repr=False)
    envelope: MessageEnvelope = field(repr=False)
    chain_before: ReceiveChain = field(repr=False)
    message_keys: MessageKeys = field(repr=False)
    chain_after: ReceiveChain = field(repr=False)
    message: DecryptedMessage = field(repr=False)
    sender_pk: bytes
    verdicts: Future[list[bool]] = field(repr=False)
    position: int

    def verify(self, signed: bytes, public_key: bytes) -> bool:
        """The worker's verdict when asked about this message under the key it was
        checked with; a fresh check for anything else."""
        if signed is self.message.signed and public_key == self.sender_pk:
            try:
                return self.verdicts.result()[self.position]
            except (CancelledError, UsageError):  # the pool was closed: check here
                pass
        return verify_signed(signed, public_key)


def prepare(
    pool: SignaturePool,
    keys: EpochKeys,
    state: GroupState,
    chains: Mapping[int, ReceiveChain],
    items: Sequence[tuple[int, bytes]],
) -> dict[int, Prepared]:
    """Decrypt the messages of ``keys``'s epoch in ``items`` up to the first commit and
    start their signature checks; by relay sequence number. Items that do not open here
    are left out (the ordinary path reports them)."""
    if not pool.enabled:
        return {}
    scratch = dict(chains)
    roster_size = len(state.roster())
    out: dict[int, Prepared] = {}
    # Prepared but not yet handed to the pool: (seq, item, envelope, before, keys, after,
    # message, sender key).
    waiting: list[
        tuple[
            int,
            bytes,
            MessageEnvelope,
            ReceiveChain,
            MessageKeys,
            ReceiveChain,
            DecryptedMessage,
            bytes,
        ]
    ] = []

    def hand_over() -> None:
        if not waiting:
            return
        verdicts = pool.submit([(entry[6].signed, entry[7]) for entry in waiting])
        for position, (seq, item, envelope, before, keys_, after, message, pk) in enumerate(
            waiting
        ):
            out[seq] = Prepared(
                item, envelope, before, keys_, after, message, pk, verdicts, position
            )
        waiting.clear()

    for seq, item in items:
        try:
            _, kind, epoch = peek_item(item)
        except RemoteError:
            continue
        if kind == ItemType.COMMIT or epoch != keys.epoch:
            break  # the roster and the keys may change from here on
        if kind != ItemType.MESSAGE:
            continue
        try:
            envelope = open_inner(keys, item)
            if envelope is None or envelope.sender_index >= roster_size:
                continue  # a vote, or a bad index the ordinary path reports
            before = scratch.get(envelope.sender_index)
            if before is None:
                continue
            message_keys, after = before.key_for(envelope.counter)
            message = decrypt_message(keys, envelope, message_keys)
        except (RemoteError, UsageError):
            continue
        scratch[envelope.sender_index] = after
        sender_pk = state.member_at(envelope.sender_index).identity_pk
        waiting.append((seq, item, envelope, before, message_keys, after, message, sender_pk))
        if len(waiting) >= BATCH:
            hand_over()
    hand_over()
    return out
