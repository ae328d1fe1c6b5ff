"""Periodic backups into a chosen folder (docs/protocol.md section 9.5): the settings the
desktop's Backups screen edits, when the next one is due, and keeping only the last N.

Backups need no recovery key (only the public half the profile stores), so they can be
written while the profile is open, without asking the user anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.core.backup import BackupMade, create_backup
from app.core.database import Database
from app.core.errors import ClientError
from app.core.store import backups as store
from app.core.store.backups import BackupSettings, Schedule

__all__ = ["SUFFIX", "BackupSchedule", "Schedule"]

SUFFIX = ".caucus-backup"
_PREFIX = "caucus-"
_PERIOD_MS = {Schedule.DAILY: 86_400_000, Schedule.WEEKLY: 7 * 86_400_000}
MAX_KEEP = 100


@dataclass(frozen=True)
class BackupSchedule:
    """Backups of one open profile (``db``, whose folder is ``home``)."""

    db: Database
    home: Path

    def settings(self) -> BackupSettings | None:
        return store.load_settings(self.db)

    def configure(self, folder: Path | None, schedule: Schedule, keep: int) -> None:
        """Save the folder, schedule and how many backups to keep (1..100); the first
        backup (``back_up_now``) must have been made, since it makes the key pair."""
        if not 1 <= keep <= MAX_KEEP:
            raise ClientError(f"keep between 1 and {MAX_KEEP} backups")
        if schedule is not Schedule.OFF and folder is None:
            raise ClientError("choose a folder for periodic backups")
        if store.load_settings(self.db) is None:
            raise ClientError("make a first backup before turning on periodic backups")
        with self.db.transaction():
            store.save_settings(self.db, str(folder) if folder else None, schedule, keep)

    def due(self, now: int) -> bool:
        current = self.settings()
        if current is None or current.schedule is Schedule.OFF or not current.folder:
            return False
        if current.last_at is None:
            return True
        return now - current.last_at >= _PERIOD_MS[current.schedule]

    def back_up_now(self, folder: Path, *, rng: Callable[[int], bytes], now: int) -> BackupMade:
        """A backup named after ``now`` in ``folder``; then only the newest ``keep``
        backups of that folder stay (files this schedule named, nothing else)."""
        # Milliseconds and a counter: two backups in one second (a second "Back up now")
        # get two files, and the names still sort by time for pruning.
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now / 1000)) + f"-{now % 1000:03d}"
        out = folder / f"{_PREFIX}{stamp}{SUFFIX}"
        counter = 1
        while out.exists():
            counter += 1
            out = folder / f"{_PREFIX}{stamp}-{counter}{SUFFIX}"
        made = create_backup(self.db, self.home, out, rng=rng, now=now)
        current = self.settings()
        if current is not None:
            self._prune(folder, current.keep)
        return made

    def run_if_due(self, *, rng: Callable[[int], bytes], now: int) -> BackupMade | None:
        current = self.settings()
        if current is None or not current.folder or not self.due(now):
            return None
        return self.back_up_now(Path(current.folder), rng=rng, now=now)

    @staticmethod
    def _prune(folder: Path, keep: int) -> None:
        ours = sorted(p for p in folder.glob(f"{_PREFIX}*{SUFFIX}") if p.is_file())
        for old in ours[: max(0, len(ours) - keep)]:
            old.unlink(missing_ok=True)
