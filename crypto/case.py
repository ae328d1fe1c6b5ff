"""Dispute cases: the content types and the invitation of docs/union-tools.md ("Dispute
cases").

A case is its own group, created by the member who opens it, with the parent group's
organizers as its other members. Its records travel as content types 56 to 60 (the
``UNION_TYPES`` range 48-63, cases' share 56-63):

- 56 ``CaseInbox``, in the parent group, by an organizer: where to send it case
  invitations (an inbox only it can read);
- 57 ``CaseRecord``, in the case group, by the opener: parent, title, status, sharing;
- 58 ``CaseStatusChange``, in the case group, by an organizer of the case group: one
  transition of ``CASE_TRANSITIONS``;
- 59 ``CaseSharing``, in the case group, by the opener: whether (and how) the parent
  group may see a status line;
- 60 ``CaseLine``, in the parent group, by an organizer: "a case is now negotiating".

The invitation (``CaseInvitation``) goes to an organizer's case inbox, sealed to its
delivery key in the parent group's roster and signed by the opener: an ordinary invite
code of the case group plus what the case is, so the organizer's client can join it
through the normal invite flow (docs/protocol.md 5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

from crypto.errors import MalformedData, UnsupportedVersion, UsageError
from crypto.identity import DeliveryCert, Identity, fingerprint, verify_framed
from crypto.invite import InviteCode
from crypto.kdf import derive
from crypto.sealed import check_delivery_key, open_sealed, seal
from crypto.wire import Reader, Writer

__all__ = [
    "CASE_TRANSITIONS",
    "CONTENT_TYPE_CASE_INBOX",
    "CONTENT_TYPE_CASE_LINE",
    "CONTENT_TYPE_CASE_RECORD",
    "CONTENT_TYPE_CASE_SHARING",
    "CONTENT_TYPE_CASE_STATUS",
    "MAX_NOTE",
    "MAX_TITLE",
    "CaseInbox",
    "CaseInvitation",
    "CaseLine",
    "CaseRecord",
    "CaseSharing",
    "CaseStatus",
    "CaseStatusChange",
    "Sharing",
    "case_tag",
    "transition_allowed",
]

CONTENT_TYPE_CASE_INBOX = 56
CONTENT_TYPE_CASE_RECORD = 57
CONTENT_TYPE_CASE_STATUS = 58
CONTENT_TYPE_CASE_SHARING = 59
CONTENT_TYPE_CASE_LINE = 60

VERSION = 1
MAX_TITLE = 200
"""Largest case title, in UTF-8 bytes."""
MAX_NOTE = 2000
"""Largest note on a status change, in UTF-8 bytes."""
MAX_CODE = 448  # an invite code's longest text (docs/protocol.md 5)


class CaseStatus(IntEnum):
    OPEN = 1
    NEGOTIATING = 2
    RESOLVED = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> CaseStatus:
        for status in cls:
            if status.label == text.strip().lower():
                return status
        raise UsageError("a case status is open, negotiating or resolved")


class Sharing(IntEnum):
    """What the opener lets the parent group see."""

    NONE = 0
    STATUS = 1  # "A case is now negotiating"
    STATUS_AND_TITLE = 2  # "Case 'Late fees at Acme' is now negotiating"


CASE_TRANSITIONS: frozenset[tuple[CaseStatus, CaseStatus]] = frozenset(
    {
        (CaseStatus.OPEN, CaseStatus.NEGOTIATING),
        (CaseStatus.OPEN, CaseStatus.RESOLVED),
        (CaseStatus.NEGOTIATING, CaseStatus.OPEN),
        (CaseStatus.NEGOTIATING, CaseStatus.RESOLVED),
        (CaseStatus.RESOLVED, CaseStatus.OPEN),  # reopened
    }
)
"""Every allowed status change (docs/union-tools.md has the table); anything else,
including a change to the same status, is refused by every client."""


def transition_allowed(current: CaseStatus, new: CaseStatus) -> bool:
    return (current, new) in CASE_TRANSITIONS


def case_tag(case_group_id: bytes) -> bytes:
    """The 16 bytes that tie a case's status lines together in the parent group without
    telling its members the case group's id (which derives its help mailbox)."""
    if len(case_group_id) != 16:
        raise UsageError("a group id is 16 bytes")
    return derive(case_group_id, "case-tag", size=16)


