"""Wire types of the group log: entries, member records and entry bodies (protocol 2.1, 2.2).

Everything here is parsing and encoding; the validation rules that decide whether an
entry may follow a state live in ``crypto/group_log.py``.  Decoders are strict (one
encoding per value) and raise ``MalformedData`` or its subclasses on bad bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import TYPE_CHECKING

from crypto import kdf
from crypto.errors import (
    InvalidLogEntry,
    MalformedData,
    UnsupportedVersion,
    UsageError,
)
from crypto.identity import DELIVERY_CERT_SIZE, DeliveryCert, Identity, verify_framed
from crypto.sealed import check_delivery_key
from crypto.wire import Reader, Writer

if TYPE_CHECKING:
    from crypto.device import DeviceAddBody, DeviceRemoveBody

__all__ = [
    "DESCRIPTION_MAX",
    "EMPTY_BODY",
    "ENTRY_VERSION",
    "GROUP_NAME_MAX",
    "MAX_BODY",
    "MEMBER_NAME_MAX",
    "ZERO_HASH",
    "ZERO_ID",
    "AddBody",
    "Body",
    "Channel",
    "CreateBody",
    "DeliveryKeyBody",
    "DescribeBody",
    "EmptyBody",
    "EntryKind",
    "InviteBody",
    "LogEntry",
    "MemberRecord",
    "RemoveBody",
    "RenameBody",
    "Role",
    "RoleBody",
    "add_body",
    "channel_body",
    "create_body",
    "decode_body",
    "delivery_key_body",
    "describe_body",
    "description_problem",
    "invite_body",
    "name_problem",
    "remove_body",
    "rename_body",
    "role_body",
]

ENTRY_VERSION = 1
MAX_BODY = 65536
MEMBER_NAME_MAX = 64
GROUP_NAME_MAX = 128
DESCRIPTION_MAX = 1024
"""Largest group description, in UTF-8 bytes."""
CHANNEL_NAME_MAX = 64
ZERO_ID = bytes(16)
ZERO_HASH = bytes(32)
EMPTY_BODY = b""


class Role(IntEnum):
    """A member's role; organizers may change the roster and the group's settings."""

    MEMBER = 1
    ORGANIZER = 2


class EntryKind(IntEnum):
    """The ``kind`` byte of a log entry (protocol 2.2)."""

    CREATE = 1
    ADD = 2
    REMOVE = 3
    ROLE = 4
    LEAVE = 5
    REKEY = 6
    RENAME = 7
    INVITE = 8
    CHANNEL = 9
    BALLOT_KEY = 10
    DELIVERY_KEY = 11
    DESCRIBE = 12  # the group's description (protocol 4.1.3)
    DEVICE_ADD = 13
    DEVICE_REMOVE = 14


# Characters refused in names.  The set is written out rather than taken from
# ``unicodedata`` so every client, whatever its Python version, applies the same rule:
# C0 and C1 controls (category Cc), line and paragraph separators (Zl, Zp) and the
# bidirectional formatting characters, which can make one name display as another.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _refused_char(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029) or ch in _BIDI_CONTROLS


def name_problem(name: str, max_bytes: int) -> str | None:
    """Why ``name`` is not an acceptable display name, or ``None`` if it is.

    Names are 1..``max_bytes`` bytes of UTF-8 without control, separator or
    bidirectional formatting characters.
    """
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "name is not encodable as UTF-8"
    if not 1 <= size <= max_bytes:
        return f"name must be 1 to {max_bytes} bytes of UTF-8"
    if any(_refused_char(ch) for ch in name):
        return "name contains a control or formatting character"
    return None


def _write_name(writer: Writer, name: str, max_bytes: int) -> None:
    problem = name_problem(name, max_bytes)
    if problem is not None:
        raise UsageError(problem)
    writer.text(name, max_bytes)


def _read_name(reader: Reader, max_bytes: int) -> str:
    name = reader.text(max_bytes)
    problem = name_problem(name, max_bytes)
    if problem is not None:
        raise MalformedData(problem)
    return name


def _read_role(reader: Reader) -> Role:
    value = reader.u8()
    try:
        return Role(value)
    except ValueError:
        raise MalformedData(f"unknown role {value}") from None


def _read_flag(reader: Reader) -> bool:
    value = reader.u8()
    if value > 1:
        raise MalformedData("flag byte must be 0 or 1")
    return value == 1


@dataclass(frozen=True)
class MemberRecord:
    """One roster entry: identity key, display name, certified delivery key and role."""

    identity_pk: bytes
    name: str
    delivery_cert: DeliveryCert
    role: Role

    @classmethod
    def for_identity(cls, identity: Identity, name: str, role: Role) -> MemberRecord:
        """The record describing ``identity`` with its current delivery certificate."""
        return cls(identity.public_key, name, identity.delivery_cert, role)

    def write(self, writer: Writer) -> None:
        if self.delivery_cert.identity_pk != self.identity_pk:
            raise UsageError("delivery certificate belongs to another identity")
        writer.fixed(self.identity_pk, 32)
        _write_name(writer, self.name, MEMBER_NAME_MAX)
        writer.fixed(self.delivery_cert.encode(), DELIVERY_CERT_SIZE)
        writer.u8(Role(self.role))

    def encode(self) -> bytes:
        writer = Writer()
        self.write(writer)
        return bytes(writer)

    @classmethod
    def read(cls, reader: Reader) -> MemberRecord:
        """Parse a record; verifies the delivery certificate (``BadSignature``)."""
        identity_pk = reader.fixed(32)
        name = _read_name(reader, MEMBER_NAME_MAX)
        cert = DeliveryCert.read(reader)
        if cert.identity_pk != identity_pk:
            raise MalformedData("delivery certificate belongs to another identity")
        check_delivery_key(cert.delivery_pk)
        role = _read_role(reader)
        return cls(identity_pk, name, cert, role)

    @classmethod
    def decode(cls, data: bytes) -> MemberRecord:
        reader = Reader(data)
        record = cls.read(reader)
        reader.finish()
        return record


@dataclass(frozen=True)
class Channel:
    """A discussion channel; also the body of a CHANNEL entry."""

    channel_id: bytes
    name: str
    announce_only: bool

    def encode(self) -> bytes:
        writer = Writer().fixed(self.channel_id, 16)
        _write_name(writer, self.name, CHANNEL_NAME_MAX)
        return bytes(writer.u8(int(self.announce_only)))

    @classmethod
    def decode(cls, data: bytes) -> Channel:
        reader = Reader(data)
        channel_id = reader.fixed(16)
        name = _read_name(reader, CHANNEL_NAME_MAX)
        channel = cls(channel_id, name, _read_flag(reader))
        reader.finish()
        return channel


@dataclass(frozen=True)
class CreateBody:
    """Body of CREATE: the group's name and its first member, who must be an organizer."""

    group_name: str
    creator: MemberRecord

    def encode(self) -> bytes:
        writer = Writer()
        _write_name(writer, self.group_name, GROUP_NAME_MAX)
        self.creator.write(writer)
        return bytes(writer)

    @classmethod
    def decode(cls, data: bytes) -> CreateBody:
        reader = Reader(data)
        body = cls(_read_name(reader, GROUP_NAME_MAX), MemberRecord.read(reader))
        reader.finish()
        return body


