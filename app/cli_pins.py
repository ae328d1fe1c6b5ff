"""``caucus pin``, ``unpin``, ``pins`` and ``group describe`` (protocol 4.1.3).

Organizers pin messages and describe the group; every member lists the pins and reads
the description (``group list --json`` has it as ``description``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.cli_json import iso
from app.core.api import Engine, PinView, parse_message_id

__all__ = ["add_describe_command", "add_pin_commands", "pin_json"]


def pin_json(pin: PinView) -> dict[str, Any]:
    return {
        "id": pin.message_id.hex(),
        "sender": pin.sender_name,
        "text": pin.text,
        "pinned_by": pin.pinned_by,
        "pinned_at": iso(pin.pinned_at),
    }


async def cmd_pin(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    message_id = parse_message_id(args.message_id)
    if args.on:
        await engine.pins.pin(group_id, message_id)
    else:
        await engine.pins.unpin(group_id, message_id)
    return 0


async def cmd_pins(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    pins = engine.pins.pins(group_id)
    if args.json:
        print(json.dumps([pin_json(p) for p in pins], ensure_ascii=False))
    else:
        for p in pins:
            first = p.text.splitlines()[0] if p.text else "(files)"
            print(f"{p.message_id.hex()}  {p.sender_name}: {first}  (pinned by {p.pinned_by})")
    return 0


async def cmd_describe(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    text = sys.stdin.read() if args.text == "-" else args.text
    await engine.description.describe(group_id, text)
    return 0


def add_pin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, on, help_text in (
        ("pin", True, "pin a message for the whole group (organizers)"),
        ("unpin", False, "unpin a pinned message (organizers)"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("group")
        p.add_argument("message_id", help="the message's id (from 'messages --json')")
        p.set_defaults(handler=cmd_pin, on=on)
    p = sub.add_parser("pins", help="list a group's pinned messages")
    p.add_argument("group")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_pins)


def add_describe_command(gsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = gsub.add_parser("describe", help="set the group's description (organizers)")
    p.add_argument("group")
    p.add_argument("text", help='the description ("" removes it, "-" reads standard input)')
    p.set_defaults(handler=cmd_describe)
