"""The daemon's engine methods (``version``, ``subscribe`` and ``unsubscribe`` belong
to the server and its connections): each takes the engine and checked params and returns the JSON
the matching CLI command prints with ``--json`` (app/cli_json.py); engine events become
notifications for subscribed connections.

A change goes through the typed commands of app/core/commands.py; reads use the engine's
query methods, as the CLI does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.cli_json import ballot_json, group_json, member_json, message_json, request_json
from app.core.api import (
    ApproveJoin,
    CastVote,
    CreateInvite,
    Engine,
    JoinWithInvite,
    MemberRole,
    NotFound,
    RelayUnavailable,
    SendHeld,
    SendText,
    SyncNow,
)
from app.core.events import (
    ConnectionChanged,
    Event,
    GroupChanged,
    GroupJoined,
    IntegrityWarning,
    JoinRequested,
    MessageAdded,
    MessageStatusChanged,
    RemovedFromGroup,
)
from app.daemon.protocol import ErrorCode, RpcError

__all__ = ["METHODS", "Params", "event_notification"]

HOUR_MS = 3600 * 1000


class Params:
    """A request's params, read by type; a missing, mistyped or unknown one is -32602.
    Methods read every param before they touch the engine, so a bad one is always -32602."""

    def __init__(self, raw: dict[str, Any], allowed: frozenset[str]) -> None:
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"unknown parameter {unknown[0]!r}")
        self._raw = raw

    def text(self, name: str) -> str:
        value = self._raw.get(name)
        if not isinstance(value, str):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{name!r} must be a string")
        return value

    def optional_int(self, name: str, *, minimum: int) -> int | None:
        value = self._raw.get(name)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise RpcError(
                ErrorCode.INVALID_PARAMS, f"{name!r} must be a whole number >= {minimum}"
            )
        return value

    def number(self, name: str, default: float, *, minimum: float) -> float:
        value = self._raw.get(name, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < minimum:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{name!r} must be a number >= {minimum}")
        return float(value)

    def flag(self, name: str) -> bool:
        value = self._raw.get(name, False)
        if not isinstance(value, bool):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{name!r} must be true or false")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self._raw.get(name, default)
        if value not in options:
            allowed = ", ".join(options)
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{name!r} must be one of {allowed}")
        return str(value)


Handler = Callable[[Engine, Params], Awaitable[Any]]


@dataclass(frozen=True)
class Method:
    params: frozenset[str]
    run: Handler


async def _groups(engine: Engine, p: Params) -> Any:
    return [group_json(g) for g in engine.groups()]


async def _members(engine: Engine, p: Params) -> Any:
    return [member_json(m) for m in engine.members(engine.resolve_group(p.text("group")))]


async def _messages(engine: Engine, p: Params) -> Any:
    group, limit = p.text("group"), p.optional_int("limit", minimum=1)
    group_id = engine.resolve_group(group)
    return [message_json(m) for m in engine.messages(group_id, limit=limit)]


async def _send(engine: Engine, p: Params) -> Any:
    group, text = p.text("group"), p.text("text")
    command = SendText(engine.resolve_group(group), text)
    try:
        return message_json(await command.run(engine))
    except RelayUnavailable as exc:
        raise RpcError(
            ErrorCode.QUEUED, f"{exc}; the message is queued and goes out with the next sync"
        ) from None
    except SendHeld as exc:  # docs/protocol.md 7.8: queued until an organizer's head
        raise RpcError(ErrorCode.QUEUED, str(exc)) from None


async def _sync(engine: Engine, p: Params) -> Any:
    report = await SyncNow().run(engine)
    return {
        "messages": report.messages,
        "commits": report.commits,
        "joined": [group_id.hex() for group_id in report.joined],
        "admitted": report.admitted,
        "unsent": report.unsent,
        "warnings": list(report.warnings),
    }


async def _invite(engine: Engine, p: Params) -> Any:
    group, uses = p.text("group"), p.optional_int("uses", minimum=1)
    role = MemberRole(p.choice("role", ("member", "organizer"), "member"))
    ttl_ms = int(p.number("expires_hours", 168.0, minimum=0) * HOUR_MS)
    command = CreateInvite(
        engine.resolve_group(group),
        role=role,
        ttl_ms=ttl_ms,
        max_uses=1 if uses is None else uses,
        needs_approval=p.flag("approval"),
    )
    return {"code": await command.run(engine)}


async def _join(engine: Engine, p: Params) -> Any:
    await JoinWithInvite(p.text("code")).run(engine)
    return {"requested": True}


async def _requests(engine: Engine, p: Params) -> Any:
    return [request_json(r) for r in engine.join_requests(engine.resolve_group(p.text("group")))]


async def _approve(engine: Engine, p: Params) -> Any:
    request_id = p.optional_int("request", minimum=1)
    if request_id is None:
        raise RpcError(ErrorCode.INVALID_PARAMS, "'request' must be a whole number >= 1")
    await ApproveJoin(request_id).run(engine)
    return {"approved": request_id}


async def _ballots(engine: Engine, p: Params) -> Any:
    return [ballot_json(v) for v in engine.ballots.ballots(engine.resolve_group(p.text("group")))]


async def _vote(engine: Engine, p: Params) -> Any:
    service = engine.ballots
    ballot, text = p.text("ballot"), p.text("choice")
    try:
        group_id, ballot_id = service.resolve_ballot(ballot)
    except NotFound:
        await SyncNow().run(engine)  # a ballot created since the last sync
        group_id, ballot_id = service.resolve_ballot(ballot)
    command = CastVote(ballot_id, service.parse_choice(ballot_id, text), delay_ms=0)
    try:
        receipt = await command.run(engine)
    except RelayUnavailable as exc:
        raise RpcError(
            ErrorCode.QUEUED, f"{exc}; the vote is kept and goes out with the next sync"
        ) from None
    view = service.ballot(group_id, ballot_id)
    return {"revision": receipt.revision, "posted": receipt.posted, "voted": view.progress}


def _method(run: Handler, *params: str) -> Method:
    return Method(frozenset(params), run)


METHODS: dict[str, Method] = {
    "groups": _method(_groups),
    "members": _method(_members, "group"),
    "messages": _method(_messages, "group", "limit"),
    "send": _method(_send, "group", "text"),
    "sync": _method(_sync),
    "invite": _method(_invite, "group", "role", "uses", "expires_hours", "approval"),
    "join": _method(_join, "code"),
    "requests": _method(_requests, "group"),
    "approve": _method(_approve, "request"),
    "ballots": _method(_ballots, "group"),
    "vote": _method(_vote, "ballot", "choice"),
}


def event_notification(event: Event) -> tuple[str, dict[str, Any]] | None:
    """The notification (method, params) for an engine event; None for progress ticks."""
    match event:
        case MessageAdded(message=m):
            return "message", {"group": m.group_id.hex(), "message": message_json(m)}
        case MessageStatusChanged(group_id=g, row_id=row, status=status):
            return "message_status", {"group": g.hex(), "row": row, "status": status}
        case GroupJoined(group_id=g, name=name):
            return "group_joined", {"group": g.hex(), "name": name}
        case GroupChanged(group_id=g):
            return "group_changed", {"group": g.hex()}
        case RemovedFromGroup(group_id=g):
            return "removed", {"group": g.hex()}
        case JoinRequested(group_id=g, request_id=r, name=name, fingerprint=fp):
            return "join_request", {"group": g.hex(), "id": r, "name": name, "fingerprint": fp}
        case IntegrityWarning(group_id=g, kind=kind, detail=detail):
            return "warning", {"group": g.hex() if g else None, "kind": kind, "detail": detail}
        case ConnectionChanged(relay_url=url, state=state):
            return "connection", {"relay": url, "state": state.value}
    return None