@dataclass(frozen=True)
class AddBody:
    """Body of ADD: the new member and the invite it uses (zero id for a direct add)."""

    member: MemberRecord
    invite_id: bytes = ZERO_ID

    def encode(self) -> bytes:
        writer = Writer()
        self.member.write(writer)
        return bytes(writer.fixed(self.invite_id, 16))

    @classmethod
    def decode(cls, data: bytes) -> AddBody:
        reader = Reader(data)
        body = cls(MemberRecord.read(reader), reader.fixed(16))
        reader.finish()
        return body


@dataclass(frozen=True)
class RemoveBody:
    """Body of REMOVE: whom to remove."""

    identity_pk: bytes

    def encode(self) -> bytes:
        return bytes(Writer().fixed(self.identity_pk, 32))

    @classmethod
    def decode(cls, data: bytes) -> RemoveBody:
        reader = Reader(data)
        body = cls(reader.fixed(32))
        reader.finish()
        return body


@dataclass(frozen=True)
class RoleBody:
    """Body of ROLE: a member and the role it gets."""

    identity_pk: bytes
    role: Role

    def encode(self) -> bytes:
        return bytes(Writer().fixed(self.identity_pk, 32).u8(Role(self.role)))

    @classmethod
    def decode(cls, data: bytes) -> RoleBody:
        reader = Reader(data)
        body = cls(reader.fixed(32), _read_role(reader))
        reader.finish()
        return body


