"""Key requests and key answers: how a member whose key box was bad gets the secret from
another member (protocol 4.5).

The request is signed by the member who is stuck and names the commit (group, epoch,
entry hash) it validated but could not apply. The answer is sealed to the requester's
delivery key as certified in the answerer's roster and carries the log from that entry
to the answerer's live epoch and the live secret; the requester trusts none of it until
every entry applies to its own state and the secret matches the signed commitment, so a
relay or a lying member can withhold an answer but never make it accept a wrong one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    EpochKeyMismatch,
    MalformedData,
    UnsupportedVersion,
    UsageError,
)
from crypto.group_log import GroupState, NotAMember
from crypto.identity import Identity, verify_framed
from crypto.key_schedule import epoch_commitment
from crypto.log_entry import LogEntry
from crypto.sealed import open_sealed, seal
from crypto.wire import Reader, Writer

__all__ = [
    "KEY_RECOVERY_VERSION",
    "MAX_ANSWER_ENTRIES",
    "KeyRequest",
    "RequestReason",
    "VerifiedAnswer",
    "answer_request_id",
    "open_key_answer",
    "seal_key_answer",
]

KEY_RECOVERY_VERSION = 2
MAX_ANSWER_ENTRIES = 64
MAX_ENCODED_ENTRY = 131072
MAX_SEALED_ANSWER = 262000


class RequestReason(IntEnum):
    """Why the requester could not use its box."""

    BOX_DID_NOT_OPEN = 1
    NOT_THE_SIGNED_SECRET = 2


@dataclass(frozen=True)
class KeyRequest:
    """A signed request for the secret of entry ``epoch`` (hash ``entry_hash``)."""

    group_id: bytes
    epoch: int
    entry_hash: bytes
    request_id: bytes
    requester: bytes
    reason: RequestReason
    requested_at: int
    signature: bytes

    @staticmethod
    def _signed_bytes(
        group_id: bytes,
        epoch: int,
        entry_hash: bytes,
        request_id: bytes,
        requester: bytes,
        reason: RequestReason,
        requested_at: int,
    ) -> bytes:
        return bytes(
            Writer()
            .u8(KEY_RECOVERY_VERSION)
            .fixed(group_id, 16)
            .u64(epoch)
            .fixed(entry_hash, 32)
            .fixed(request_id, 16)
            .fixed(requester, 32)
            .u8(int(reason))
            .u64(requested_at)
        )

    @classmethod
    def sign(
        cls,
        me: Identity,
        *,
        group_id: bytes,
        epoch: int,
        entry_hash: bytes,
        request_id: bytes,
        reason: RequestReason,
        now: int,
    ) -> KeyRequest:
        signed = cls._signed_bytes(
            group_id, epoch, entry_hash, request_id, me.public_key, reason, now
        )
        return cls(
            group_id,
            epoch,
            entry_hash,
            request_id,
            me.public_key,
            reason,
            now,
            me.sign("key-request", signed),
        )

    def encode(self) -> bytes:
        signed = self._signed_bytes(
            self.group_id,
            self.epoch,
            self.entry_hash,
            self.request_id,
            self.requester,
            self.reason,
            self.requested_at,
        )
        return signed + self.signature

    @classmethod
    def open(cls, body: bytes) -> KeyRequest:
        """Parse strictly and check the requester's signature (``BadSignature``)."""
        reader = Reader(body)
        version = reader.u8()
        if version != KEY_RECOVERY_VERSION:
            raise UnsupportedVersion(f"key request version {version} (this client speaks 2)")
        group_id = reader.fixed(16)
        epoch = reader.u64()
        entry_hash = reader.fixed(32)
        request_id = reader.fixed(16)
        requester = reader.fixed(32)
        raw_reason = reader.u8()
        requested_at = reader.u64()
        signature = reader.fixed(64)
        reader.finish()
        try:
            reason = RequestReason(raw_reason)
        except ValueError:
            raise MalformedData(f"unknown key request reason {raw_reason}") from None
        verify_framed(requester, signature, "key-request", body[:-64])
        return cls(
            group_id, epoch, entry_hash, request_id, requester, reason, requested_at, signature
        )


@dataclass(frozen=True)
class VerifiedAnswer:
    """An answer that passed every check: apply ``entries`` and enter ``state.seq``."""

    state: GroupState
    entries: tuple[LogEntry, ...] = field(repr=False)
    epoch_secret: bytes = field(repr=False)
    answerer: bytes


def _answer_plaintext(
    request: KeyRequest, entries: Sequence[LogEntry], secret: bytes, answerer: bytes
) -> bytes:
    writer = (
        Writer()
        .u8(KEY_RECOVERY_VERSION)
        .fixed(request.group_id, 16)
        .u64(request.epoch)
        .fixed(request.entry_hash, 32)
        .fixed(request.request_id, 16)
        .fixed(request.requester, 32)
        .u32(len(entries))
    )
    for entry in entries:
        writer.var(entry.encode(), MAX_ENCODED_ENTRY)
    return bytes(writer.fixed(secret, 32).fixed(answerer, 32))


