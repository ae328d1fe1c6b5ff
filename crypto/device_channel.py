"""The standing channel from a member's first device to a linked device (protocol 8.4).

After linking, both devices keep the link secret.  It derives a second, long-lived
mailbox (the *device channel*) with its own capability and item key, so later groups
reach the device without a new link code:

- the linked device posts ``DeviceKeys``: fresh delivery keys certified by its device
  key, one for each group the first device will add it to later (each used once, 3.2);
- the first device posts a ``DeviceWelcome`` for each later group: sealed to one of those
  keys and signed by the identity key, an ordinary device welcome (8.4) and the member's
  ballot secret in that group.

Items are link items (``crypto.device_link``) of kinds 3 and 4 under the channel key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crypto import kdf
from crypto.ballot.keys import BallotKeyPair
from crypto.device_link import MAX_WELCOME, LinkSecrets
from crypto.errors import BadSignature, MalformedData, UnsupportedVersion, UsageError
from crypto.identity import DeliveryCert, Identity, verify_framed
from crypto.sealed import check_delivery_key, open_sealed, seal
from crypto.welcome import VerifiedWelcome, open_device_welcome
from crypto.wire import Reader, Writer

__all__ = [
    "CHANNEL_BODY_VERSION",
    "MAX_CHANNEL_KEYS",
    "DeviceKeys",
    "DeviceWelcome",
    "OpenedDeviceWelcome",
    "channel_secrets",
]

CHANNEL_BODY_VERSION = 1
MAX_CHANNEL_KEYS = 32
"""Delivery keys in one ``DeviceKeys`` item."""


def channel_secrets(link_secret: bytes) -> LinkSecrets:
    """The device channel's id, mailbox, capability and item key from the link secret
    (labels distinct from the link mailbox's, so neither opens the other's items)."""
    if len(link_secret) != 32:
        raise UsageError("link secret must be 32 bytes")
    return LinkSecrets(
        link_id=kdf.derive(link_secret, "device-channel-id", size=16),
        mailbox_id=kdf.derive(link_secret, "device-channel-mailbox", size=16),
        capability=kdf.derive(link_secret, "device-channel-cap"),
        key=kdf.derive(link_secret, "device-channel-key"),
    )


@dataclass(frozen=True)
class DeviceKeys:
    """``u8 1 | bytes32 device_pk | list(32, DeliveryCert) keys
    | bytes64 Ed25519(device, frame("device-keys", preceding bytes))``."""

    device_pk: bytes
    keys: tuple[DeliveryCert, ...]
    signature: bytes

    @staticmethod
    def _signed(device_pk: bytes, keys: Sequence[DeliveryCert]) -> bytes:
        writer = Writer().u8(CHANNEL_BODY_VERSION).fixed(device_pk, 32).u32(len(keys))
        for cert in keys:
            encoded = cert.encode()
            writer.fixed(encoded, len(encoded))
        return bytes(writer)

    @classmethod
    def create(cls, device: Identity, keys: Sequence[DeliveryCert]) -> DeviceKeys:
        if not 1 <= len(keys) <= MAX_CHANNEL_KEYS:
            raise UsageError(f"1 to {MAX_CHANNEL_KEYS} keys per item")
        if any(k.identity_pk != device.public_key for k in keys):
            raise UsageError("every key must be certified by this device")
        signed = cls._signed(device.public_key, keys)
        return cls(device.public_key, tuple(keys), device.sign("device-keys", signed))

    def encode(self) -> bytes:
        return self._signed(self.device_pk, self.keys) + self.signature

    @classmethod
    def decode(cls, data: bytes) -> DeviceKeys:
        """Parse and verify (``MalformedData``, ``UnsupportedVersion``, ``BadSignature``)."""
        reader = Reader(data)
        version = reader.u8()
        if version != CHANNEL_BODY_VERSION:
            raise UnsupportedVersion(f"device keys version {version}")
        device_pk = reader.fixed(32)
        keys = tuple(reader.items(MAX_CHANNEL_KEYS, DeliveryCert.read))
        signature = reader.fixed(64)
        reader.finish()
        if not keys:
            raise MalformedData("a device keys item carries at least one key")
        for cert in keys:
            if cert.identity_pk != device_pk:
                raise MalformedData("a delivery key of the item belongs to another key")
            check_delivery_key(cert.delivery_pk)
        verify_framed(device_pk, signature, "device-keys", data[:-64])
        return cls(device_pk, keys, signature)


@dataclass(frozen=True)
class OpenedDeviceWelcome:
    """A later welcome that passed every check: the group and the member's ballot secret."""

    welcome: VerifiedWelcome
    ballot_secret: bytes = field(repr=False)


