"""``caucus``: with no arguments the desktop app, with a subcommand the headless client."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_DESKTOP_FLAGS = {"--embedded-relay", "--gui", "--no-keyring", "--smoke-test"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if _wants_desktop(args):
        from app.qt.main import run_desktop

        return run_desktop(args)
    from app.cli import main as cli_main

    return cli_main(args)


def _wants_desktop(args: list[str]) -> bool:
    """No subcommand (only desktop options, a profile folder or a caucus:// link)."""
    rest = list(args)
    while rest:
        head = rest.pop(0)
        if head in _DESKTOP_FLAGS or head.startswith("caucus://"):
            continue
        if head == "--home" and rest:
            rest.pop(0)
            continue
        if head.startswith("--home="):
            continue
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
