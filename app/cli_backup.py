"""``caucus backup create|restore`` (docs/protocol.md section 9).

``create`` writes an encrypted backup of the unlocked profile; the first one also makes the
profile's recovery key and prints it, once, as the last line. ``restore`` needs no profile:
it reads the recovery key from standard input (hidden at a terminal), asks the new
passphrase (``CAUCUS_PASSPHRASE`` or a prompt) and creates the profile in ``--home``;
``--replace`` is the forgotten-passphrase path: the profile already there is moved aside
only once the restored one has opened.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from app.core.api import (
    ClientError,
    Engine,
    check_restore_target,
    create_backup,
    read_recovery_words,
    restore_backup,
    wall_clock_ms,
)

__all__ = ["add_backup_commands"]


async def cmd_backup_create(engine: Engine, args: argparse.Namespace) -> int:
    made = create_backup(engine.db, args.home, args.out, rng=os.urandom, now=wall_clock_ms())
    print(f"Backup written to {made.path} ({made.size} bytes)")
    if made.recovery_words is None:
        print("It opens with the recovery key shown at this profile's first backup.")
        return 0
    print(
        "Write down this recovery key and keep it apart from your computer. It is shown"
        " only now and opens every backup of this profile; without it no backup opens:"
    )
    print(made.recovery_words)
    return 0


def read_recovery_key_text() -> str:
    """The 24 words from standard input; hidden when typed at a terminal."""
    if sys.stdin.isatty():
        text = getpass.getpass("Recovery key (24 words): ")
    else:
        text = sys.stdin.readline(4096)
    if not text.strip():
        raise ClientError("no recovery key on standard input")
    return text


def cmd_backup_restore(
    args: argparse.Namespace,
    read_passphrase: Callable[..., str],
    kdf_cost: Callable[[], str],
) -> int:
    check_restore_target(args.file, args.home, replace=args.replace)
    recovery = read_recovery_words(read_recovery_key_text())
    result = restore_backup(
        args.file,
        recovery,
        args.home,
        read_passphrase(confirm=True),
        rng=os.urandom,
        now=wall_clock_ms(),
        cost=kdf_cost(),
        replace=args.replace,
    )
    print(f"Profile restored in {result.home}")
    if result.replaced is not None:
        print(f"The previous profile was moved to {result.replaced}; delete it when sure.")
    print(
        f"{result.groups} groups: in each, this profile first enters a new epoch of its own"
        " (at its first send) so that no message key of the backup is used twice."
    )
    return 0


def add_backup_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    read_passphrase: Callable[..., str],
    kdf_cost: Callable[[], str],
) -> None:
    backup = sub.add_parser("backup", help="encrypted backups of the profile, and restoring one")
    bsub = backup.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    p = bsub.add_parser("create", help="write an encrypted backup of this profile")
    p.add_argument("--out", required=True, type=Path, help="the backup file to write")
    p.set_defaults(handler=cmd_backup_create)
    p = bsub.add_parser(
        "restore", help="create the profile of a backup in --home (recovery key on stdin)"
    )
    p.add_argument("file", type=Path, help="the backup file")
    p.add_argument(
        "--replace",
        action="store_true",
        help="forgotten passphrase: move the profile in --home aside once the restored one opens",
    )
    p.set_defaults(sync_handler=lambda args: cmd_backup_restore(args, read_passphrase, kdf_cost))
