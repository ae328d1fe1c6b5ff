"""Typed events the engine emits to its listeners (the Qt views, the CLI).

Events are frozen values; listeners must not assume which thread calls them and should
hand them to their own loop (the Qt layer queues them onto the GUI thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from app.core.views import MessageView

__all__ = [
    "BallotChanged",
    "ConnectionChanged",
    "ConnectionState",
    "DeviceLinked",
    "DocumentChanged",
    "Event",
    "GroupChanged",
    "GroupJoined",
    "IntegrityWarning",
    "JoinRequested",
    "Listener",
    "MessageAdded",
    "MessageChanged",
    "MessageStatusChanged",
    "RemovedFromGroup",
    "ReportsChanged",
    "SyncProgress",
]


class ConnectionState(Enum):
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


@dataclass(frozen=True)
class MessageAdded:
    """A message was stored: received from the relay, or queued by us."""

    message: MessageView


@dataclass(frozen=True)
class MessageStatusChanged:
    group_id: bytes
    row_id: int
    status: str


@dataclass(frozen=True)
class BallotChanged:
    """A ballot's definition, votes, close, reveal, tally or cancellation arrived."""

    group_id: bytes
    ballot_id: bytes


@dataclass(frozen=True)
class MessageChanged:
    """A stored message was edited or deleted by its author, or its reactions changed:
    listeners read it again (``Queries.message(row_id)``)."""

    group_id: bytes
    row_id: int


@dataclass(frozen=True)
class DocumentChanged:
    """A document's announcement (a new version) or an acknowledgement arrived."""

    group_id: bytes
    document_id: bytes


@dataclass(frozen=True)
class GroupChanged:
    """Roster, roles, name or channels of a group changed."""

    group_id: bytes


@dataclass(frozen=True)
class GroupJoined:
    """A group appeared in this profile: joined through a welcome, or ``created`` here."""

    group_id: bytes
    name: str
    created: bool = False


@dataclass(frozen=True)
class DeviceLinked:
    """This profile became a linked device: the bundle from the member's first device is
    installed (docs/protocol.md 8.4). The profile now acts for its member, under the
    member's name, which an engine and reader opened before this do not know yet: open
    them again."""

    groups: int  # how many groups the bundle brought


@dataclass(frozen=True)
class RemovedFromGroup:
    group_id: bytes


@dataclass(frozen=True)
class JoinRequested:
    """Someone used an invite that needs an organizer's approval."""

    group_id: bytes
    request_id: int
    name: str
    fingerprint: str


@dataclass(frozen=True)
class IntegrityWarning:
    """Something the relay or a peer did that the protocol detected (P2, P4)."""

    group_id: bytes | None
    kind: str
    detail: str


@dataclass(frozen=True)
class ConnectionChanged:
    relay_url: str
    state: ConnectionState


@dataclass(frozen=True)
class SyncProgress:
    group_id: bytes
    processed: int


@dataclass(frozen=True)
class ReportsChanged:
    """A rate or client report, or the reports threshold, arrived (docs/union-tools.md)."""

    group_id: bytes


Event = (
    MessageAdded
    | MessageStatusChanged
    | MessageChanged
    | GroupChanged
    | GroupJoined
    | DeviceLinked
    | RemovedFromGroup
    | JoinRequested
    | IntegrityWarning
    | ConnectionChanged
    | SyncProgress
    | BallotChanged
    | DocumentChanged
    | ReportsChanged
)
Listener = Callable[[Event], None]