def seal_key_answer(
    answerer: Identity,
    request: KeyRequest,
    state: GroupState,
    entries: Sequence[LogEntry],
    secret: bytes,
    rng: Callable[[int], bytes],
) -> bytes:
    """The body of a key answer (help kind 2) from our live ``state`` and its ``secret``.

    ``entries`` run from the requested entry to our live epoch. The box is sealed to the
    requester's delivery key as our roster certifies it (``NotAMember`` if they are not in
    it), never to a key the request could name.
    """
    if not 1 <= len(entries) <= MAX_ANSWER_ENTRIES:
        raise UsageError(f"an answer carries 1 to {MAX_ANSWER_ENTRIES} entries")
    first, last = entries[0], entries[-1]
    if first.seq != request.epoch or first.hash != request.entry_hash:
        raise UsageError("the entries do not start with the requested entry")
    if last.seq != state.seq or last.hash != state.head:
        raise UsageError("the entries do not end at our live epoch")
    if last.epoch_commitment != epoch_commitment(state.group_id, state.seq, secret):
        raise UsageError("secret is not the live epoch's")
    cert = state.member(request.requester).delivery_cert
    plaintext = _answer_plaintext(request, entries, secret, answerer.public_key)
    signed = plaintext + answerer.sign("key-answer", plaintext)
    sealed = seal(cert.delivery_pk, signed, rng)
    return bytes(
        Writer()
        .u8(KEY_RECOVERY_VERSION)
        .fixed(request.request_id, 16)
        .var(sealed, MAX_SEALED_ANSWER)
    )


def _parse_outer(body: bytes) -> tuple[bytes, bytes]:
    reader = Reader(body)
    version = reader.u8()
    if version != KEY_RECOVERY_VERSION:
        raise UnsupportedVersion(f"key answer version {version} (this client speaks 2)")
    request_id = reader.fixed(16)
    sealed = reader.var(MAX_SEALED_ANSWER)
    reader.finish()
    return request_id, sealed


def answer_request_id(body: bytes) -> bytes:
    """Which request an answer answers (readable by every member; ``MalformedData``)."""
    return _parse_outer(body)[0]


def open_key_answer(
    body: bytes, me: Identity, state: GroupState, pending: KeyRequest
) -> VerifiedAnswer:
    """Open and check an answer to our ``pending`` request, from our own ``state`` (the
    state before the requested entry). Raises on the first failure, in the order of
    protocol 4.5."""
    request_id, sealed = _parse_outer(body)
    if request_id != pending.request_id:
        raise EpochKeyMismatch("the answer is for another request")
    plaintext = open_sealed(me.delivery_key, sealed)
    reader = Reader(plaintext)
    version = reader.u8()
    if version != KEY_RECOVERY_VERSION:
        raise UnsupportedVersion(f"key answer version {version} (this client speaks 2)")
    group_id = reader.fixed(16)
    epoch = reader.u64()
    entry_hash = reader.fixed(32)
    inner_request_id = reader.fixed(16)
    requester = reader.fixed(32)
    raw_entries = reader.items(MAX_ANSWER_ENTRIES, lambda r: r.var(MAX_ENCODED_ENTRY))
    secret = reader.fixed(32)
    answerer = reader.fixed(32)
    signature = reader.fixed(64)
    reader.finish()
    if (group_id, epoch, entry_hash, inner_request_id, requester) != (
        pending.group_id,
        pending.epoch,
        pending.entry_hash,
        pending.request_id,
        me.public_key,
    ):
        raise EpochKeyMismatch("the answer is for another group, epoch, entry or member")
    entries = tuple(LogEntry.decode(raw) for raw in raw_entries)
    if not entries or entries[0].hash != pending.entry_hash:
        raise EpochKeyMismatch("the answer does not start with the entry we validated")
    new_state = state
    for entry in entries:
        new_state = new_state.apply(entry)
    if not new_state.is_member(me.public_key):
        raise NotAMember("the answer's log no longer lists us")
    if new_state.member(me.public_key).delivery_cert.delivery_pk != me.delivery_cert.delivery_pk:
        raise DecryptionFailed("the answer's roster lists another delivery key for us")
    if not new_state.is_member(answerer):
        raise BadSignature("the answer is not from a member")
    verify_framed(answerer, signature, "key-answer", plaintext[:-64])
    last = entries[-1]
    if epoch_commitment(group_id, last.seq, secret) != last.epoch_commitment:
        raise EpochKeyMismatch("the answer's secret does not match the signed commitment")
    return VerifiedAnswer(new_state, entries, secret, answerer)
