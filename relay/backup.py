"""Backing up and restoring a SQLite relay database (``caucus-relay backup`` / ``restore``).

``backup`` copies a database with SQLite's online backup API in one step: the copy is the
state of one committed transaction, taken while the relay keeps serving (WAL lets the
writer go on).  The copy is a single self-contained file (rollback journal, no ``-wal``),
written under a temporary name, fsynced and renamed, so a half-written backup never has
the final name.

``restore`` copies a backup into the relay's database path, brings its schema up to date
and gives it a new generation id (``relay.generation``): a relay restored from an older
state hands out sequence numbers again, and clients must be able to tell.  It holds an
exclusive lock on the target for the whole copy, so it refuses to run beside a relay that
has the database open.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from relay import generation, schema

__all__ = ["BackupError", "BackupInfo", "backup", "restore"]


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message is one line for the operator."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup or restore produced."""

    path: Path
    schema_version: int
    generation: str
    size: int


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        _fsync_file(path)


def _check(conn: sqlite3.Connection, what: str) -> tuple[int, str]:
    """(schema version, generation) of a relay database that passes SQLite's check."""
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()
        if verdict is None or verdict[0] != "ok":
            raise BackupError(f"{what} fails SQLite's integrity check")
        has_version = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if has_version is None:
            raise BackupError(f"{what} is not a Caucus relay database")
        version = int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
        has_generation = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'generation'"
        ).fetchone()
        value = (generation.read(conn) if has_generation else None) or ""
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a readable SQLite database ({exc})") from None
    if version > schema.latest_version():
        raise BackupError(f"{what} has schema {version}, newer than this relay understands")
    return version, value


def backup(db: Path, out: Path) -> BackupInfo:
    """Copy the database at ``db`` to a new file ``out``, consistently, while it is in use."""
    if not db.is_file():
        raise BackupError(f"no database at {db}")
    if out.exists():
        raise BackupError(f"{out} already exists; choose a new file name")
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {db} ({exc})") from None
    try:
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(target)  # pages=-1: one step, one consistent snapshot
            target.execute("PRAGMA journal_mode=DELETE")
            version, value = _check(target, "the copy")
        finally:
            target.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {db} failed ({exc})") from None
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    _fsync_file(partial)
    os.replace(partial, out)
    _fsync_dir(out.parent)
    return BackupInfo(out, version, value, out.stat().st_size)


def restore(source: Path, db: Path) -> BackupInfo:
    """Replace the database at ``db`` (if any) by the backup ``source``, with a new generation.

    Refused while another connection (a running relay) has ``db`` open.
    """
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    try:
        origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {source} ({exc})") from None
    try:
        _check(origin, str(source))
        target = sqlite3.connect(db, isolation_level=None, timeout=0.0)
        try:
            try:
                # Keep an exclusive lock from the first statement until close: no relay can
                # open the database half-restored, and a running relay makes this fail.
                target.execute("PRAGMA locking_mode=EXCLUSIVE")
                target.execute("BEGIN EXCLUSIVE")
                target.execute("COMMIT")
            except sqlite3.OperationalError:
                raise BackupError(f"{db} is in use; stop the relay before restoring") from None
            origin.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
            target.execute("PRAGMA synchronous=FULL")
            version = schema.migrate(target)
            target.execute("BEGIN IMMEDIATE")
            value = generation.replace(target)
            target.execute("COMMIT")
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"restore into {db} failed ({exc})") from None
    finally:
        origin.close()
    return BackupInfo(db, version, value, db.stat().st_size)
