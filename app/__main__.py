"""``caucus``: with no arguments the desktop app, with a subcommand the headless client."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"--embedded-relay", "--gui"}:
        from app.qt.main import run_desktop

        return run_desktop(args)
    from app.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
