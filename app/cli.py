"""The headless client's command line: every feature without a screen.

Profile directory from ``--home`` or ``CAUCUS_HOME``; passphrase from
``CAUCUS_PASSPHRASE`` or a prompt. On any error: one line on stderr, a non-zero exit
status, no traceback (set ``CAUCUS_DEBUG=1`` to see one). A profile is used by one
process at a time: while another command or the desktop app has it open, a command fails
at once (exit status 1, nothing stored) rather than waiting (docs/protocol.md section 7.1).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import platformdirs
from sqlcipher3 import dbapi2 as sqlcipher

from app.cli_attachments import add_attachment_commands
from app.cli_backup import add_backup_commands
from app.cli_ballots import add_ballot_commands
from app.cli_cases import add_case_commands
from app.cli_devices import add_device_commands
from app.cli_docs import add_doc_commands
from app.cli_json import group_json, iso, member_json, message_json, request_json
from app.cli_pins import add_describe_command, add_pin_commands
from app.cli_rates import add_rates_commands
from app.core.api import (
    DEFAULT_CHANNEL,
    ClientError,
    Engine,
    RelayUnavailable,
    SendHeld,
    create_profile,
    parse_message_id,
    profile_exists,
    wall_clock_ms,
)
from app.daemon.client import call
from app.daemon.server import SOCKET_NAME, Daemon, prepare_socket
from crypto.errors import CaucusError
from crypto.group_log import Role
from relay.version import version_line

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_QUEUED = 3
EXIT_INTERNAL = 70


def default_home() -> Path:
    env = os.environ.get("CAUCUS_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("caucus", appauthor=False))


def read_passphrase(*, confirm: bool = False) -> str:
    env = os.environ.get("CAUCUS_PASSPHRASE")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise ClientError("no passphrase: set CAUCUS_PASSPHRASE or run in a terminal")
    first = getpass.getpass("Passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise ClientError("the passphrases do not match")
    return first


def _kdf_cost() -> str:
    # "interactive" exists for tests and CI; people get the default "moderate".
    return os.environ.get("CAUCUS_KDF_COST", "moderate")


# -- commands -------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    home: Path = args.home
    if profile_exists(home):
        raise ClientError(f"a profile already exists in {home}")
    db = create_profile(
        home,
        name=args.name,
        relay_url=args.relay,
        passphrase=read_passphrase(confirm=True),
        rng=os.urandom,
        now=wall_clock_ms(),
        cost=_kdf_cost(),
    )
    engine = Engine(db)
    print(f"Profile created in {home}")
    print(engine.fingerprint)
    db.close()
    return 0


async def cmd_group_create(engine: Engine, args: argparse.Namespace) -> int:
    group_id = await engine.create_group(args.name)
    print(group_id.hex())
    return 0


async def cmd_group_list(engine: Engine, args: argparse.Namespace) -> int:
    groups = engine.groups()
    if args.json:
        print(json.dumps([group_json(g) for g in groups]))
    else:
        for g in groups:
            print(f"{g.id_hex}  {g.name}  ({g.member_count} members, {g.status})")
    return 0


async def cmd_group_rename(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    await engine.rename_group(group_id, args.name)
    print(f"Renamed to {engine.group(group_id).name}.")
    return 0


async def cmd_group_mute(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    engine.set_muted(group_id, args.muted)
    name = engine.group(group_id).name
    print(f"{'Muted' if args.muted else 'Unmuted'} {name}.")
    return 0


async def cmd_invite(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    code = await engine.create_invite(
        group_id,
        role=Role.ORGANIZER if args.role == "organizer" else Role.MEMBER,
        ttl_ms=int(args.expires_hours * 3600 * 1000),
        max_uses=args.uses,
        needs_approval=args.approval,
    )
    print(code)
    return 0


def read_invite_code(code: str) -> str:
    """The code as given, or with "-" read from standard input (hidden at a terminal), so
    it never shows in the process list (``/proc/PID/cmdline``) or the shell history."""
    if code != "-":
        return code
    tty = sys.stdin.isatty()
    given = (getpass.getpass("Invite code: ") if tty else sys.stdin.readline(65536)).strip()
    if not given:
        raise ClientError("no invite code on standard input")
    return given


async def cmd_join(engine: Engine, args: argparse.Namespace) -> int:
    await engine.join(read_invite_code(args.code))
    print("Join request sent; you are added when an organizer's client processes it.")
    if args.wait:
        deadline = asyncio.get_running_loop().time() + args.wait
        while asyncio.get_running_loop().time() < deadline:
            report = await engine.sync()
            if report.joined:
                for group_id in report.joined:
                    print(f"Joined {engine.group(group_id).name}")
                    print(group_id.hex())
                return 0
            await asyncio.sleep(0.5)
        raise ClientError("no welcome arrived in time; run 'caucus sync' later")
    return 0


def _channel_id(engine: Engine, group_id: bytes, name: str | None) -> bytes | None:
    """A channel of the group by its name; None (every channel) when no name is given."""
    if name is None:
        return None
    for channel in engine.group(group_id).channels:
        if channel.name == name:
            return channel.channel_id
    raise ClientError(f"no channel {name!r} in this group")


async def _queued(action: Awaitable[object]) -> int:
    """Run a send; an unreachable relay leaves it queued (exit status 3), as for send."""
    try:
        await action
    except RelayUnavailable as exc:
        print(
            f"caucus: {exc}; the message is queued and goes out with the next sync", file=sys.stderr
        )
        return EXIT_QUEUED
    return 0


async def cmd_reply(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    target = parse_message_id(args.message_id)
    return await _queued(engine.conversation.reply(group_id, target, args.text))


async def cmd_edit(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    target = parse_message_id(args.message_id)
    return await _queued(engine.conversation.edit(group_id, target, args.text))


async def cmd_delete(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    target = parse_message_id(args.message_id)
    return await _queued(engine.conversation.delete(group_id, target))


async def cmd_react(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    target = parse_message_id(args.message_id)
    return await _queued(engine.conversation.react(group_id, target, args.emoji, not args.remove))


async def cmd_channel_create(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    channel_id = await engine.create_channel(group_id, args.name, announce_only=args.announcements)
    print(channel_id.hex())
    return 0


async def cmd_channel_list(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    channels = engine.group(group_id).channels
    if args.json:
        print(
            json.dumps(
                [
                    {"id": c.channel_id.hex(), "name": c.name, "announcements": c.announce_only}
                    for c in channels
                ],
                ensure_ascii=False,
            )
        )
    else:
        for c in channels:
            print(
                f"{c.channel_id.hex()}  #{c.name}{'  (announcements)' if c.announce_only else ''}"
            )
    return 0


async def cmd_send(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    channel_id = _channel_id(engine, group_id, args.channel) or DEFAULT_CHANNEL
    if args.unconfirmed:
        engine.freshness.send_anyway(group_id)  # docs/protocol.md 7.8: the user's override
    try:
        if args.attach:
            await engine.attachments.send(group_id, args.attach, args.text, channel_id)
        else:
            await engine.send_text(group_id, args.text, channel_id)
    except RelayUnavailable as exc:
        print(
            f"caucus: {exc}; the message is queued and goes out with the next sync", file=sys.stderr
        )
        return EXIT_QUEUED
    except SendHeld as exc:
        print(f"caucus: {exc} (caucus send --unconfirmed)", file=sys.stderr)
        return EXIT_QUEUED
    return 0


async def cmd_sync(engine: Engine, args: argparse.Namespace) -> int:
    report = await engine.sync(wait=args.wait)
    for group_id in report.joined:
        print(f"Joined {engine.group(group_id).name} ({group_id.hex()})")
    print(
        f"{report.messages} new messages, {report.commits} group changes, "
        f"{report.admitted} members admitted, {report.unsent} unsent"
    )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


async def cmd_messages(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    channel_id = _channel_id(engine, group_id, args.channel)
    messages = engine.messages(group_id, channel_id, limit=args.limit)
    if args.json:
        print(
            json.dumps(
                [message_json(m) for m in messages],
                ensure_ascii=False,
            )
        )
    else:
        for m in messages:
            flag = f"  [{m.warning}]" if m.warning else ""
            files = "".join(f"  [file {a.name}, {a.size} bytes]" for a in m.attachments)
            who = "--" if m.opens == "members" else f"{m.sender_name}:"  # a line about the group
            print(f"{iso(m.sent_at)}  {who} {m.text}{files}{flag}")
    return 0


async def cmd_members(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    members = engine.members(group_id)
    if args.json:
        print(
            json.dumps(
                [member_json(m) for m in members],
                ensure_ascii=False,
            )
        )
    else:
        for m in members:
            print(f"{m.fingerprint}  {m.role:<9}  {m.name}{'  (you)' if m.is_me else ''}")
    return 0


async def cmd_remove(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    await engine.remove_member(group_id, args.fingerprint)
    print("Member removed; the group has a new epoch key.")
    return 0


async def cmd_role(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    role = Role.ORGANIZER if args.role == "organizer" else Role.MEMBER
    await engine.set_role(group_id, args.fingerprint, role)
    return 0


async def cmd_requests(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    requests = engine.join_requests(group_id)
    if args.json:
        print(
            json.dumps(
                [request_json(r) for r in requests],
                ensure_ascii=False,
            )
        )
    else:
        for r in requests:
            print(f"{r.request_id}  {r.status:<8}  {r.name}  {r.fingerprint}")
    return 0


async def cmd_approve(engine: Engine, args: argparse.Namespace) -> int:
    await engine.approve(args.request)
    return 0


async def cmd_fingerprint(engine: Engine, args: argparse.Namespace) -> int:
    print(engine.fingerprint)
    return 0


async def cmd_leave(engine: Engine, args: argparse.Namespace) -> int:
    await engine.leave(engine.resolve_group(args.group))
    return 0


async def cmd_recover(engine: Engine, args: argparse.Namespace) -> int:
    await engine.recover_group(engine.resolve_group(args.group), args.remove)
    print("The group moved to a new mailbox; members follow at their next sync.")
    return 0


def cmd_daemon(args: argparse.Namespace) -> int:
    path: Path = args.socket or args.home / SOCKET_NAME
    prepare_socket(path)  # before the passphrase: a second daemon is refused at once

    async def serve() -> None:
        engine = Engine.open(args.home, read_passphrase())
        try:
            await Daemon(engine, path, version_line("caucus")).serve()
        finally:
            await engine.close()

    asyncio.run(serve())
    return 0


def cmd_rpc(args: argparse.Namespace) -> int:
    return call(args.socket or args.home / SOCKET_NAME, args.method, args.params)


# -- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caucus", description="Caucus headless client")
    parser.add_argument("--version", action="version", version=version_line("caucus"))
    parser.add_argument("--home", type=Path, default=None, help="profile directory")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create a profile")
    p.add_argument("--name", required=True)
    p.add_argument("--relay", required=True, help="relay URL, e.g. http://127.0.0.1:8080")
    p.set_defaults(sync_handler=cmd_init)

    group = sub.add_parser("group", help="create or list groups")
    gsub = group.add_subparsers(dest="group_command", required=True, metavar="ACTION")
    p = gsub.add_parser("create", help="create a group; prints its id last")
    p.add_argument("name")
    p.set_defaults(handler=cmd_group_create)
    p = gsub.add_parser("list", help="list groups")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_group_list)
    p = gsub.add_parser("rename", help="rename a group (organizers)")
    p.add_argument("group")
    p.add_argument("name")
    p.set_defaults(handler=cmd_group_rename)
    p = gsub.add_parser("mute", help="no notifications from a group (the desktop app)")
    p.add_argument("group")
    p.set_defaults(handler=cmd_group_mute, muted=True)
    p = gsub.add_parser("unmute", help="notifications from a group again")
    p.add_argument("group")
    p.set_defaults(handler=cmd_group_mute, muted=False)
    add_describe_command(gsub)

    p = sub.add_parser("invite", help="create an invite code; prints it last")
    p.add_argument("group")
    p.add_argument("--role", choices=("member", "organizer"), default="member")
    p.add_argument("--uses", type=int, default=1)
    p.add_argument("--expires-hours", type=float, default=168.0)
    p.add_argument("--approval", action="store_true", help="an organizer must approve joins")
    p.set_defaults(handler=cmd_invite)

    p = sub.add_parser("join", help="ask to join a group with an invite code")
    p.add_argument("code", help='the invite code, or "-" to read it from standard input')
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the welcome")
    p.set_defaults(handler=cmd_join)

    p = sub.add_parser("send", help="send a message")
    p.add_argument("group")
    p.add_argument("text", nargs="?", default="", help="may be left out with --attach")
    p.add_argument(
        "--attach",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="attach a file (at most 100 MiB; repeat for up to 8)",
    )
    p.add_argument("--channel", default=None, help="a channel's name (default: general)")
    p.add_argument(
        "--unconfirmed",
        action="store_true",
        help="send even though no organizer confirmed the group is current in the last "
        "10 minutes (releases the group's held queue for 10 minutes)",
    )
    p.set_defaults(handler=cmd_send)

    p = sub.add_parser("reply", help="answer a message (its id from 'messages --json')")
    p.add_argument("group")
    p.add_argument("message_id")
    p.add_argument("text")
    p.set_defaults(handler=cmd_reply)
    p = sub.add_parser("edit", help="change the text of one of your messages")
    p.add_argument("group")
    p.add_argument("message_id")
    p.add_argument("text")
    p.set_defaults(handler=cmd_edit)
    p = sub.add_parser("delete", help="delete one of your messages for everyone")
    p.add_argument("group")
    p.add_argument("message_id")
    p.set_defaults(handler=cmd_delete)
    p = sub.add_parser("react", help="react to a message with an emoji")
    p.add_argument("group")
    p.add_argument("message_id")
    p.add_argument("emoji")
    p.add_argument("--remove", action="store_true", help="take your reaction back")
    p.set_defaults(handler=cmd_react)
    add_attachment_commands(sub)
    add_pin_commands(sub)

    channel = sub.add_parser("channel", help="a group's channels")
    csub = channel.add_subparsers(dest="channel_command", required=True, metavar="ACTION")
    p = csub.add_parser("create", help="create a channel (organizers); prints its id last")
    p.add_argument("group")
    p.add_argument("name")
    p.add_argument(
        "--announcements",
        action="store_true",
        help="only organizers post; every client enforces it",
    )
    p.set_defaults(handler=cmd_channel_create)
    p = csub.add_parser("list", help="a group's channels")
    p.add_argument("group")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_channel_list)

    p = sub.add_parser("sync", help="fetch and process everything pending, then exit")
    p.add_argument("--wait", type=float, default=0.0, help="long-poll up to this many seconds")
    p.set_defaults(handler=cmd_sync)

    p = sub.add_parser("messages", help="show a group's messages")
    p.add_argument("group")
    p.add_argument("--channel", default=None, help="only this channel (by name)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(handler=cmd_messages)

    p = sub.add_parser("members", help="show a group's members")
    p.add_argument("group")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_members)

    p = sub.add_parser("remove", help="remove a member (organizers)")
    p.add_argument("group")
    p.add_argument("fingerprint")
    p.set_defaults(handler=cmd_remove)

    p = sub.add_parser("role", help="change a member's role (organizers)")
    p.add_argument("group")
    p.add_argument("fingerprint")
    p.add_argument("role", choices=("member", "organizer"))
    p.set_defaults(handler=cmd_role)

    p = sub.add_parser("requests", help="join requests waiting for approval")
    p.add_argument("group")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_requests)

    p = sub.add_parser("approve", help="approve a join request (organizers)")
    p.add_argument("request", type=int)
    p.set_defaults(handler=cmd_approve)

    p = sub.add_parser("leave", help="leave a group")
    p.add_argument("group")
    p.set_defaults(handler=cmd_leave)

    p = sub.add_parser(
        "recover", help="move a group a rule-breaking commit wedged to a new mailbox (organizers)"
    )
    p.add_argument("group")
    p.add_argument("--remove", metavar="FINGERPRINT", help="remove this member in the same move")
    p.set_defaults(handler=cmd_recover)

    p = sub.add_parser("fingerprint", help="print this profile's fingerprint")
    p.set_defaults(handler=cmd_fingerprint)
    add_doc_commands(sub)
    add_ballot_commands(sub)
    add_device_commands(sub)
    add_rates_commands(sub)
    add_backup_commands(sub, read_passphrase, _kdf_cost)
    add_case_commands(sub)

    p = sub.add_parser("daemon", help="unlock once and serve JSON-RPC on a Unix socket")
    p.add_argument("--socket", type=Path, default=None, help="default: <home>/daemon.sock")
    p.set_defaults(sync_handler=cmd_daemon)

    p = sub.add_parser("rpc", help="one request to a running daemon (no passphrase)")
    p.add_argument("method", help="e.g. groups, send, messages, subscribe")
    p.add_argument("params", nargs="?", default=None, help='a JSON object, e.g. {"group": "X"}')
    p.add_argument("--socket", type=Path, default=None, help="default: <home>/daemon.sock")
    p.set_defaults(sync_handler=cmd_rpc)
    return parser


async def _run_with_engine(
    home: Path,
    handler: Callable[[Engine, argparse.Namespace], Awaitable[int]],
    args: argparse.Namespace,
) -> int:
    engine = Engine.open(home, read_passphrase())
    try:
        return await handler(engine, args)
    finally:
        await engine.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.home = args.home.expanduser() if args.home else default_home()
    try:
        if hasattr(args, "sync_handler"):
            result: Any = args.sync_handler(args)
            return int(result)
        return asyncio.run(_run_with_engine(args.home, args.handler, args))
    except CaucusError as exc:
        _debug()
        print(f"caucus: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except sqlcipher.DatabaseError as exc:
        # Damage found after opening (a page whose HMAC fails), or a busy timeout.
        _debug()
        print(f"caucus: the profile database failed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("caucus: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        _debug()
        print(f"caucus: internal error ({type(exc).__name__}: {exc})", file=sys.stderr)
        return EXIT_INTERNAL


def _debug() -> None:
    if os.environ.get("CAUCUS_DEBUG"):
        traceback.print_exc()
