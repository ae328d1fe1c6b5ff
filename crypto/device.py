"""Linked devices: device certificates and per-member safety numbers (protocol section 8).

A member's first device holds the identity key and is the member's own roster slot.  Every
further device has its own Ed25519 signing key and X25519 delivery key; the identity key
certifies the signing key in a ``DeviceCert``, and the device certifies its delivery key
itself (an ordinary ``DeliveryCert`` whose ``identity_pk`` is the device key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crypto import kdf
from crypto.errors import MalformedData, UnsupportedVersion, UsageError
from crypto.identity import DeliveryCert, Identity, verify_framed
from crypto.log_entry import MEMBER_NAME_MAX, name_problem
from crypto.sealed import check_delivery_key
from crypto.wire import Reader, Writer

__all__ = [
    "DEVICE_CERT_VERSION",
    "MAX_LINKED_DEVICES",
    "DeviceAddBody",
    "DeviceCert",
    "DeviceRemoveBody",
    "device_add_body",
    "device_id",
    "device_remove_body",
    "member_safety_digits",
    "member_safety_number",
]

DEVICE_CERT_VERSION = 1
# Linked devices per member in one group (the identity's own slot not counted).
MAX_LINKED_DEVICES = 8


def device_id(device_pk: bytes) -> str:
    """How a device is named to people and on the command line: 16 hex digits of its
    fingerprint (the identity's own slot is named the same way by its identity key)."""
    return kdf.digest("fingerprint", device_pk)[:8].hex()


@dataclass(frozen=True)
class DeviceCert:
    """``owner_pk`` (an identity key) vouches that ``device_pk`` is one of its devices.

    ``u8 version=1 | bytes32 owner_pk | bytes32 device_pk | str(64) device_name
    | u64 created_at | bytes64 Ed25519(owner, frame("device-cert", preceding bytes))``
    """

    owner_pk: bytes
    device_pk: bytes
    device_name: str
    created_at: int
    signature: bytes

    @staticmethod
    def _signed_bytes(owner_pk: bytes, device_pk: bytes, name: str, created_at: int) -> bytes:
        problem = name_problem(name, MEMBER_NAME_MAX)
        if problem is not None:
            raise UsageError(problem)
        return bytes(
            Writer()
            .u8(DEVICE_CERT_VERSION)
            .fixed(owner_pk, 32)
            .fixed(device_pk, 32)
            .text(name, MEMBER_NAME_MAX)
            .u64(created_at)
        )

    @classmethod
    def issue(cls, owner: Identity, device_pk: bytes, device_name: str, now: int) -> DeviceCert:
        """The owner's certificate for ``device_pk``; ``UsageError`` for its own key."""
        if len(device_pk) != 32 or device_pk == owner.public_key:
            raise UsageError("a device key is 32 bytes and not the identity key")
        signed = cls._signed_bytes(owner.public_key, device_pk, device_name, now)
        return cls(owner.public_key, device_pk, device_name, now, owner.sign("device-cert", signed))

    def encode(self) -> bytes:
        signed = self._signed_bytes(
            self.owner_pk, self.device_pk, self.device_name, self.created_at
        )
        return signed + self.signature

    def verify(self) -> None:
        """``BadSignature`` unless the owner signed it."""
        signed = self._signed_bytes(
            self.owner_pk, self.device_pk, self.device_name, self.created_at
        )
        verify_framed(self.owner_pk, self.signature, "device-cert", signed)

    @classmethod
    def read(cls, reader: Reader) -> DeviceCert:
        """Parse and verify (``UnsupportedVersion``, ``MalformedData``, ``BadSignature``)."""
        version = reader.u8()
        if version != DEVICE_CERT_VERSION:
            raise UnsupportedVersion(f"device certificate version {version}")
        owner_pk = reader.fixed(32)
        device_pk = reader.fixed(32)
        name = reader.text(MEMBER_NAME_MAX)
        problem = name_problem(name, MEMBER_NAME_MAX)
        if problem is not None:
            raise MalformedData(problem)
        cert = cls(owner_pk, device_pk, name, reader.u64(), reader.fixed(64))
        if owner_pk == device_pk:
            raise MalformedData("a device key cannot be the identity key")
        cert.verify()
        return cert

    @classmethod
    def decode(cls, data: bytes) -> DeviceCert:
        reader = Reader(data)
        cert = cls.read(reader)
        reader.finish()
        return cert

    @property
    def device_id(self) -> str:
        return device_id(self.device_pk)


@dataclass(frozen=True)
class DeviceAddBody:
    """Body of DEVICE_ADD (kind 13): ``DeviceCert | DeliveryCert`` (the device's own
    delivery key, certified by the device key).  Decoding verifies both signatures
    (``BadSignature``) and refuses a low-order delivery key or a delivery certificate of
    another key (``MalformedData``)."""

    cert: DeviceCert
    delivery_cert: DeliveryCert

    def encode(self) -> bytes:
        if self.delivery_cert.identity_pk != self.cert.device_pk:
            raise UsageError("the delivery certificate belongs to another key")
        return self.cert.encode() + self.delivery_cert.encode()

    @classmethod
    def decode(cls, data: bytes) -> DeviceAddBody:
        reader = Reader(data)
        cert = DeviceCert.read(reader)
        delivery = DeliveryCert.read(reader)
        reader.finish()
        if delivery.identity_pk != cert.device_pk:
            raise MalformedData("the delivery certificate belongs to another key")
        check_delivery_key(delivery.delivery_pk)
        return cls(cert, delivery)


@dataclass(frozen=True)
class DeviceRemoveBody:
    """Body of DEVICE_REMOVE (kind 14): ``bytes32 device_pk``."""

    device_pk: bytes

    def encode(self) -> bytes:
        return bytes(Writer().fixed(self.device_pk, 32))

    @classmethod
    def decode(cls, data: bytes) -> DeviceRemoveBody:
        reader = Reader(data)
        body = cls(reader.fixed(32))
        reader.finish()
        return body


def device_add_body(cert: DeviceCert, delivery_cert: DeliveryCert) -> bytes:
    return DeviceAddBody(cert, delivery_cert).encode()


def device_remove_body(device_pk: bytes) -> bytes:
    return DeviceRemoveBody(device_pk).encode()


def member_safety_digits(identity_pk: bytes, devices: Iterable[bytes]) -> str:
    """One member's 30 digits: ``H("safety-number", identity_pk, device_pk...)`` with the
    linked device keys in ascending order (with none, the digits of protocol section 1)."""
    material = kdf.digest("safety-number", identity_pk, *sorted(devices), size=64)
    return "".join(
        f"{int.from_bytes(material[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )


def member_safety_number(a: tuple[bytes, Iterable[bytes]], b: tuple[bytes, Iterable[bytes]]) -> str:
    """60 digits for two members, each ``(identity_pk, linked device keys)``: the halves in
    ascending order of identity key.  Adding or removing a device changes its member's
    half, so a verified contact shows that its devices changed."""
    halves = sorted((a, b), key=lambda member: member[0])
    return "".join(member_safety_digits(pk, list(devices)) for pk, devices in halves)
