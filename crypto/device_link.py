"""Linking a device: the link code, link items, the request and the bundle (protocol 8.4).

The first device shows a link code (relay URL and a link secret).  The new device posts a
*link request* (its device key, name and 64 fresh delivery keys) to the link mailbox,
encrypted under the link key.  The first device answers with a *link bundle* sealed to
the request's first delivery key and signed by the identity key: the device certificate,
the member's name, one welcome per group, the member's ballot secrets and the reference
(key, size, SHA-256) of the records blob holding the history (``crypto/link_records.py``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import nacl.bindings
import nacl.exceptions
import nacl.public

from crypto import kdf
from crypto.device import DeviceCert
from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    MalformedData,
    TooLarge,
    UnsupportedVersion,
    UsageError,
)
from crypto.identity import DeliveryCert, Identity, verify_framed
from crypto.invite import RELAY_URL_MAX, relay_url_problem
from crypto.link_records import RecordsRef
from crypto.log_entry import MEMBER_NAME_MAX, name_problem
from crypto.padding import pad, unpad
from crypto.sealed import check_delivery_key, open_sealed, seal
from crypto.wire import Reader, Writer

__all__ = [
    "LINK_CODE_PREFIX",
    "LINK_ITEM_TYPE",
    "LINK_KEYS",
    "MAX_LINK_GROUPS",
    "BallotSecret",
    "LinkBundle",
    "LinkCode",
    "LinkKind",
    "LinkRequest",
    "LinkSecrets",
    "open_link_item",
    "seal_link_item",
]

LINK_CODE_PREFIX = "caucus://link#"
LINK_CODE_VERSION = 1
LINK_ITEM_VERSION = 2
LINK_ITEM_TYPE = 7
LINK_BODY_VERSION = 1
LINK_BUNDLE_VERSION = 2
"""Version 2 names the records blob where version 1 carried at most 192 KiB of history."""
LINK_KEYS = 64
"""Delivery keys in a link request: one for the bundle, one per group."""
MAX_LINK_GROUPS = LINK_KEYS - 1
MAX_LINK_ITEM = 262144
MAX_WELCOME = 131072
_NONCE = 24
_HEADER = 3
_OVERHEAD = _HEADER + _NONCE + 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_MAX_CODE_CHARS = 600


class LinkKind(IntEnum):
    """The third byte of a link item."""

    REQUEST = 1
    BUNDLE = 2
    KEYS = 3  # device channel: fresh delivery keys (crypto/device_channel.py)
    WELCOME = 4  # device channel: a later group (crypto/device_channel.py)
    KEYS_WANTED = 5  # device channel: the first device has no unused key of the device


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class LinkSecrets:
    """What a link secret derives: the link mailbox, its capability and the item key."""

    link_id: bytes
    mailbox_id: bytes
    capability: bytes = field(repr=False)
    key: bytes = field(repr=False)

    @classmethod
    def derive(cls, secret: bytes) -> LinkSecrets:
        if len(secret) != 32:
            raise UsageError("link secret must be 32 bytes")
        return cls(
            link_id=kdf.derive(secret, "link-id", size=16),
            mailbox_id=kdf.derive(secret, "link-mailbox", size=16),
            capability=kdf.derive(secret, "link-cap"),
            key=kdf.derive(secret, "link-key"),
        )


@dataclass(frozen=True)
class LinkCode:
    """``caucus://link#`` + base64url(``u8 1 | str(256) relay_url | bytes32 secret``)."""

    relay_url: str
    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls, relay_url: str, rng: Callable[[int], bytes]) -> LinkCode:
        secret = rng(32)
        if len(secret) != 32:
            raise UsageError("rng returned the wrong number of bytes")
        code = cls(relay_url, secret)
        code.encode()
        return code

    @property
    def secrets(self) -> LinkSecrets:
        return LinkSecrets.derive(self.secret)

    def encode(self) -> str:
        problem = relay_url_problem(self.relay_url)
        if problem is not None:
            raise UsageError(problem)
        payload = Writer().u8(LINK_CODE_VERSION).text(self.relay_url, RELAY_URL_MAX)
        return LINK_CODE_PREFIX + _b64(bytes(payload.fixed(self.secret, 32)))

    @classmethod
    def parse(cls, text: str) -> LinkCode:
        """Strict parse of a pasted code (``MalformedData``, ``UnsupportedVersion``)."""
        text = text.strip()
        if len(text) > _MAX_CODE_CHARS or not text.startswith(LINK_CODE_PREFIX):
            raise MalformedData("not a Caucus link code")
        encoded = text[len(LINK_CODE_PREFIX) :]
        if not _BASE64URL.fullmatch(encoded) or len(encoded) % 4 == 1:
            raise MalformedData("link code is not base64url")
        data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if _b64(data) != encoded:
            raise MalformedData("link code is not in canonical base64url")
        reader = Reader(data)
        version = reader.u8()
        if version != LINK_CODE_VERSION:
            raise UnsupportedVersion(f"link code version {version}")
        relay_url = reader.text(RELAY_URL_MAX)
        secret = reader.fixed(32)
        reader.finish()
        problem = relay_url_problem(relay_url)
        if problem is not None:
            raise MalformedData(problem)
        return cls(relay_url, secret)


