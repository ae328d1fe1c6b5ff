"""Opening the relay's SQLite database; its schema is brought up to date by
``relay.migrate`` (the runner both backends share) with the files in ``relay/migrations``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from relay.backend import Connection, Fanout, Wake
from relay.limits import measure_sqlite
from relay.migrate import SQLITE, SchemaError, latest_version, migrations
from relay.migrate import migrate as _migrate

__all__ = ["SchemaError", "SqliteBackend", "connect", "latest_version", "migrate", "migrations"]


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode with the durability settings of protocol 6.

    WAL lets readers run beside the single writer; ``synchronous=FULL`` makes every
    commit durable before it returns, which is what lets us acknowledge after commit.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    try:
        _use_wal(conn)
    except BaseException:
        conn.close()
        raise
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


def _use_wal(conn: sqlite3.Connection, *, patience: float = 30.0) -> None:
    """Switch a connection to WAL, waiting for other openers of a new file.

    Changing the journal mode takes the file's exclusive lock, and SQLite answers "database
    is locked" at once when another connection holds it (the busy timeout is not consulted
    there): processes starting together on a new file saw it about once in sixty starts.
    Once the file is in WAL the mode is persistent and the statement returns at once.
    """
    deadline = time.monotonic() + patience
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations (``relay.migrate``); return the schema version in force."""
    return _migrate(conn, SQLITE)


@dataclass(frozen=True)
class SqliteBackend:
    """One SQLite file used by one relay process: the writer thread is the only writer."""

    path: Path
    name: ClassVar[str] = "sqlite"
    shared: ClassVar[bool] = False
    failures: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)

    def open_writer(self) -> tuple[Connection, int]:
        conn = connect(self.path)
        try:
            version = migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn, version

    def open_reader(self) -> Connection:
        return connect(self.path, readonly=True)

    def measure(self, conn: Connection) -> tuple[int, int]:
        if not isinstance(conn, sqlite3.Connection):
            raise TypeError("a SQLite backend measures its own connections only")
        return measure_sqlite(conn, self.path)

    def begin(self, conn: Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def commit(self, conn: Connection) -> None:
        conn.execute("COMMIT")

    def rollback(self, conn: Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def retryable(self, exc: BaseException) -> bool:
        return False

    def broken(self, conn: Connection) -> bool:
        return False

    def fanout(self, wake: Wake) -> Fanout | None:
        return None
