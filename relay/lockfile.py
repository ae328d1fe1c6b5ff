"""One relay process per SQLite database: an exclusive lock on ``<db>.lock``.

The writer thread keeps the only write connection and remembers queue counters between
batches, so a second process writing the same file would break sequence numbers, miss
long-poll wake-ups and lose acknowledged items.  ``DatabaseLock`` takes a non-blocking
``flock`` (``msvcrt.locking`` on Windows) on a side file and holds it for the life of the
process; the operating system drops it when the process dies, even on ``kill -9``, so a
stale lock never blocks a restart.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["DatabaseLock", "DatabaseLocked", "lock_path"]


class DatabaseLocked(RuntimeError):
    """Another relay process already serves this database file."""


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class DatabaseLock:
    """``acquire`` raises ``DatabaseLocked`` if another process holds the lock."""

    __slots__ = ("_fd", "path")

    def __init__(self, db_path: Path) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            raise DatabaseLocked(
                f"another relay process is already serving this database ({self.path} is locked)"
            ) from None
        self._fd = fd

    def release(self) -> None:
        """Unlock and close; the lock file itself stays (removing it would race)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