@dataclass(frozen=True)
class RenameBody:
    """Body of RENAME: the new group name."""

    group_name: str

    def encode(self) -> bytes:
        writer = Writer()
        _write_name(writer, self.group_name, GROUP_NAME_MAX)
        return bytes(writer)

    @classmethod
    def decode(cls, data: bytes) -> RenameBody:
        reader = Reader(data)
        body = cls(_read_name(reader, GROUP_NAME_MAX))
        reader.finish()
        return body


def description_problem(text: str) -> str | None:
    """Why ``text`` is not an acceptable group description, or ``None`` if it is: at most
    ``DESCRIPTION_MAX`` bytes of UTF-8 (empty clears it), line breaks allowed, no other
    control, separator or bidirectional formatting character."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return "description is not encodable as UTF-8"
    if size > DESCRIPTION_MAX:
        return f"description must be at most {DESCRIPTION_MAX} bytes of UTF-8"
    if any(ch != "\n" and _refused_char(ch) for ch in text):
        return "description contains a control or formatting character"
    return None


@dataclass(frozen=True)
class DescribeBody:
    """Body of DESCRIBE: the group's new description (empty: none)."""

    description: str

    def encode(self) -> bytes:
        problem = description_problem(self.description)
        if problem is not None:
            raise UsageError(problem)
        return bytes(Writer().text(self.description, DESCRIPTION_MAX))

    @classmethod
    def decode(cls, data: bytes) -> DescribeBody:
        reader = Reader(data)
        text = reader.text(DESCRIPTION_MAX)
        reader.finish()
        problem = description_problem(text)
        if problem is not None:
            raise MalformedData(problem)
        return cls(text)


@dataclass(frozen=True)
class InviteBody:
    """Body of INVITE: the public half of an invite (its secret stays in the code)."""

    invite_id: bytes
    role: Role
    expires_at: int
    max_uses: int
    needs_approval: bool

    def encode(self) -> bytes:
        return bytes(
            Writer()
            .fixed(self.invite_id, 16)
            .u8(Role(self.role))
            .u64(self.expires_at)
            .u16(self.max_uses)
            .u8(int(self.needs_approval))
        )

    @classmethod
    def decode(cls, data: bytes) -> InviteBody:
        reader = Reader(data)
        body = cls(
            invite_id=reader.fixed(16),
            role=_read_role(reader),
            expires_at=reader.u64(),
            max_uses=reader.u16(),
            needs_approval=_read_flag(reader),
        )
        reader.finish()
        return body


@dataclass(frozen=True)
class EmptyBody:
    """Body of LEAVE and REKEY: no bytes at all."""

    def encode(self) -> bytes:
        return EMPTY_BODY

    @classmethod
    def decode(cls, data: bytes) -> EmptyBody:
        if data:
            raise MalformedData("this entry kind has an empty body")
        return cls()


