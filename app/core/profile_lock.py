"""One profile, one process: an exclusive ``flock`` on ``<profile>/lock``.

The first connection of a process to a profile takes the lock (non-blocking); further
connections of the same process (the desktop app's reader beside its engine) share it
through a process-wide registry, refcounted per resolved directory, because ``flock`` is
held per open file description and a second ``open`` would lock against ourselves. The
lock goes when the last connection of the process closes, or when the process dies.
Within one process a second *engine* on the same profile is refused as well: two engines
would each keep their own in-memory group state (docs/protocol.md section 7.1).
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ProfileInUse, ReadOnlyProfile

__all__ = ["LOCK_NAME", "ProfileLock", "acquire"]

LOCK_NAME = "lock"
FILE_MODE = 0o600


@dataclass
class _Held:
    fd: int
    count: int
    engine: bool


_registry: dict[Path, _Held] = {}
_guard = threading.Lock()


class ProfileLock:
    """One connection's share of its process's lock on a profile directory."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._released = False
        self._engine = False

    def claim_engine(self) -> None:
        """Mark this connection as the profile's engine; a second engine is refused."""
        with _guard:
            if self._released:
                raise ValueError("the profile lock was already released")
            held = _registry[self.home]
            if self._engine:
                return
            if held.engine:
                raise ProfileInUse(f"the profile in {self.home} already has an engine running")
            held.engine = self._engine = True

    def release(self) -> None:
        """Give up this share; the last one unlocks the directory. Idempotent."""
        with _guard:
            if self._released:
                return
            self._released = True
            held = _registry[self.home]
            if self._engine:
                held.engine = False
            held.count -= 1
            if held.count == 0:
                del _registry[self.home]
                os.close(held.fd)  # closing the only descriptor drops the flock


def acquire(home: Path) -> ProfileLock:
    """Lock ``home`` for this process (or join this process's lock on it).

    Raises ``ProfileInUse`` naming the other process when it holds the lock, and
    ``ReadOnlyProfile`` when the lock file cannot be created or written.
    """
    home = home.resolve()
    with _guard:
        held = _registry.get(home)
        if held is None:
            _registry[home] = _Held(_lock_file(home), 1, False)
        else:
            held.count += 1
    return ProfileLock(home)


def _lock_file(home: Path) -> int:
    path = home / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise ReadOnlyProfile(_read_only(home)) from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        who = f" (pid {pid})" if pid else ""
        raise ProfileInUse(
            f"the profile in {home} is open in another Caucus process{who}"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def _read_only(home: Path) -> str:
    return f"the profile in {home} is read-only: Caucus needs to write to its folder and files"
