"""Invite codes, join requests and the states of a join (protocol section 5).

An invite code carries a one-time secret in the URL fragment, which never reaches a
server.  Everything the invite needs (its id in the log, its mailbox, the mailbox
capability, the key that hides join requests from the relay) is derived from that secret.
Welcomes, which admit the joiner, are in ``crypto/welcome.py``.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

import nacl.bindings
import nacl.exceptions

from crypto import kdf
from crypto.errors import (
    DecryptionFailed,
    MalformedData,
    UnsupportedVersion,
    UsageError,
)
from crypto.identity import (
    DELIVERY_CERT_SIZE,
    DeliveryCert,
    Identity,
    verify_framed,
)
from crypto.items import JOIN_REQUEST_VERSION as JOIN_ITEM_VERSION
from crypto.items import ItemType
from crypto.log_entry import MEMBER_NAME_MAX, MemberRecord, Role, name_problem
from crypto.sealed import check_delivery_key
from crypto.wire import Reader, Writer

__all__ = [
    "CODE_PREFIX",
    "JOIN_TRANSITIONS",
    "MAX_CODE_CHARS",
    "RELAY_URL_MAX",
    "InviteCode",
    "InviteSecrets",
    "JoinEvent",
    "JoinRequest",
    "JoinState",
    "join_step",
    "relay_url_problem",
]

CODE_PREFIX = "caucus://join#"
CODE_VERSION = 1
RELAY_URL_MAX = 256
JOIN_REQUEST_VERSION = 1
MAX_JOIN_CIPHERTEXT = 8192
_NONCE_SIZE = 24

# The longest payload is 1 + 4 + 256 + 32 + 32 bytes = 434 base64 characters.
_MAX_PAYLOAD = 1 + 4 + RELAY_URL_MAX + 32 + 32
MAX_CODE_CHARS = len(CODE_PREFIX) + (_MAX_PAYLOAD * 4 + 2) // 3
# Text handed to ``parse`` may carry whitespace around the code (pasted from an email),
# but nothing longer than this is even looked at.
_MAX_INPUT_CHARS = 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def relay_url_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable relay URL, or ``None`` if it is.

    A relay URL is printable ASCII, at most 256 bytes, ``http://`` or ``https://`` with a
    host, an optional port and path, and no user info, query or fragment.
    """
    if not url.isascii() or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        return "relay URL must be printable ASCII without spaces"
    if len(url) > RELAY_URL_MAX:
        return f"relay URL longer than {RELAY_URL_MAX} bytes"
    if not url.startswith(("http://", "https://")):
        return "relay URL must start with http:// or https://"
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return "relay URL does not parse"
    if not parts.hostname:
        return "relay URL has no host"
    if "@" in parts.netloc:
        return "relay URL must not carry user info"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "relay URL must not carry a query or fragment"
    return None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode_strict(text: str) -> bytes:
    """Canonical base64url without padding; anything else is ``MalformedData``."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedData("invite code is not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:
        raise MalformedData("invite code is not in canonical base64url")
    return data


@dataclass(frozen=True)
class InviteCode:
    """What an invitee receives: where the relay is, the invite secret, who invited them."""

    relay_url: str
    secret: bytes = field(repr=False)
    inviter_fingerprint: bytes

    @classmethod
    def generate(cls, relay_url: str, inviter: Identity, rng: Callable[[int], bytes]) -> InviteCode:
        secret = rng(32)
        if len(secret) != 32:
            raise UsageError("rng returned the wrong number of bytes")
        code = cls(relay_url, secret, inviter.fingerprint)
        code.encode()  # checks the fields now rather than when the code is shown
        return code

    @property
    def secrets(self) -> InviteSecrets:
        return InviteSecrets.derive(self.secret)

    def encode(self) -> str:
        problem = relay_url_problem(self.relay_url)
        if problem is not None:
            raise UsageError(problem)
        payload = bytes(
            Writer()
            .u8(CODE_VERSION)
            .text(self.relay_url, RELAY_URL_MAX)
            .fixed(self.secret, 32)
            .fixed(self.inviter_fingerprint, 32)
        )
        return CODE_PREFIX + _b64encode(payload)

    @classmethod
    def parse(cls, text: str) -> InviteCode:
        """Strict parse of a code as a person pastes it: surrounding whitespace is fine,
        anything else that is not exactly an encoded code raises ``MalformedData``."""
        if len(text) > _MAX_INPUT_CHARS:
            raise MalformedData("invite code is too long")
        text = text.strip()
        if not text.startswith(CODE_PREFIX):
            raise MalformedData("not a Caucus invite code")
        encoded = text[len(CODE_PREFIX) :]
        if len(text) > MAX_CODE_CHARS:
            raise MalformedData("invite code is too long")
        reader = Reader(_b64decode_strict(encoded))
        version = reader.u8()
        if version != CODE_VERSION:
            raise UnsupportedVersion(f"invite code version {version}")
        relay_url = reader.text(RELAY_URL_MAX)
        secret = reader.fixed(32)
        inviter_fingerprint = reader.fixed(32)
        reader.finish()
        problem = relay_url_problem(relay_url)
        if problem is not None:
            raise MalformedData(problem)
        return cls(relay_url, secret, inviter_fingerprint)


@dataclass(frozen=True)
class InviteSecrets:
    """Everything derived from one invite secret (protocol 5)."""

    invite_id: bytes
    mailbox_id: bytes
    capability: bytes = field(repr=False)
    key: bytes = field(repr=False)

    @classmethod
    def derive(cls, secret: bytes) -> InviteSecrets:
        if len(secret) != 32:
            raise UsageError("invite secret must be 32 bytes")
        return cls(
            invite_id=kdf.derive(secret, "invite-id", size=16),
            mailbox_id=kdf.derive(secret, "invite-mailbox", size=16),
            capability=kdf.derive(secret, "invite-cap"),
            key=kdf.derive(secret, "invite-key"),
        )


@dataclass(frozen=True)
class JoinRequest:
    """A joiner's signed request to be added, sent encrypted to the invite mailbox."""

    invite_id: bytes
    name: str
    delivery_cert: DeliveryCert
    inbox_id: bytes
    requested_at: int
    signature: bytes

    @property
    def identity_pk(self) -> bytes:
        return self.delivery_cert.identity_pk

    def member_record(self, role: Role) -> MemberRecord:
        """The record an organizer puts in the ADD entry admitting this joiner."""
        return MemberRecord(self.identity_pk, self.name, self.delivery_cert, role)

    @staticmethod
    def _signed_bytes(
        invite_id: bytes, name: str, cert: DeliveryCert, inbox_id: bytes, requested_at: int
    ) -> bytes:
        problem = name_problem(name, MEMBER_NAME_MAX)
        if problem is not None:
            raise UsageError(problem)
        return bytes(
            Writer()
            .u8(JOIN_REQUEST_VERSION)
            .fixed(invite_id, 16)
            .text(name, MEMBER_NAME_MAX)
            .fixed(cert.encode(), DELIVERY_CERT_SIZE)
            .fixed(inbox_id, 16)
            .u64(requested_at)
        )

    @classmethod
    def seal(
        cls,
        secrets: InviteSecrets,
        joiner: Identity,
        name: str,
        inbox_id: bytes,
        now: int,
        rng: Callable[[int], bytes],
    ) -> bytes:
        """The join-request item (type 3) for the invite mailbox."""
        signed = cls._signed_bytes(secrets.invite_id, name, joiner.delivery_cert, inbox_id, now)
        inner = signed + joiner.sign("join-request", signed)
        header = bytes((JOIN_ITEM_VERSION, ItemType.JOIN_REQUEST))
        nonce = rng(_NONCE_SIZE)
        if len(nonce) != _NONCE_SIZE:
            raise UsageError("rng returned the wrong number of bytes")
        ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            inner, header, nonce, secrets.key
        )
        return bytes(
            Writer().fixed(header, 2).fixed(nonce, _NONCE_SIZE).var(ciphertext, MAX_JOIN_CIPHERTEXT)
        )

    @classmethod
    def open(cls, secrets: InviteSecrets, item: bytes) -> JoinRequest:
        """Decrypt and verify a join request for this invite.

        Raises ``MalformedData`` (or a subclass) for bad framing or a request naming
        another invite, ``DecryptionFailed``, or ``BadSignature``.  Whether the invite can
        still admit anyone is a question for the group log, not for this function.
        """
        reader = Reader(item)
        version = reader.u8()
        if version != JOIN_ITEM_VERSION:
            raise UnsupportedVersion(f"item version {version}")
        if reader.u8() != ItemType.JOIN_REQUEST:
            raise MalformedData("item is not a join request")
        nonce = reader.fixed(_NONCE_SIZE)
        ciphertext = reader.var(MAX_JOIN_CIPHERTEXT)
        reader.finish()
        try:
            inner = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ciphertext, item[:2], nonce, secrets.key
            )
        except nacl.exceptions.CryptoError:
            raise DecryptionFailed("join request does not decrypt with the invite key") from None
        reader = Reader(inner)
        version = reader.u8()
        if version != JOIN_REQUEST_VERSION:
            raise UnsupportedVersion(f"join request version {version}")
        invite_id = reader.fixed(16)
        name = reader.text(MEMBER_NAME_MAX)
        problem = name_problem(name, MEMBER_NAME_MAX)
        if problem is not None:
            raise MalformedData(problem)
        cert = DeliveryCert.read(reader)
        check_delivery_key(cert.delivery_pk)
        inbox_id = reader.fixed(16)
        requested_at = reader.u64()
        signature = reader.fixed(64)
        reader.finish()
        verify_framed(cert.identity_pk, signature, "join-request", inner[:-64])
        if invite_id != secrets.invite_id:
            raise MalformedData("join request names another invite")
        return cls(invite_id, name, cert, inbox_id, requested_at, signature)