@dataclass(frozen=True)
class DeliveryKeyBody:
    """Body of DELIVERY_KEY: the author's new delivery certificate (protocol 2.2).

    Decoding verifies the certificate (``BadSignature``) and refuses a low-order key
    (``MalformedData``); that it certifies the author is a rule of the group log."""

    cert: DeliveryCert

    def encode(self) -> bytes:
        return self.cert.encode()

    @classmethod
    def decode(cls, data: bytes) -> DeliveryKeyBody:
        cert = DeliveryCert.decode(data)
        check_delivery_key(cert.delivery_pk)
        return cls(cert)


Body = (
    CreateBody
    | AddBody
    | RemoveBody
    | RoleBody
    | RenameBody
    | DescribeBody
    | InviteBody
    | Channel
    | EmptyBody
    | DeliveryKeyBody
)

_BODY_TYPES: dict[EntryKind, type[Body]] = {
    EntryKind.CREATE: CreateBody,
    EntryKind.ADD: AddBody,
    EntryKind.REMOVE: RemoveBody,
    EntryKind.ROLE: RoleBody,
    EntryKind.LEAVE: EmptyBody,
    EntryKind.REKEY: EmptyBody,
    EntryKind.RENAME: RenameBody,
    EntryKind.INVITE: InviteBody,
    EntryKind.CHANNEL: Channel,
    EntryKind.DELIVERY_KEY: DeliveryKeyBody,
    EntryKind.DESCRIBE: DescribeBody,
}


def decode_body(kind: EntryKind, data: bytes) -> Body | DeviceAddBody | DeviceRemoveBody:
    """Parse the body of an entry of ``kind``.

    Raises ``MalformedData`` (or a subclass, or ``BadSignature`` for a member record's
    certificate or a device certificate) on bad bytes.  A BALLOT_KEY body is verified
    against its author and group, which this function does not have: the group log
    decodes it with
    ``crypto.ballot.BallotKeyRecord.decode`` and asking here is a ``UsageError``.
    """
    if kind in (EntryKind.DEVICE_ADD, EntryKind.DEVICE_REMOVE):
        # crypto/device.py builds on this module's names, so it is imported here.
        from crypto.device import DeviceAddBody, DeviceRemoveBody

        if kind == EntryKind.DEVICE_ADD:
            return DeviceAddBody.decode(data)
        return DeviceRemoveBody.decode(data)
    body_type = _BODY_TYPES.get(kind)
    if body_type is None:
        raise UsageError(f"decode {kind.name} bodies with their own decoder")
    return body_type.decode(data)


def create_body(group_name: str, creator: MemberRecord) -> bytes:
    return CreateBody(group_name, creator).encode()


def add_body(record: MemberRecord, invite_id: bytes = ZERO_ID) -> bytes:
    return AddBody(record, invite_id).encode()


def remove_body(identity_pk: bytes) -> bytes:
    return RemoveBody(identity_pk).encode()


def role_body(identity_pk: bytes, role: Role) -> bytes:
    return RoleBody(identity_pk, role).encode()


def rename_body(group_name: str) -> bytes:
    return RenameBody(group_name).encode()


def describe_body(description: str) -> bytes:
    return DescribeBody(description).encode()


def invite_body(
    invite_id: bytes, role: Role, expires_at: int, max_uses: int, needs_approval: bool
) -> bytes:
    return InviteBody(invite_id, role, expires_at, max_uses, needs_approval).encode()


def channel_body(channel_id: bytes, name: str, announce_only: bool) -> bytes:
    return Channel(channel_id, name, announce_only).encode()


