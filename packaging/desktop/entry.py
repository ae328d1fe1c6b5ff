"""The one program of the desktop bundle: ``caucus``, or the relay when started as ``caucus-relay``.

The bundle ships one frozen binary (one copy of Python, Qt and libsodium) and a
``caucus-relay`` symlink to it; the name it was started under picks the entry point.
"""

from __future__ import annotations

import os
import sys

__all__ = ["main"]

RELAY_NAME = "caucus-relay"


def main() -> int:
    if os.path.basename(sys.argv[0]).startswith(RELAY_NAME):
        from relay.__main__ import main as relay_main

        return relay_main()
    from app.__main__ import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
