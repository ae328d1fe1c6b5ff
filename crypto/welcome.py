"""Welcomes: how a joiner receives the group log and the current epoch secret (protocol 5).

The welcome is sealed to the joiner's delivery key and signed by the inviter.  The joiner
trusts nothing in it until the inviter's fingerprint matches the invite code, the whole
log replays from CREATE, its last entry is the inviter's ADD of this joiner through this
invite, and the epoch secret matches that entry's signed commitment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crypto.errors import (
    BadSignature,
    EpochKeyMismatch,
    InvalidLogEntry,
    MalformedData,
    UnsupportedVersion,
    UsageError,
)
from crypto.group_log import GroupState, NotAMember
from crypto.identity import DeliveryCert, Identity, fingerprint, verify_framed
from crypto.invite import RELAY_URL_MAX, InviteCode, relay_url_problem
from crypto.key_schedule import EpochKeys, epoch_commitment
from crypto.log_entry import AddBody, EntryKind, LogEntry
from crypto.sealed import check_delivery_key, open_sealed, seal
from crypto.wire import Reader, Writer

__all__ = ["MAX_WELCOME_ENTRIES", "VerifiedWelcome", "Welcome", "open_device_welcome"]

WELCOME_VERSION = 1
MAX_WELCOME_ENTRIES = 100_000
MAX_ENCODED_ENTRY = 131072


@dataclass(frozen=True)
class VerifiedWelcome:
    """A welcome that passed every check: the joiner may start reading the group mailbox
    ``mailbox_id`` on ``relay_url`` after relay sequence ``start_after``."""

    state: GroupState
    entries: tuple[LogEntry, ...] = field(repr=False)
    mailbox_id: bytes
    relay_url: str
    start_after: int
    epoch_secret: bytes = field(repr=False)
    inviter_identity: bytes

    @property
    def epoch_keys(self) -> EpochKeys:
        return EpochKeys.derive(self.state.group_id, self.state.seq, self.epoch_secret)


@dataclass(frozen=True)
class Welcome:
    """The signed contents of a welcome (before sealing, after opening)."""

    joiner_identity: bytes
    relay_url: str
    mailbox_id: bytes
    start_after: int
    entries: tuple[LogEntry, ...]
    epoch_secret: bytes = field(repr=False)
    inviter_identity: bytes
    signature: bytes

    @staticmethod
    def _signed_bytes(
        joiner_identity: bytes,
        relay_url: str,
        mailbox_id: bytes,
        start_after: int,
        entries: Sequence[LogEntry],
        epoch_secret: bytes,
        inviter_identity: bytes,
    ) -> bytes:
        problem = relay_url_problem(relay_url)
        if problem is not None:
            raise UsageError(problem)
        if not 1 <= len(entries) <= MAX_WELCOME_ENTRIES:
            raise UsageError(f"a welcome carries 1 to {MAX_WELCOME_ENTRIES} entries")
        writer = (
            Writer()
            .u8(WELCOME_VERSION)
            .fixed(joiner_identity, 32)
            .text(relay_url, RELAY_URL_MAX)
            .fixed(mailbox_id, 16)
            .u64(start_after)
            .u32(len(entries))
        )
        for entry in entries:
            writer.var(entry.encode(), MAX_ENCODED_ENTRY)
        return bytes(writer.fixed(epoch_secret, 32).fixed(inviter_identity, 32))

    @classmethod
    def seal(
        cls,
        inviter: Identity,
        joiner_cert: DeliveryCert,
        *,
        relay_url: str,
        mailbox_id: bytes,
        start_after: int,
        entries: Sequence[LogEntry],
        epoch_secret: bytes,
        rng: Callable[[int], bytes],
    ) -> bytes:
        """A sealed welcome for the joiner whose certificate came in its join request.

        ``entries`` is the log up to and including the ADD of the joiner, ``epoch_secret``
        that ADD's secret, ``start_after`` the relay sequence number of its commit.
        """
        if not entries or entries[-1].author != inviter.public_key:
            raise UsageError("the last entry must be the inviter's ADD")
        last = entries[-1]
        if last.epoch_commitment != epoch_commitment(last.group_id, last.seq, epoch_secret):
            raise UsageError("epoch_secret is not the secret of the last entry")
        check_delivery_key(joiner_cert.delivery_pk)
        signed = cls._signed_bytes(
            joiner_cert.identity_pk,
            relay_url,
            mailbox_id,
            start_after,
            entries,
            epoch_secret,
            inviter.public_key,
        )
        plaintext = signed + inviter.sign("welcome", signed)
        return seal(joiner_cert.delivery_pk, plaintext, rng)

    @classmethod
    def _decode(cls, plaintext: bytes) -> Welcome:
        reader = Reader(plaintext)
        version = reader.u8()
        if version != WELCOME_VERSION:
            raise UnsupportedVersion(f"welcome version {version}")
        joiner_identity = reader.fixed(32)
        relay_url = reader.text(RELAY_URL_MAX)
        problem = relay_url_problem(relay_url)
        if problem is not None:
            raise MalformedData(problem)
        mailbox_id = reader.fixed(16)
        start_after = reader.u64()
        raw_entries = reader.items(MAX_WELCOME_ENTRIES, lambda r: r.var(MAX_ENCODED_ENTRY))
        epoch_secret = reader.fixed(32)
        inviter_identity = reader.fixed(32)
        signature = reader.fixed(64)
        reader.finish()
        return cls(
            joiner_identity=joiner_identity,
            relay_url=relay_url,
            mailbox_id=mailbox_id,
            start_after=start_after,
            entries=tuple(LogEntry.decode(raw) for raw in raw_entries),
            epoch_secret=epoch_secret,
            inviter_identity=inviter_identity,
            signature=signature,
        )

    @classmethod
    def open(cls, item: bytes, me: Identity, code: InviteCode) -> VerifiedWelcome:
        """Open and check a welcome sealed to ``me`` for the invite ``code``.

        Raises ``DecryptionFailed`` (not sealed to me), ``MalformedData`` (framing),
        ``BadSignature`` (not from the inviter the code names, or forged),
        ``NotAMember`` (the welcome admits someone else), ``InvalidLogEntry`` /
        ``NotPermitted`` / ``Expired`` (the log or its last entry is not acceptable) and
        ``EpochKeyMismatch`` (the secret is not the one the ADD commits to).
        """
        plaintext = open_sealed(me.delivery_key, item)
        welcome = cls._decode(plaintext)
        if fingerprint(welcome.inviter_identity) != code.inviter_fingerprint:
            raise BadSignature("welcome is not from the inviter named in the invite code")
        verify_framed(welcome.inviter_identity, welcome.signature, "welcome", plaintext[:-64])
        if welcome.joiner_identity != me.public_key:
            raise NotAMember("welcome is addressed to another identity")
        last = welcome.entries[-1] if welcome.entries else None
        if last is None or last.kind != EntryKind.ADD:
            raise InvalidLogEntry("welcome's log does not end with an ADD")
        if last.author != welcome.inviter_identity:
            raise InvalidLogEntry("the ADD in the welcome is not the inviter's")
        state = GroupState.replay(welcome.entries)
        body = AddBody.decode(last.body)  # valid: replay accepted it
        if body.member.identity_pk != me.public_key:
            raise NotAMember("welcome's ADD admits another identity")
        if body.member.delivery_cert.delivery_pk != me.delivery_cert.delivery_pk:
            raise InvalidLogEntry("welcome's ADD lists another delivery key for me")
        if body.invite_id != code.secrets.invite_id:
            raise InvalidLogEntry("welcome's ADD does not use this invite")
        commitment = epoch_commitment(state.group_id, state.seq, welcome.epoch_secret)
        if commitment != last.epoch_commitment:
            raise EpochKeyMismatch("welcome's epoch secret does not match the ADD's commitment")
        return VerifiedWelcome(
            state=state,
            entries=welcome.entries,
            mailbox_id=welcome.mailbox_id,
            relay_url=welcome.relay_url,
            start_after=welcome.start_after,
            epoch_secret=welcome.epoch_secret,
            inviter_identity=welcome.inviter_identity,
        )


def open_device_welcome(item: bytes, me: Identity, owner_pk: bytes) -> VerifiedWelcome:
    """Open a welcome sealed to a newly linked device (protocol 8.4): signed by its
    member's identity key ``owner_pk``, whose log ends with the DEVICE_ADD of this device
    key (``me``) listing this delivery key.  Raises as ``Welcome.open``."""
    from crypto.device import DeviceAddBody  # crypto/device.py imports the log formats

    plaintext = open_sealed(me.delivery_key, item)
    welcome = Welcome._decode(plaintext)
    if welcome.inviter_identity != owner_pk:
        raise BadSignature("welcome is not from this device's member")
    verify_framed(owner_pk, welcome.signature, "welcome", plaintext[:-64])
    if welcome.joiner_identity != me.public_key:
        raise NotAMember("welcome is addressed to another device")
    last = welcome.entries[-1] if welcome.entries else None
    if last is None or last.kind != EntryKind.DEVICE_ADD:
        raise InvalidLogEntry("welcome's log does not end with a DEVICE_ADD")
    state = GroupState.replay(welcome.entries)
    body = DeviceAddBody.decode(last.body)  # valid: replay accepted it
    if body.cert.device_pk != me.public_key or body.cert.owner_pk != owner_pk:
        raise NotAMember("welcome's DEVICE_ADD adds another device")
    if body.delivery_cert.delivery_pk != me.delivery_cert.delivery_pk:
        raise InvalidLogEntry("welcome's DEVICE_ADD lists another delivery key for me")
    commitment = epoch_commitment(state.group_id, state.seq, welcome.epoch_secret)
    if commitment != last.epoch_commitment:
        raise EpochKeyMismatch("welcome's epoch secret does not match the entry's commitment")
    return VerifiedWelcome(
        state=state,
        entries=welcome.entries,
        mailbox_id=welcome.mailbox_id,
        relay_url=welcome.relay_url,
        start_after=welcome.start_after,
        epoch_secret=welcome.epoch_secret,
        inviter_identity=welcome.inviter_identity,
    )
