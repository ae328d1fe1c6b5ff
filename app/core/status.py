"""Every status the client stores, each with its transition table.

The store writes a status only through ``move`` (or an SQL ``UPDATE`` guarded by the
old status the table allows), so a row cannot jump to a state its life cycle does not
have: a sent message never becomes pending again, a superseded vote is never posted.
docs/protocol.md section 7 shows ``transition_table_markdown`` of each table; a test
keeps them equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final, TypeVar

from crypto.errors import UsageError

__all__ = [
    "GROUP_TRANSITIONS",
    "INVITE_TRANSITIONS",
    "JOIN_TRANSITIONS",
    "MESSAGE_TRANSITIONS",
    "TABLES",
    "VOTE_TRANSITIONS",
    "GroupStatus",
    "InviteStatus",
    "JoinStatus",
    "MessageStatus",
    "VoteStatus",
    "move",
    "transition_table_markdown",
]


class MessageStatus(StrEnum):
    """A message row: ours go pending -> sent (or failed, then pending on retry);
    everyone else's arrive as received."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    RECEIVED = "received"


class VoteStatus(StrEnum):
    """An anonymous vote waiting in the ballot outbox."""

    PENDING = "pending"
    SENT = "sent"
    SUPERSEDED = "superseded"
    FAILED = "failed"


class JoinStatus(StrEnum):
    """A join request an organizer decides on."""

    PENDING = "pending"
    ADMITTED = "admitted"
    REJECTED = "rejected"


class InviteStatus(StrEnum):
    OPEN = "open"
    SPENT = "spent"


class GroupStatus(StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"
    LEFT = "left"


S = TypeVar("S", bound=StrEnum)
M, V, J, Inv, G = MessageStatus, VoteStatus, JoinStatus, InviteStatus, GroupStatus

# (from, to) -> when it happens
MESSAGE_TRANSITIONS: Final[dict[tuple[MessageStatus, MessageStatus], str]] = {
    (M.PENDING, M.SENT): "the relay acknowledged the item, or it came back in a sync",
    (M.PENDING, M.FAILED): "the relay or the group refused it for good (not for being offline)",
    (M.FAILED, M.PENDING): "the person asks to send it again",
    (M.SENT, M.PENDING): "the relay was restored from an older copy that lacks it: post it again",
}
VOTE_TRANSITIONS: Final[dict[tuple[VoteStatus, VoteStatus], str]] = {
    (V.PENDING, V.SENT): "the relay acknowledged the anonymous item",
    (V.PENDING, V.SUPERSEDED): "a newer vote on the same ballot replaced it before it went out",
    (V.PENDING, V.FAILED): "the ballot closed or we left the group before it went out",
    (V.SENT, V.PENDING): "the relay acknowledged it but never delivered it: post it again",
}
JOIN_TRANSITIONS: Final[dict[tuple[JoinStatus, JoinStatus], str]] = {
    (J.PENDING, J.ADMITTED): "an organizer approved it (or the invite needs no approval)",
    (J.PENDING, J.REJECTED): "an organizer declined it",
}
INVITE_TRANSITIONS: Final[dict[tuple[InviteStatus, InviteStatus], str]] = {
    (Inv.OPEN, Inv.SPENT): "its uses ran out or it expired",
}
GROUP_TRANSITIONS: Final[dict[tuple[GroupStatus, GroupStatus], str]] = {
    (G.ACTIVE, G.REMOVED): "a commit that removes us was applied",
    (G.ACTIVE, G.LEFT): "our own LEAVE commit was applied",
}

TABLES: Final[dict[str, Mapping[tuple[StrEnum, StrEnum], str]]] = {
    "message": MESSAGE_TRANSITIONS,  # type: ignore[dict-item]
    "vote": VOTE_TRANSITIONS,  # type: ignore[dict-item]
    "join request": JOIN_TRANSITIONS,  # type: ignore[dict-item]
    "invite": INVITE_TRANSITIONS,  # type: ignore[dict-item]
    "group": GROUP_TRANSITIONS,  # type: ignore[dict-item]
}


def move(table: Mapping[tuple[S, S], str], old: S, new: S) -> S:
    """``new`` if the table allows ``old -> new``; ``UsageError`` (our bug) otherwise."""
    if (old, new) not in table:
        raise UsageError(f"status {old} cannot become {new}")
    return new


def transition_table_markdown(table: Mapping[tuple[S, S], str]) -> str:
    """One table as Markdown, for docs/protocol.md."""
    lines = ["| from | to | when |", "|---|---|---|"]
    lines += [f"| {old} | {new} | {when} |" for (old, new), when in table.items()]
    return "\n".join(lines) + "\n"
