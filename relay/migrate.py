"""The one migration runner of the relay, for SQLite and PostgreSQL alike.

Migrations are numbered SQL files: ``relay/migrations/NNNN_*.sql`` for SQLite and
``relay/migrations/postgresql/NNNN_*.sql`` for PostgreSQL, the same numbers with the same
meaning (each PostgreSQL file ports the SQLite file of its number).  ``migrate`` applies
every pending file, and records each in ``schema_version``, in **one transaction**
opened by the dialect's ``begin`` statements, which also take the lock that makes
processes starting together migrate one after the other (SQLite: ``BEGIN IMMEDIATE``, the
write lock; PostgreSQL: an advisory transaction lock).  So a crash leaves the database at
the version it had or at the latest one, never between, and a database written by a newer
relay is refused rather than guessed at.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "Dialect",
    "SchemaError",
    "latest_version",
    "migrate",
    "migrations",
    "statements",
]

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


class SchemaError(RuntimeError):
    """The database cannot be used by this relay version."""


@dataclass(frozen=True)
class Dialect:
    """What differs between databases when migrating."""

    name: str
    folder: str
    """Below ``relay/migrations``; "" for the SQLite files at its top."""
    begin: tuple[str, ...]
    """Statements opening the migration transaction and taking its lock."""


SQLITE = Dialect("sqlite", "", ("BEGIN IMMEDIATE",))
POSTGRESQL = Dialect(
    "postgresql",
    "postgresql",
    ("BEGIN", "SELECT pg_advisory_xact_lock(1667331427)"),  # 0x63617563, "cauc"
)


class MigrationConnection(Protocol):
    """What the runner uses of a connection in autocommit mode (``sqlite3`` spells it so,
    and ``relay.pg.PgConnection``, which turns ``?`` into psycopg's ``%s``)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


def migrations(dialect: Dialect = SQLITE) -> list[tuple[int, str]]:
    """(version, SQL) of every migration file of ``dialect``, in order; versions must be
    1, 2, 3, ... without gaps."""
    folder = resources.files("relay.migrations")
    if dialect.folder:
        folder = folder.joinpath(dialect.folder)
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
    """The schema version this relay writes (the same for every dialect)."""
    return len(migrations())


def migrate(conn: MigrationConnection, dialect: Dialect) -> int:
    """Apply pending migrations in one locked transaction; return the version in force."""
    steps = migrations(dialect)
    try:
        for statement in dialect.begin:
            conn.execute(statement)
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > len(steps):
            raise SchemaError(
                f"database schema {current} is newer than this relay understands ({len(steps)})"
            )
        for version, sql in steps[current:]:
            for statement in statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
            current = version
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return current


def statements(script: str) -> list[str]:
    """Split a migration file into statements (both databases run them one at a time,
    inside the migration transaction).  Comment lines are dropped, so a comment may hold
    any character; a statement itself must not contain ``?`` or ``$$`` bodies."""
    found: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            found.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise SchemaError("a migration file ends inside a statement")
    return found


def _rollback(conn: MigrationConnection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except Exception:  # the connection broke: the server rolled back for us
        return
