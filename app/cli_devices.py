"""``caucus device ...``: link a second computer to this member (docs/protocol.md 8).

``link`` (on the first device) prints a link code as its last line; the linking is done by
the first device's next ``caucus sync`` after the new device asked. ``add CODE`` (on the
new computer) creates a profile if there is none (passphrase from ``CAUCUS_PASSPHRASE`` or a
prompt; ``--name`` names the device), asks to be linked and, with ``--wait N``, syncs for
up to N seconds until the bundle arrived; without it, ``caucus sync`` later finishes.
``list --json`` shows this member's devices; ``remove DEVICE_ID`` removes a linked device
from every group, so it reads nothing sent afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from typing import Any

from app.core.api import (
    ClientError,
    Engine,
    create_profile,
    link_code_relay_url,
    profile_exists,
    wall_clock_ms,
)

__all__ = ["add_device_commands"]

EXIT_QUEUED = 3  # as app.cli: accepted, waiting for the relay or the other device


async def cmd_device_link(engine: Engine, args: argparse.Namespace) -> int:
    code = await engine.link_device()
    print("On the new computer, run: caucus device add CODE")
    print("Then run caucus sync here. The code works once, for 10 minutes:")
    print(code)
    return 0


def _read_code(text: str) -> str:
    if text == "-":  # from standard input: not in /proc/PID/cmdline
        return sys.stdin.readline().strip()
    return text


def cmd_device_add(args: argparse.Namespace) -> int:
    """Runs without an open engine: it may have to create the profile first."""
    from app.cli import _kdf_cost, read_passphrase  # app.cli registers this module

    code_text = _read_code(args.code)
    relay_url = link_code_relay_url(code_text)
    home = args.home
    if profile_exists(home):
        passphrase = read_passphrase()
        engine = Engine.open(home, passphrase)
    else:
        passphrase = read_passphrase(confirm=True)
        db = create_profile(
            home,
            name=args.name or socket.gethostname()[:64] or "device",
            relay_url=relay_url,
            passphrase=passphrase,
            rng=os.urandom,
            now=wall_clock_ms(),
            cost=_kdf_cost(),
        )
        engine = Engine(db)
    return asyncio.run(_add(engine, code_text, args.wait))


async def _add(engine: Engine, code_text: str, wait: float) -> int:
    try:
        await engine.devices.add(code_text)
        deadline = time.monotonic() + wait
        while True:
            report = await engine.sync(wait=min(5.0, max(0.0, deadline - time.monotonic())))
            for warning in report.warnings:  # a refused history among them
                print(f"warning: {warning}", file=sys.stderr)
            if engine.devices.own_cert() is not None:
                print(f"Linked: {len(report.joined)} groups on this device")
                return 0
            if time.monotonic() >= deadline:
                print("Asked to be linked; run caucus sync on your first device, then here")
                return EXIT_QUEUED
    finally:
        await engine.close()


def _device_json(view: Any) -> dict[str, Any]:
    return {
        "id": view.device_id,
        "name": view.name,
        "first_device": view.is_identity,
        "this_device": view.is_this_device,
    }


async def cmd_device_list(engine: Engine, args: argparse.Namespace) -> int:
    views = engine.devices.list()
    if args.json:
        print(json.dumps([_device_json(v) for v in views]))
        return 0
    for v in views:
        notes = [
            n for n, on in (("first device", v.is_identity), ("this one", v.is_this_device)) if on
        ]
        print(f"{v.device_id}  {v.name}" + (f"  ({', '.join(notes)})" if notes else ""))
    return 0


async def cmd_device_remove(engine: Engine, args: argparse.Namespace) -> int:
    removed = await engine.devices.remove(args.device)
    if removed == 0:
        raise ClientError("that device is in none of your groups")
    where = "1 group" if removed == 1 else f"{removed} groups"
    print(f"Removed from {where}; it reads nothing sent from now on")
    return 0


def add_device_commands(sub: Any) -> None:
    """Add ``caucus device ...`` to the top-level subparsers."""
    device = sub.add_parser("device", help="link, list or remove your devices")
    dsub = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")

    p = dsub.add_parser("link", help="show a code to link a new computer; prints it last")
    p.set_defaults(handler=cmd_device_link)

    p = dsub.add_parser("add", help="link this computer as a device (run on the new one)")
    p.add_argument("code", help="the link code, or - to read it from standard input")
    p.add_argument("--name", help="this device's name (default: the host name)")
    p.add_argument("--wait", type=float, default=0.0, help="sync up to N s for the answer")
    p.set_defaults(sync_handler=cmd_device_add)

    p = dsub.add_parser("list", help="this member's devices")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_device_list)

    p = dsub.add_parser("remove", help="remove a linked device from every group")
    p.add_argument("device", help="device id (8+ hex digits), from device list")
    p.set_defaults(handler=cmd_device_remove)