def seal_link_item(
    secrets: LinkSecrets, kind: LinkKind, body: bytes, rng: Callable[[int], bytes]
) -> bytes:
    """``u8 2 | u8 7 | u8 kind | nonce | AEAD(link key, padded body, ad = link id | header)``."""
    header = bytes((LINK_ITEM_VERSION, LINK_ITEM_TYPE, int(LinkKind(kind))))
    nonce = rng(_NONCE)
    if len(nonce) != _NONCE:
        raise UsageError("rng returned the wrong number of bytes")
    padded = pad(body, _OVERHEAD)
    if _OVERHEAD + len(padded) > MAX_LINK_ITEM:
        raise TooLarge("link item body too large")
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, secrets.link_id + header, nonce, secrets.key
    )
    return header + nonce + sealed


def open_link_item(secrets: LinkSecrets, item: bytes) -> tuple[LinkKind, bytes]:
    """The kind and body of a link item (``TooLarge``, ``MalformedData``,
    ``UnsupportedVersion``, ``DecryptionFailed``)."""
    if len(item) > MAX_LINK_ITEM:
        raise TooLarge("link item larger than the item limit")
    if len(item) < _OVERHEAD:
        raise MalformedData("link item shorter than its header")
    if item[0] != LINK_ITEM_VERSION:
        raise UnsupportedVersion(f"link item version {item[0]} (this client speaks 2)")
    if item[1] != LINK_ITEM_TYPE:
        raise MalformedData("not a link item")
    try:
        kind = LinkKind(item[2])
    except ValueError:
        raise MalformedData(f"unknown link item kind {item[2]}") from None
    header, nonce = item[:_HEADER], item[_HEADER : _HEADER + _NONCE]
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            item[_HEADER + _NONCE :], secrets.link_id + header, nonce, secrets.key
        )
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed("link item does not open with this link key") from None
    return kind, unpad(padded, _OVERHEAD)


@dataclass(frozen=True)
class LinkRequest:
    """The new device's keys: ``u8 1 | bytes32 device_pk | str(64) name
    | list(64, DeliveryCert) keys | bytes64 Ed25519(device, frame("link-request", ...))``."""

    device_pk: bytes
    device_name: str
    keys: tuple[DeliveryCert, ...]
    signature: bytes

    @staticmethod
    def _signed(device_pk: bytes, name: str, keys: Sequence[DeliveryCert]) -> bytes:
        writer = Writer().u8(LINK_BODY_VERSION).fixed(device_pk, 32)
        writer.text(name, MEMBER_NAME_MAX).u32(len(keys))
        for cert in keys:
            writer.fixed(cert.encode(), len(cert.encode()))
        return bytes(writer)

    @classmethod
    def create(cls, device: Identity, name: str, keys: Sequence[DeliveryCert]) -> LinkRequest:
        problem = name_problem(name, MEMBER_NAME_MAX)
        if problem is not None:
            raise UsageError(problem)
        if len(keys) != LINK_KEYS or any(k.identity_pk != device.public_key for k in keys):
            raise UsageError(f"a link request carries {LINK_KEYS} of the device's own keys")
        signed = cls._signed(device.public_key, name, keys)
        return cls(device.public_key, name, tuple(keys), device.sign("link-request", signed))

    def encode(self) -> bytes:
        return self._signed(self.device_pk, self.device_name, self.keys) + self.signature

    @classmethod
    def decode(cls, data: bytes) -> LinkRequest:
        """Parse and verify (``MalformedData``, ``UnsupportedVersion``, ``BadSignature``)."""
        reader = Reader(data)
        version = reader.u8()
        if version != LINK_BODY_VERSION:
            raise UnsupportedVersion(f"link request version {version}")
        device_pk = reader.fixed(32)
        name = reader.text(MEMBER_NAME_MAX)
        problem = name_problem(name, MEMBER_NAME_MAX)
        if problem is not None:
            raise MalformedData(problem)
        keys = tuple(reader.items(LINK_KEYS, DeliveryCert.read))
        signature = reader.fixed(64)
        reader.finish()
        if len(keys) != LINK_KEYS:
            raise MalformedData(f"a link request carries {LINK_KEYS} delivery keys")
        for cert in keys:
            if cert.identity_pk != device_pk:
                raise MalformedData("a delivery key of the request belongs to another key")
            check_delivery_key(cert.delivery_pk)
        request = cls(device_pk, name, keys, signature)
        verify_framed(device_pk, signature, "link-request", data[:-64])
        return request