class JoinState(Enum):
    """Where one join request stands on the inviter's side."""

    RECEIVED = "received"
    PENDING_APPROVAL = "pending approval"
    ADMITTING = "admitting"
    ADMITTED = "admitted"
    REFUSED = "refused"


class JoinEvent(Enum):
    """What can happen to a join request; ``UNUSABLE`` covers an invite that expired or
    ran out of uses and a joiner who is already a member (the log decides all three)."""

    NO_APPROVAL_NEEDED = "no approval needed"
    APPROVAL_NEEDED = "approval needed"
    APPROVED = "approved"
    REJECTED = "rejected"
    UNUSABLE = "invite unusable"
    ADD_COMMITTED = "ADD committed, welcome sent"
    ADD_LOST_RACE = "ADD lost the compare-and-set"


# The transition table of a join request (protocol 5); anything missing is a bug.
JOIN_TRANSITIONS: Mapping[tuple[JoinState, JoinEvent], JoinState] = {
    (JoinState.RECEIVED, JoinEvent.NO_APPROVAL_NEEDED): JoinState.ADMITTING,
    (JoinState.RECEIVED, JoinEvent.APPROVAL_NEEDED): JoinState.PENDING_APPROVAL,
    (JoinState.RECEIVED, JoinEvent.UNUSABLE): JoinState.REFUSED,
    (JoinState.PENDING_APPROVAL, JoinEvent.APPROVED): JoinState.ADMITTING,
    (JoinState.PENDING_APPROVAL, JoinEvent.REJECTED): JoinState.REFUSED,
    (JoinState.PENDING_APPROVAL, JoinEvent.UNUSABLE): JoinState.REFUSED,
    (JoinState.ADMITTING, JoinEvent.ADD_COMMITTED): JoinState.ADMITTED,
    (JoinState.ADMITTING, JoinEvent.ADD_LOST_RACE): JoinState.ADMITTING,
    (JoinState.ADMITTING, JoinEvent.UNUSABLE): JoinState.REFUSED,
}


def join_step(state: JoinState, event: JoinEvent) -> JoinState:
    """The next state of a join request; ``UsageError`` for an event not allowed there."""
    try:
        return JOIN_TRANSITIONS[(state, event)]
    except KeyError:
        raise UsageError(
            f"join request cannot go from {state.value!r} on {event.value!r}"
        ) from None