def _status(value: int) -> CaseStatus:
    try:
        return CaseStatus(value)
    except ValueError:
        raise MalformedData(f"unknown case status {value}") from None


def _sharing(value: int) -> Sharing:
    try:
        return Sharing(value)
    except ValueError:
        raise MalformedData(f"unknown case sharing {value}") from None


def _version(reader: Reader, what: str) -> None:
    version = reader.u8()
    if version != VERSION:
        raise UnsupportedVersion(f"{what} version {version}")


def _title(text: str) -> str:
    if not text.strip() or len(text.encode("utf-8", "replace")) > MAX_TITLE:
        raise UsageError(f"a case title is 1 to {MAX_TITLE} bytes of text")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UsageError("a case title has no control characters")
    return text


@dataclass(frozen=True, slots=True)
class CaseInbox:
    """``u8 version | bytes16 inbox_id``: an organizer's inbox for case invitations, on
    the parent group's relay."""

    content_type: ClassVar[int] = CONTENT_TYPE_CASE_INBOX
    inbox_id: bytes

    def encode(self) -> bytes:
        return bytes(Writer().u8(VERSION).fixed(self.inbox_id, 16))

    @classmethod
    def decode(cls, data: bytes) -> CaseInbox:
        reader = Reader(data)
        _version(reader, "case inbox")
        inbox_id = reader.fixed(16)
        reader.finish()
        return cls(inbox_id)


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """``u8 version | bytes16 parent_group_id | str(200) title | u8 status | u8 sharing``,
    posted by the opener in the case group (again whenever new members joined)."""

    content_type: ClassVar[int] = CONTENT_TYPE_CASE_RECORD
    parent_group_id: bytes
    title: str
    status: CaseStatus
    sharing: Sharing

    def __post_init__(self) -> None:
        _title(self.title)

    def encode(self) -> bytes:
        return bytes(
            Writer()
            .u8(VERSION)
            .fixed(self.parent_group_id, 16)
            .text(self.title, MAX_TITLE)
            .u8(self.status)
            .u8(self.sharing)
        )

    @classmethod
    def decode(cls, data: bytes) -> CaseRecord:
        reader = Reader(data)
        _version(reader, "case record")
        parent = reader.fixed(16)
        title = reader.text(MAX_TITLE)
        status = _status(reader.u8())
        sharing = _sharing(reader.u8())
        reader.finish()
        try:
            return cls(parent, title, status, sharing)
        except UsageError as exc:
            raise MalformedData(str(exc)) from None


@dataclass(frozen=True, slots=True)
class CaseStatusChange:
    """``u8 version | u8 from | u8 to | str(2000) note``: applies only when ``from`` is the
    status every client holds at that point of the mailbox, so two concurrent changes
    cannot both apply."""

    content_type: ClassVar[int] = CONTENT_TYPE_CASE_STATUS
    previous: CaseStatus
    status: CaseStatus
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.note.encode("utf-8", "replace")) > MAX_NOTE:
            raise UsageError(f"a note is at most {MAX_NOTE} bytes")

    def encode(self) -> bytes:
        return bytes(
            Writer().u8(VERSION).u8(self.previous).u8(self.status).text(self.note, MAX_NOTE)
        )

    @classmethod
    def decode(cls, data: bytes) -> CaseStatusChange:
        reader = Reader(data)
        _version(reader, "case status change")
        previous = _status(reader.u8())
        status = _status(reader.u8())
        note = reader.text(MAX_NOTE)
        reader.finish()
        return cls(previous, status, note)


@dataclass(frozen=True, slots=True)
class CaseSharing:
    """``u8 version | u8 sharing``: the opener's consent, in the case group."""

    content_type: ClassVar[int] = CONTENT_TYPE_CASE_SHARING
    sharing: Sharing

    def encode(self) -> bytes:
        return bytes(Writer().u8(VERSION).u8(self.sharing))

    @classmethod
    def decode(cls, data: bytes) -> CaseSharing:
        reader = Reader(data)
        _version(reader, "case sharing")
        sharing = _sharing(reader.u8())
        reader.finish()
        return cls(sharing)