@dataclass(frozen=True)
class BallotSecret:
    """The member's ballot secret key in one group."""

    group_id: bytes
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class LinkBundle:
    """What the first device gives the new one (protocol 8.4), after opening."""

    cert: DeviceCert
    member_name: str
    welcomes: tuple[bytes, ...] = field(repr=False)
    ballot_secrets: tuple[BallotSecret, ...] = field(repr=False)
    records: RecordsRef = field(repr=False)

    def _signed(self) -> bytes:
        writer = Writer().u8(LINK_BUNDLE_VERSION)
        cert = self.cert.encode()
        writer.fixed(cert, len(cert)).text(self.member_name, MEMBER_NAME_MAX)
        if len(self.welcomes) > MAX_LINK_GROUPS or len(self.ballot_secrets) > MAX_LINK_GROUPS:
            raise UsageError(f"a link bundle carries at most {MAX_LINK_GROUPS} groups")
        writer.u32(len(self.welcomes))
        for welcome in self.welcomes:
            writer.var(welcome, MAX_WELCOME)
        writer.u32(len(self.ballot_secrets))
        for ballot in self.ballot_secrets:
            writer.fixed(ballot.group_id, 16).fixed(ballot.secret, 32)
        return bytes(self.records.write(writer))

    def seal(self, owner: Identity, request: LinkRequest, rng: Callable[[int], bytes]) -> bytes:
        """Signed by the identity key, sealed to the request's first delivery key."""
        if self.cert.owner_pk != owner.public_key or self.cert.device_pk != request.device_pk:
            raise UsageError("the bundle's certificate is not the owner's for this device")
        signed = self._signed()
        return seal(request.keys[0].delivery_pk, signed + owner.sign("link-bundle", signed), rng)

    @classmethod
    def open(
        cls, sealed: bytes, bundle_key: nacl.public.PrivateKey, device_pk: bytes
    ) -> LinkBundle:
        """Open with the request's first key; the certificate must name ``device_pk`` and
        the identity key must have signed (``DecryptionFailed``, ``MalformedData``,
        ``BadSignature``)."""
        plaintext = open_sealed(bundle_key, sealed)
        reader = Reader(plaintext)
        version = reader.u8()
        if version != LINK_BUNDLE_VERSION:
            raise UnsupportedVersion(
                f"link bundle version {version} (this Caucus reads {LINK_BUNDLE_VERSION}): "
                "update Caucus on both computers and link again"
            )
        cert = DeviceCert.read(reader)
        name = reader.text(MEMBER_NAME_MAX)
        if name_problem(name, MEMBER_NAME_MAX) is not None:
            raise MalformedData("bad member name in the link bundle")
        welcomes = tuple(reader.items(MAX_LINK_GROUPS, lambda r: r.var(MAX_WELCOME)))
        ballots = tuple(
            reader.items(MAX_LINK_GROUPS, lambda r: BallotSecret(r.fixed(16), r.fixed(32)))
        )
        records = RecordsRef.read(reader)
        signature = reader.fixed(64)
        reader.finish()
        if cert.device_pk != device_pk:
            raise BadSignature("the link bundle certifies another device")
        verify_framed(cert.owner_pk, signature, "link-bundle", plaintext[:-64])
        return cls(cert, name, welcomes, ballots, records)
