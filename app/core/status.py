"""Every status the client stores, each with its transition table.

The store writes a status only through ``move`` (or an SQL ``UPDATE`` guarded by the
old status the table allows), so a row cannot jump to a state its life cycle does not
have: a sent message never becomes pending again, a superseded vote is never posted.
Messages and votes share the outbox's one table (``OUTBOX_TRANSITIONS``); the moves
only one kind makes are held to it (``OUTBOX_KINDS``).
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
    "OUTBOX_KINDS",
    "OUTBOX_TRANSITIONS",
    "TABLES",
    "VOTE_TRANSITIONS",
    "GroupStatus",
    "InviteStatus",
    "JoinStatus",
    "MessageStatus",
    "OutboxKind",
    "OutboxStatus",
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


class OutboxStatus(StrEnum):
    """Anything of ours in the outbox: a signed message or an anonymous vote. A
    message row's ``status`` takes these values (``MessageStatus``, which adds
    ``received`` for everyone else's); a vote's is one of these (``VoteStatus``)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"


VoteStatus = OutboxStatus
"""An anonymous vote in the outbox: its status is an outbox status."""


class OutboxKind(StrEnum):
    """The two kinds of item the one outbox delivers (docs/protocol.md section 7.3)."""

    MESSAGE = "message"
    VOTE = "vote"


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
M, Q, J, Inv, G = MessageStatus, OutboxStatus, JoinStatus, InviteStatus, GroupStatus

# (from, to) -> when it happens. The one table of the outbox, for messages and votes
# alike; a move that only one kind makes says so, and OUTBOX_KINDS holds it to that kind.
OUTBOX_TRANSITIONS: Final[dict[tuple[OutboxStatus, OutboxStatus], str]] = {
    (Q.PENDING, Q.SENT): "the relay acknowledged the item (a message: or it came back in a sync)",
    (Q.PENDING, Q.FAILED): (
        "refused for good, its ballot closed, or we left the group (never for being offline)"
    ),
    (Q.PENDING, Q.SUPERSEDED): "a vote: a newer vote on its ballot replaced it before it went out",
    (Q.FAILED, Q.PENDING): "a message: the person asks to send it again",
    (Q.SENT, Q.PENDING): (
        "a vote: the relay acknowledged it but never delivered it; a message: the relay was"
        " restored from an older copy that lacks it (section 7.2); post it again"
    ),
}
OUTBOX_KINDS: Final[dict[tuple[OutboxStatus, OutboxStatus], frozenset[OutboxKind]]] = {
    (Q.PENDING, Q.SENT): frozenset(OutboxKind),
    (Q.PENDING, Q.FAILED): frozenset(OutboxKind),
    (Q.PENDING, Q.SUPERSEDED): frozenset({OutboxKind.VOTE}),
    (Q.FAILED, Q.PENDING): frozenset({OutboxKind.MESSAGE}),
    (Q.SENT, Q.PENDING): frozenset(OutboxKind),
}


def _moves_of(kind: OutboxKind) -> dict[tuple[OutboxStatus, OutboxStatus], str]:
    return {pair: when for pair, when in OUTBOX_TRANSITIONS.items() if kind in OUTBOX_KINDS[pair]}


# The outbox table as each kind of row sees it (a message row's statuses are
# ``MessageStatus``, equal by value to the outbox's).
MESSAGE_TRANSITIONS: Final[dict[tuple[MessageStatus, MessageStatus], str]] = {
    (M(old), M(new)): when for (old, new), when in _moves_of(OutboxKind.MESSAGE).items()
}
VOTE_TRANSITIONS: Final[dict[tuple[VoteStatus, VoteStatus], str]] = _moves_of(OutboxKind.VOTE)
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
    "outbox item (message or vote)": OUTBOX_TRANSITIONS,  # type: ignore[dict-item]
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
