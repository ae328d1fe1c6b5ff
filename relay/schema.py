"""Opening the relay's SQLite database and bringing its schema up to date.

Migrations are the numbered files in ``relay/migrations`` (``0001_init.sql``, ...); each is
applied in its own transaction together with the new ``schema_version``, so a crash leaves
the database at one version or the next, never between.  A database written by a newer
relay is refused rather than guessed at.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar

from relay.backend import Connection, Fanout, Wake
from relay.limits import measure_sqlite

__all__ = ["SchemaError", "SqliteBackend", "connect", "latest_version", "migrate", "migrations"]

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


class SchemaError(RuntimeError):
    """The database cannot be used by this relay version."""


def migrations(dialect: str = "") -> list[tuple[int, str]]:
    """(version, SQL) of every migration file, in order; versions must be 1, 2, 3, ...

    SQLite's files are in ``relay/migrations``; another database's (``dialect``
    ``"postgresql"``) in the folder of that name below it, with the same numbers and the
    same meaning: each file ports the SQLite file of its number.
    """
    folder = resources.files("relay.migrations")
    if dialect:
        folder = folder.joinpath(dialect)
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    if [version for version, _ in found] != list(range(1, len(found) + 1)):
        raise SchemaError("migration files must be numbered 0001, 0002, ... without gaps")
    return found


def latest_version() -> int:
    return len(migrations())


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode with the durability settings of protocol 6.

    WAL lets readers run beside the single writer; ``synchronous=FULL`` makes every
    commit durable before it returns, which is what lets us acknowledge after commit.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


def _current_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations; return the schema version now in force."""
    steps = migrations()
    current = _current_version(conn)
    if current > len(steps):
        raise SchemaError(
            f"database schema {current} is newer than this relay understands ({len(steps)})"
        )
    for version, sql in steps[current:]:
        script = f"BEGIN IMMEDIATE;\n{sql}\nINSERT INTO schema_version VALUES ({version});\nCOMMIT;"
        try:
            conn.executescript(script)
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        current = version
    return current


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
