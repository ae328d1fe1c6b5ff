"""Typed commands for backups (docs/protocol.md section 9): what the desktop's Backups
screen asks the engine, run on the engine's loop like every other ``Command``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.backup import BackupMade
from app.core.backup_schedule import BackupSchedule
from app.core.commands import Command
from app.core.engine import Engine
from app.core.errors import ClientError
from app.core.store import documents as document_store
from app.core.store.backups import BackupSettings, Schedule

__all__ = ["BackUpIfDue", "BackUpNow", "BackupStatus", "ConfigureBackups"]


def _schedule(engine: Engine) -> BackupSchedule:
    home = document_store.database_folder(engine.db)
    if home is None:
        raise ClientError("the profile database has no folder")
    return BackupSchedule(engine.db, home)


@dataclass(frozen=True)
class BackupStatus(Command[BackupSettings | None]):
    """The backup settings (None before the first backup)."""

    async def run(self, engine: Engine) -> BackupSettings | None:
        return _schedule(engine).settings()


@dataclass(frozen=True)
class BackUpNow(Command[BackupMade]):
    """A backup into ``folder`` now; the first one carries the recovery words."""

    folder: Path

    async def run(self, engine: Engine) -> BackupMade:
        ctx = engine.context
        return _schedule(engine).back_up_now(self.folder, rng=ctx.rng, now=ctx.now())


@dataclass(frozen=True)
class ConfigureBackups(Command[BackupSettings | None]):
    folder: Path | None
    schedule: Schedule
    keep: int

    async def run(self, engine: Engine) -> BackupSettings | None:
        schedule = _schedule(engine)
        schedule.configure(self.folder, self.schedule, self.keep)
        return schedule.settings()


@dataclass(frozen=True)
class BackUpIfDue(Command[BackupMade | None]):
    """The periodic backup, when its time has come (None otherwise)."""

    async def run(self, engine: Engine) -> BackupMade | None:
        ctx = engine.context
        return _schedule(engine).run_if_due(rng=ctx.rng, now=ctx.now())
