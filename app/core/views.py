"""Read-only values the engine hands to views: groups, members, messages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from crypto.group_log import Role

__all__ = [
    "DEFAULT_CHANNEL",
    "AttachmentView",
    "ChannelView",
    "GroupView",
    "JoinRequestView",
    "MemberRole",
    "MemberView",
    "MessageView",
    "ProfileView",
]

DEFAULT_CHANNEL = bytes(16)


class MemberRole(Enum):
    """A member's role as views name it (``MemberView.role`` holds its value)."""

    MEMBER = "member"
    ORGANIZER = "organizer"

    @property
    def log_role(self) -> Role:
        """The role as the group log encodes it."""
        return Role.ORGANIZER if self is MemberRole.ORGANIZER else Role.MEMBER


@dataclass(frozen=True)
class MemberView:
    name: str
    fingerprint: str
    role: str  # "organizer" | "member"
    identity_pk: bytes
    is_me: bool
    devices: bytes = b""  # digest of the member's linked device keys (empty: none)


@dataclass(frozen=True)
class ChannelView:
    channel_id: bytes
    name: str
    announce_only: bool


@dataclass(frozen=True)
class GroupView:
    group_id: bytes
    name: str
    status: str  # active | removed | left
    my_role: str | None
    member_count: int
    unread: int
    channels: tuple[ChannelView, ...]
    muted: bool = False  # no notifications, not counted in the window title
    read_upto: int = 0  # row id of the last message read ("New messages" goes after it)
    description: str = ""  # set by organizers (a DESCRIBE log entry, protocol 4.1.3)

    @property
    def id_hex(self) -> str:
        return self.group_id.hex()


@dataclass(frozen=True)
class AttachmentView:
    """A file attached to a message (fetched only on request: ``attachments.get``)."""

    name: str
    size: int
    media_type: str


@dataclass(frozen=True)
class MessageView:
    row_id: int
    group_id: bytes
    channel_id: bytes
    message_id: bytes | None
    sender_name: str
    sender_fingerprint: str
    text: str
    sent_at: int
    status: str  # pending | sent | failed | received
    warning: str | None
    is_mine: bool
    kind: str = "text"  # text | event | hidden (app/core/message_kinds.py)
    opens: str | None = None  # for an event: "ballots" or "documents", the panel it opens
    reply_to: bytes | None = None  # the message id this one answers
    edited: bool = False  # its author changed the text
    deleted: bool = False  # its author deleted it for everyone (text is empty)
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (emoji, who), first first
    attachments: tuple[AttachmentView, ...] = ()  # files, in the order they were attached


@dataclass(frozen=True)
class JoinRequestView:
    request_id: int
    group_id: bytes
    name: str
    fingerprint: str
    status: str
    received_at: int


@dataclass(frozen=True)
class ProfileView:
    name: str
    relay_url: str
    fingerprint: str
