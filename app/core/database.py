"""The profile's SQLCipher database: opening with a raw key, migrations, transactions."""

from __future__ import annotations

import os
import sqlite3
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from app.core.errors import AlreadyExists, CorruptProfile, ReadOnlyProfile, WrongPassphrase
from app.core.profile_lock import ProfileLock

__all__ = ["FILE_MODE", "PAGE_SIZE", "SCHEMA_VERSION", "Database", "check_shape"]

_MIGRATIONS = "app.core.migrations"


def _migration_files() -> list[tuple[int, str]]:
    found = []
    for item in resources.files(_MIGRATIONS).iterdir():
        name = item.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), item.read_text(encoding="utf-8")))
    return sorted(found)


SCHEMA_VERSION = max(number for number, _ in _migration_files())


PAGE_SIZE = 4096  # SQLCipher 4's page size; a file of any other length is damaged
FILE_MODE = 0o600


class Database:
    """One connection to an encrypted profile database.

    It may hold a share of the profile's lock (``profile_lock``), released on ``close``
    (or when the object is collected without being closed).
    """

    def __init__(self, connection: Any, lock: ProfileLock | None = None) -> None:
        self._conn = connection
        self._depth = 0
        self._scrub_due = False
        self.lock = lock
        self._finalizer = weakref.finalize(self, lock.release) if lock is not None else None

    @classmethod
    def open(
        cls,
        path: Path,
        key: bytes,
        *,
        create: bool = False,
        lock: ProfileLock | None = None,
        key_confirmed: bool = False,
    ) -> Database:
        """Open (or create) the database with a 32-byte raw key.

        A key that does not open the file raises ``WrongPassphrase`` without writing
        anything, or ``CorruptProfile`` when ``key_confirmed`` says the key is the right
        one (so the file must be damaged). Once open it owns ``lock`` and releases it on
        close; when opening fails the caller still holds it (releasing twice is harmless).
        """
        if len(key) != 32:
            raise ValueError("database key must be 32 bytes")
        if create:
            _create_private(path)
        else:
            check_shape(path)
        conn = _connect(path, key, key_confirmed, create=create)
        database = cls(conn, lock)
        try:
            with _mapped_errors(path):
                database._migrate()
        except BaseException:
            database.close()
            raise
        return database

    def claim_engine(self) -> None:
        """Refuse a second engine on this profile within the process (see profile_lock)."""
        if self.lock is not None:
            self.lock.claim_engine()

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

    def secret_deleted(self) -> None:
        """A key was deleted or replaced for forward secrecy: ``scrub`` should run."""
        self._scrub_due = True

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file and truncate it, so a row
        deleted for forward secrecy (overwritten there: secure_delete) does not linger
        in an old log frame. Outside a transaction only."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        self._scrub_due = False

    def scrub(self) -> None:
        """``checkpoint`` if a key was deleted since the last one."""
        if self._scrub_due:
            self.checkpoint()

    def refuse_writes(self) -> None:
        """From now on this connection refuses every write (``PRAGMA query_only``)."""
        self._conn.execute("PRAGMA query_only = ON")

    def rekey(self, key: bytes) -> None:
        """Re-encrypt the database under a new raw key (passphrase change)."""
        self._conn.execute(f"PRAGMA rekey = \"x'{key.hex()}'\"")

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Report every SQL statement this connection runs (tests check what it reads)."""
        self._conn.set_trace_callback(callback)

    def close(self) -> None:
        self._conn.close()
        if self._finalizer is not None:
            self._finalizer()


def _create_private(path: Path) -> None:
    """An empty file of mode 0600 for SQLCipher to fill; its -wal and -shm files get the
    same mode (SQLite copies the database file's permissions)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        raise AlreadyExists(f"{path} already exists") from None
    os.close(fd)


def check_shape(path: Path) -> None:
    """Damage visible without the key: a missing, empty or torn database file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CorruptProfile(f"the profile database {path} is missing") from None
    if size == 0:
        raise CorruptProfile(f"the profile database {path} is empty")
    if size % PAGE_SIZE:
        raise CorruptProfile(
            f"the profile database {path} is damaged: {size} bytes is not a whole"
            f" number of {PAGE_SIZE}-byte pages"
        )


def _connect(path: Path, key: bytes, key_confirmed: bool, *, create: bool) -> Any:
    if not create:
        # First a read-only look: a failed read-write connection would, on closing,
        # checkpoint and delete a write-ahead log it could not read.
        probe = _keyed(path, key, key_confirmed, read_only=True)
        try:
            with _mapped_errors(path):
                version = probe.execute("PRAGMA user_version").fetchone()[0]
        finally:
            probe.close()
        if version == 0:
            raise CorruptProfile(
                f"the profile database {path} is damaged: it holds no tables"
                " (is profile.db-wal damaged or missing?)"
            )
    conn = _keyed(path, key, key_confirmed, read_only=False)
    try:
        with _mapped_errors(path):
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA secure_delete = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _keyed(path: Path, key: bytes, key_confirmed: bool, *, read_only: bool) -> Any:
    """A connection whose key has opened the first page (else the error says why)."""
    with _mapped_errors(path):
        if read_only:
            target, uri = path.resolve().as_uri() + "?mode=ro", True
        else:
            target, uri = str(path), False
        conn = sqlcipher.connect(target, isolation_level=None, check_same_thread=False, uri=uri)
    try:
        with _mapped_errors(path):
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher.DatabaseError as exc:
            if "not a database" not in str(exc):
                with _mapped_errors(path):
                    raise
            if key_confirmed:
                raise CorruptProfile(
                    f"the profile database {path} is damaged: it does not open with the right key"
                ) from None
            raise WrongPassphrase("wrong passphrase") from None
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def _mapped_errors(path: Path) -> Iterator[None]:
    """SQLite's errors while opening, as one-line profile errors."""
    try:
        yield
    except sqlcipher.DatabaseError as exc:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            raise ReadOnlyProfile(
                f"the profile in {path.parent} is read-only: Caucus needs to write to its"
                " folder and files"
            ) from None
        if "unable to open" in text:
            raise CorruptProfile(f"cannot open the profile database {path}: {text}") from None
        raise CorruptProfile(f"the profile database {path} is damaged: {text}") from None


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