@dataclass(frozen=True)
class LogEntry:
    """One signed, hash-chained group-log entry (protocol 2.1).

    The encoding and hash are computed once and cached; a decoded entry keeps the exact
    bytes it came from (which, the codec being strict, equal its re-encoding).
    """

    group_id: bytes
    seq: int
    prev_hash: bytes
    author: bytes
    timestamp: int
    kind: EntryKind
    body: bytes
    epoch_commitment: bytes
    signature: bytes

    def __repr__(self) -> str:
        # Compact on purpose: bodies hold member and group names, which stay out of logs.
        return (
            f"LogEntry(seq={self.seq}, kind={self.kind.name}, "
            f"author={self.author[:4].hex()}.., body={len(self.body)} bytes)"
        )

    @staticmethod
    def _signed_bytes(
        group_id: bytes,
        seq: int,
        prev_hash: bytes,
        author: bytes,
        timestamp: int,
        kind: EntryKind,
        body: bytes,
        epoch_commitment: bytes,
    ) -> bytes:
        return bytes(
            Writer()
            .u8(ENTRY_VERSION)
            .fixed(group_id, 16)
            .u64(seq)
            .fixed(prev_hash, 32)
            .fixed(author, 32)
            .u64(timestamp)
            .u8(EntryKind(kind))
            .var(body, MAX_BODY)
            .fixed(epoch_commitment, 32)
        )

    @cached_property
    def signed_part(self) -> bytes:
        """Every byte of the encoding before the signature."""
        return self._signed_bytes(
            self.group_id,
            self.seq,
            self.prev_hash,
            self.author,
            self.timestamp,
            self.kind,
            self.body,
            self.epoch_commitment,
        )

    @cached_property
    def encoded(self) -> bytes:
        if len(self.signature) != 64:
            raise UsageError("signature must be 64 bytes")
        return self.signed_part + self.signature

    def encode(self) -> bytes:
        return self.encoded

    @cached_property
    def hash(self) -> bytes:
        """``entry_hash = H("log-entry-hash", encoded entry)``; the head after this entry."""
        return kdf.digest("log-entry-hash", self.encoded)

    def verify_signature(self) -> None:
        """Raise ``BadSignature`` unless the author's identity key signed this entry."""
        verify_framed(self.author, self.signature, "log-entry", self.signed_part)

    @classmethod
    def sign(
        cls,
        author: Identity,
        *,
        group_id: bytes,
        seq: int,
        prev_hash: bytes,
        timestamp: int,
        kind: EntryKind,
        body: bytes,
        epoch_commitment: bytes,
    ) -> LogEntry:
        """Build and sign an entry; checks field sizes (``UsageError``), not the rules."""
        signed = cls._signed_bytes(
            group_id, seq, prev_hash, author.public_key, timestamp, kind, body, epoch_commitment
        )
        signature = author.sign("log-entry", signed)
        return cls(
            group_id=group_id,
            seq=seq,
            prev_hash=prev_hash,
            author=author.public_key,
            timestamp=timestamp,
            kind=EntryKind(kind),
            body=body,
            epoch_commitment=epoch_commitment,
            signature=signature,
        )

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        """Strict parse; does not verify the signature (``GroupState.apply`` does)."""
        reader = Reader(data)
        version = reader.u8()
        if version != ENTRY_VERSION:
            raise UnsupportedVersion(f"log entry version {version}")
        group_id = reader.fixed(16)
        seq = reader.u64()
        prev_hash = reader.fixed(32)
        author = reader.fixed(32)
        timestamp = reader.u64()
        kind_value = reader.u8()
        body = reader.var(MAX_BODY)
        commitment = reader.fixed(32)
        signature = reader.fixed(64)
        reader.finish()
        try:
            kind = EntryKind(kind_value)
        except ValueError:
            raise InvalidLogEntry(f"unknown entry kind {kind_value}") from None
        entry = cls(group_id, seq, prev_hash, author, timestamp, kind, body, commitment, signature)
        # Seed the cache: a strict codec re-encodes to exactly these bytes.
        entry.__dict__["encoded"] = bytes(data)
        entry.__dict__["signed_part"] = bytes(data[:-64])
        return entry


def delivery_key_body(cert: DeliveryCert) -> bytes:
    return DeliveryKeyBody(cert).encode()
