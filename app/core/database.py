"""The profile's SQLCipher database: opening with a raw key, migrations, transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from app.core.errors import CorruptProfile, WrongPassphrase

__all__ = ["SCHEMA_VERSION", "Database"]

_MIGRATIONS = "app.core.migrations"


def _migration_files() -> list[tuple[int, str]]:
    found = []
    for item in resources.files(_MIGRATIONS).iterdir():
        name = item.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), item.read_text(encoding="utf-8")))
    return sorted(found)


SCHEMA_VERSION = max(number for number, _ in _migration_files())


class Database:
    """One connection to an encrypted profile database."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection
        self._depth = 0

    @classmethod
    def open(cls, path: Path, key: bytes, *, create: bool = False) -> Database:
        """Open (or create) the database with a 32-byte raw key.

        A wrong key raises ``WrongPassphrase`` without writing anything.
        """
        if len(key) != 32:
            raise ValueError("database key must be 32 bytes")
        if not create and not path.exists():
            raise CorruptProfile("the profile database is missing")
        try:
            conn = sqlcipher.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlcipher.Error as exc:
            raise CorruptProfile(f"cannot open the profile database: {exc}") from None
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher.DatabaseError:
            conn.close()
            raise WrongPassphrase("wrong passphrase") from None
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA secure_delete = ON")
        database = cls(conn)
        database._migrate()
        return database

    def _migrate(self) -> None:
        current = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise CorruptProfile("the profile was written by a newer version of Caucus")
        for number, script in _migration_files():
            if number <= current:
                continue
            with self.transaction():
                for statement in _split_sql(script):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction (IMMEDIATE); nested use joins the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self._conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> Any:
        return self._conn.executemany(sql, rows)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        rows: list[Any] = self._conn.execute(sql, params).fetchall()
        return rows

    def rekey(self, key: bytes) -> None:
        """Re-encrypt the database under a new raw key (passphrase change)."""
        self._conn.execute(f"PRAGMA rekey = \"x'{key.hex()}'\"")

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Report every SQL statement this connection runs (tests check what it reads)."""
        self._conn.set_trace_callback(callback)

    def close(self) -> None:
        self._conn.close()


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements; triggers keep their inner semicolons."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