@dataclass(frozen=True)
class DeviceWelcome:
    """``u8 1 | bytes32 delivery_pk | sealed box to delivery_pk over
    (u8 1 | var(131072, sealed welcome) | bytes16 group_id | bytes32 ballot_secret
    | bytes64 Ed25519(owner, frame("device-welcome", device_pk, preceding bytes)))``.

    The inner welcome is the ordinary device welcome of 8.4 (``open_device_welcome``),
    sealed to the same key."""

    @staticmethod
    def seal(
        owner: Identity,
        key: DeliveryCert,
        sealed_welcome: bytes,
        group_id: bytes,
        ballot_secret: bytes,
        rng: Callable[[int], bytes],
    ) -> bytes:
        if len(group_id) != 16 or len(ballot_secret) != 32:
            raise UsageError("group id is 16 bytes, a ballot secret 32")
        check_delivery_key(key.delivery_pk)
        inner = bytes(
            Writer()
            .u8(CHANNEL_BODY_VERSION)
            .var(sealed_welcome, MAX_WELCOME)
            .fixed(group_id, 16)
            .fixed(ballot_secret, 32)
        )
        signature = owner.sign("device-welcome", key.identity_pk, inner)
        header = bytes(Writer().u8(CHANNEL_BODY_VERSION).fixed(key.delivery_pk, 32))
        return header + seal(key.delivery_pk, inner + signature, rng)

    @staticmethod
    def key_of(data: bytes) -> bytes:
        """The delivery key a later welcome is sealed to (``MalformedData``)."""
        if len(data) < 33:
            raise MalformedData("device welcome shorter than its header")
        if data[0] != CHANNEL_BODY_VERSION:
            raise UnsupportedVersion(f"device welcome version {data[0]}")
        return data[1:33]

    @staticmethod
    def open(data: bytes, me: Identity, owner_pk: bytes) -> OpenedDeviceWelcome:
        """Open with ``me`` (the device key holding the delivery key named in the item):
        the identity key ``owner_pk`` must have signed, the welcome must pass every check
        of ``open_device_welcome`` (its last entry adds this device with this key), and
        the ballot secret must be the member's registered ballot key in that group.
        Raises ``DecryptionFailed``, ``MalformedData``, ``BadSignature`` and what
        ``open_device_welcome`` raises."""
        if DeviceWelcome.key_of(data) != me.delivery_cert.delivery_pk:
            raise UsageError("open a device welcome with the key it names")
        plaintext = open_sealed(me.delivery_key, data[33:])
        if len(plaintext) < 64:
            raise MalformedData("device welcome too short")
        inner, signature = plaintext[:-64], plaintext[-64:]
        verify_framed(owner_pk, signature, "device-welcome", me.public_key, inner)
        reader = Reader(inner)
        version = reader.u8()
        if version != CHANNEL_BODY_VERSION:
            raise UnsupportedVersion(f"device welcome version {version}")
        sealed_welcome = reader.var(MAX_WELCOME)
        group_id = reader.fixed(16)
        ballot_secret = reader.fixed(32)
        reader.finish()
        welcome = open_device_welcome(sealed_welcome, me, owner_pk)
        if welcome.state.group_id != group_id:
            raise MalformedData("the ballot secret is for another group")
        registered = welcome.state.ballot_keys.get(owner_pk)
        if registered != BallotKeyPair.from_secret(ballot_secret).public:
            raise BadSignature("the ballot secret is not the member's registered key")
        return OpenedDeviceWelcome(welcome, ballot_secret)