@dataclass(frozen=True, slots=True)
class CaseLine:
    """``u8 version | bytes16 tag | u8 status | str(200) title`` (title empty unless the
    opener shares it), posted in the parent group by an organizer of the case."""

    content_type: ClassVar[int] = CONTENT_TYPE_CASE_LINE
    tag: bytes
    status: CaseStatus
    title: str = ""

    def encode(self) -> bytes:
        return bytes(
            Writer().u8(VERSION).fixed(self.tag, 16).u8(self.status).text(self.title, MAX_TITLE)
        )

    @classmethod
    def decode(cls, data: bytes) -> CaseLine:
        reader = Reader(data)
        _version(reader, "case line")
        tag = reader.fixed(16)
        status = _status(reader.u8())
        title = reader.text(MAX_TITLE)
        reader.finish()
        return cls(tag, status, title)

    def shown(self) -> str:
        if self.title:
            return f"Case \u201c{self.title}\u201d is now {self.status.label}"
        return f"A case is now {self.status.label}"


@dataclass(frozen=True)
class CaseInvitation:
    """Sealed to the organizer's delivery key (as the parent roster certifies it)::

    u8 version | bytes16 parent_group_id | bytes16 case_group_id | str(200) title
    | u8 status | str(448) invite_code | bytes32 organizer | bytes32 opener
    | bytes64 sig = Ed25519(opener, frame("case-invitation", preceding bytes))
    """

    parent_group_id: bytes
    case_group_id: bytes
    title: str
    status: CaseStatus
    invite_code: str = field(repr=False)
    organizer: bytes
    opener: bytes

    def _signed(self) -> bytes:
        return bytes(
            Writer()
            .u8(VERSION)
            .fixed(self.parent_group_id, 16)
            .fixed(self.case_group_id, 16)
            .text(self.title, MAX_TITLE)
            .u8(self.status)
            .text(self.invite_code, MAX_CODE)
            .fixed(self.organizer, 32)
            .fixed(self.opener, 32)
        )

    def seal(
        self, opener: Identity, organizer_cert: DeliveryCert, rng: Callable[[int], bytes]
    ) -> bytes:
        if opener.public_key != self.opener or organizer_cert.identity_pk != self.organizer:
            raise UsageError("the invitation names another opener or organizer")
        _title(self.title)
        check_delivery_key(organizer_cert.delivery_pk)
        signed = self._signed()
        return seal(
            organizer_cert.delivery_pk, signed + opener.sign("case-invitation", signed), rng
        )

    @classmethod
    def open(cls, item: bytes, me: Identity) -> CaseInvitation:
        """Open with ``me``'s delivery key and check the framing, the signature, that it
        is addressed to me and that the code's inviter is the opener. The caller checks
        the parent group (the opener a member, me an organizer). Raises
        ``DecryptionFailed``, ``MalformedData``, ``UnsupportedVersion``, ``BadSignature``."""
        plaintext = open_sealed(me.delivery_key, item)
        reader = Reader(plaintext)
        _version(reader, "case invitation")
        parent = reader.fixed(16)
        case_group_id = reader.fixed(16)
        title = reader.text(MAX_TITLE)
        status = _status(reader.u8())
        code_text = reader.text(MAX_CODE)
        organizer = reader.fixed(32)
        opener = reader.fixed(32)
        signature = reader.fixed(64)
        reader.finish()
        verify_framed(opener, signature, "case-invitation", plaintext[:-64])
        if organizer != me.public_key:
            raise MalformedData("the case invitation is addressed to someone else")
        code = InviteCode.parse(code_text)
        if code.inviter_fingerprint != fingerprint(opener):
            raise MalformedData("the case invitation's code is not the opener's")
        try:
            _title(title)
        except UsageError as exc:
            raise MalformedData(str(exc)) from None
        return cls(parent, case_group_id, title, status, code_text, organizer, opener)
