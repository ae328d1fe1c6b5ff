"""``caucus attachment get``: write a file attached to a message (protocol 4.1.2).

Files are attached with ``caucus send GROUP [TEXT] --attach FILE``; ``messages --json``
lists them per message (``attachments``: name, size, media type, in order).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.core.api import Engine, parse_message_id

__all__ = ["add_attachment_commands"]


async def cmd_attachment_get(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    message_id = parse_message_id(args.message_id)
    written = await engine.attachments.get(
        group_id, message_id, args.out, index=args.index, force=args.force
    )
    print(written)
    return 0


def add_attachment_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    attachment = sub.add_parser("attachment", help="files attached to messages")
    asub = attachment.add_subparsers(dest="attachment_command", required=True, metavar="ACTION")
    p = asub.add_parser("get", help="download, check and write an attached file")
    p.add_argument("group")
    p.add_argument("message_id", help="the message's id (from 'messages --json')")
    p.add_argument("--out", required=True, type=Path, help="file, or folder to keep its name")
    p.add_argument("--index", type=int, default=0, help="which file of the message, from 0")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(handler=cmd_attachment_get)
