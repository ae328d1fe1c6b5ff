"""What the command line and the desktop app show of a dispute case."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.views import MessageView

__all__ = ["CaseDetail", "CaseView"]


@dataclass(frozen=True)
class CaseView:
    """One case as this client holds it (its own group is ``case_id``)."""

    case_id: bytes
    parent_group_id: bytes
    title: str
    status: str  # open | negotiating | resolved
    sharing: str  # none | status | status-and-title
    opener_fingerprint: str
    opener_name: str  # as the case group's roster has it (empty until joined)
    opened_by_me: bool
    can_change_status: bool
    next_statuses: tuple[str, ...]  # where the status may go from here (the table)
    joined: bool  # False while an organizer's join of the case group is under way
    members: int
    opened_at: int


@dataclass(frozen=True)
class CaseDetail:
    """A case with its timeline: the case group's messages, status changes, documents
    and ballots, in mailbox order."""

    case: CaseView
    timeline: tuple[MessageView, ...]
