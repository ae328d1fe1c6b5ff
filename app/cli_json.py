"""The JSON shapes the command line prints with ``--json`` and the daemon answers with.

One function per view value, so ``caucus messages --json`` and the daemon's ``messages``
method can never drift apart (tests/core/test_daemon.py compares them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.core.api import BallotView, GroupView, JoinRequestView, MemberView, MessageView

__all__ = [
    "ballot_json",
    "group_json",
    "iso",
    "iso_seconds",
    "member_json",
    "message_json",
    "request_json",
]


def iso(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC with milliseconds (messages)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_seconds(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC to the second (ballot deadlines)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def group_json(g: GroupView) -> dict[str, Any]:
    return {
        "id": g.id_hex,
        "name": g.name,
        "status": g.status,
        "role": g.my_role,
        "members": g.member_count,
        "unread": g.unread,
        "muted": g.muted,
        "description": g.description,
    }


def message_json(m: MessageView) -> dict[str, Any]:
    return {
        "id": m.message_id.hex() if m.message_id is not None else None,
        "kind": m.kind,
        "sender": m.sender_name,
        "text": m.text,
        "sent_at": iso(m.sent_at),
        "fingerprint": m.sender_fingerprint,
        "status": m.status,
        "warning": m.warning,
        "reply_to": m.reply_to.hex() if m.reply_to is not None else None,
        "edited": m.edited,
        "deleted": m.deleted,
        "reactions": {emoji: list(names) for emoji, names in m.reactions},
        "attachments": [
            {"name": a.name, "size": a.size, "media_type": a.media_type} for a in m.attachments
        ],
    }


def member_json(m: MemberView) -> dict[str, Any]:
    return {"name": m.name, "fingerprint": m.fingerprint, "role": m.role}


def request_json(r: JoinRequestView) -> dict[str, Any]:
    return {"id": r.request_id, "name": r.name, "fingerprint": r.fingerprint, "status": r.status}


def ballot_json(view: BallotView) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": view.id_hex,
        "question": view.question,
        "kind": view.kind,
        "options": list(view.options),
        "status": view.status,
        "creator": view.creator_name,
        "creator_fingerprint": view.creator_fingerprint,
        "opens_at": iso_seconds(view.opens_at),
        "closes_at": iso_seconds(view.closes_at),
        "quorum": view.quorum,
        "eligible": view.eligible,
        "turnout": view.voted,
        "voted": view.progress,
        "i_am_eligible": view.i_am_eligible,
        "my_revision": view.my_revision,
        "my_vote_pending": view.my_vote_pending,
        "eligibility_changed": view.eligibility_changed,
        "integrity": view.integrity,
    }
    if view.kind == "numeric":
        data["range"] = [view.numeric_min, view.numeric_max]
    if view.result is not None:
        data["winners"] = view.result.get("winners", [])
    return data
