"""``caucus case ...``: dispute cases from the command line (docs/union-tools.md).

``open`` prints the case id as its last line (the id of the case's own group, which
``send``, ``messages``, ``doc publish`` and ``ballot create`` take like any group);
``list`` and ``show`` read what this client has synced (run ``caucus sync`` first: an
organizer's client joins a case on its next syncs). ``status`` and ``close`` change the
status (the opener or an organizer of the case); ``share`` is the opener's consent to a
status line in the parent group.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli_json import iso, message_json
from app.core.api import CaseDetail, CaseStatus, CaseView, ClientError, Engine, Sharing

__all__ = ["add_case_commands", "case_json"]


def case_json(view: CaseView) -> dict[str, Any]:
    return {
        "id": view.case_id.hex(),
        "group": view.parent_group_id.hex(),
        "title": view.title,
        "status": view.status,
        "sharing": view.sharing,
        "opener": view.opener_fingerprint,
        "opener_name": view.opener_name,
        "mine": view.opened_by_me,
        "can_change_status": view.can_change_status,
        "next_statuses": list(view.next_statuses),
        "joined": view.joined,
        "members": view.members,
        "opened_at": iso(view.opened_at),
    }


def detail_json(detail: CaseDetail) -> dict[str, Any]:
    data = case_json(detail.case)
    data["timeline"] = [dict(message_json(m), kind=m.kind, opens=m.opens) for m in detail.timeline]
    return data


def _status(text: str) -> CaseStatus:
    for status in CaseStatus:
        if status.label == text.strip().lower():
            return status
    raise ClientError("a case status is open, negotiating or resolved")


def _line(view: CaseView) -> str:
    waiting = "" if view.joined else " (joining)"
    return f"{view.case_id.hex()}  {view.status:<11}  {view.title}{waiting}"


async def cmd_case_open(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    sharing = Sharing.NONE
    if args.share_title:
        sharing = Sharing.STATUS_AND_TITLE
    elif args.share_status:
        sharing = Sharing.STATUS
    case_id = await engine.cases.open(group_id, args.title, sharing=sharing)
    if args.json:
        print(json.dumps(case_json(engine.cases.view(case_id))))
    else:
        print(case_id.hex())
    return 0


async def cmd_case_list(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group) if args.group else None
    cases = engine.cases.list_cases(group_id)
    if args.json:
        print(json.dumps([case_json(view) for view in cases]))
    else:
        for view in cases:
            print(_line(view))
    return 0


async def cmd_case_status(engine: Engine, args: argparse.Namespace) -> int:
    case_id = engine.cases.resolve(args.case)
    view = await engine.cases.set_status(case_id, _status(args.status), args.note or "")
    print(json.dumps(case_json(view)) if args.json else f"Case is now {view.status}")
    return 0


async def cmd_case_close(engine: Engine, args: argparse.Namespace) -> int:
    case_id = engine.cases.resolve(args.case)
    view = await engine.cases.set_status(case_id, CaseStatus.RESOLVED, args.note or "")
    print(json.dumps(case_json(view)) if args.json else f"Case is now {view.status}")
    return 0


async def cmd_case_share(engine: Engine, args: argparse.Namespace) -> int:
    case_id = engine.cases.resolve(args.case)
    sharing = Sharing.STATUS
    if args.stop:
        sharing = Sharing.NONE
    elif args.with_title:
        sharing = Sharing.STATUS_AND_TITLE
    view = await engine.cases.share(case_id, sharing)
    print(json.dumps(case_json(view)) if args.json else f"Sharing: {view.sharing}")
    return 0


async def cmd_case_show(engine: Engine, args: argparse.Namespace) -> int:
    detail = engine.cases.detail(engine.cases.resolve(args.case))
    if args.json:
        print(json.dumps(detail_json(detail)))
        return 0
    print(_line(detail.case))
    for message in detail.timeline:
        print(f"{iso(message.sent_at)}  {message.sender_name}: {message.text}")
    return 0


def add_case_commands(sub: Any) -> None:
    """Add ``caucus case ...`` to the top-level subparsers."""
    case = sub.add_parser("case", help="dispute cases: you and the organizers only")
    csub = case.add_subparsers(dest="case_command", required=True, metavar="ACTION")

    p = csub.add_parser("open", help="open a case in a group; prints the case id last")
    p.add_argument("group")
    p.add_argument("title")
    share = p.add_mutually_exclusive_group()
    share.add_argument(
        "--share-status", action="store_true", help="the group sees status lines (no names)"
    )
    share.add_argument(
        "--share-title", action="store_true", help="the group sees status lines and the title"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_case_open)

    p = csub.add_parser("list", help="the cases you can see (of one group, or all)")
    p.add_argument("group", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_case_list)

    p = csub.add_parser("status", help="change a case's status (opener or organizers)")
    p.add_argument("case", help="case id (or its first 8+ hex digits) or exact title")
    p.add_argument("status", help="open, negotiating or resolved")
    p.add_argument("--note", help="a note for the timeline")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_case_status)

    p = csub.add_parser("close", help="mark a case resolved (opener or organizers)")
    p.add_argument("case")
    p.add_argument("--note", help="a note for the timeline")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_case_close)

    p = csub.add_parser("share", help="let the group see the case's status (opener)")
    p.add_argument("case")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--with-title", action="store_true", help="the title too")
    which.add_argument("--stop", action="store_true", help="stop sharing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_case_share)

    p = csub.add_parser("show", help="a case and its timeline")
    p.add_argument("case")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_case_show)
