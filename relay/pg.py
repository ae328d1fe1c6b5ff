"""The relay on PostgreSQL: connections, migrations and transactions for ``relay.store``.

Several relay processes (``--workers N``, or several hosts) may share one database.  Each
has its own group-commit writer; they stay correct together because every write locks the
rows it changes (``SELECT ... FOR UPDATE``, chosen by ``PgConnection.row_locks``) and
nothing read is remembered across transactions (``shared``).  A commit returns after
PostgreSQL flushed it (``synchronous_commit`` is never ``off`` on our connections), so an
acknowledgement still means "on disk".  Long-poll wake-ups cross processes through
LISTEN/NOTIFY (``relay.pg_notify``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from relay.backend import Connection, Cursor, Fanout, Wake
from relay.migrate import POSTGRESQL
from relay.migrate import migrate as _migrate

__all__ = ["PgConnection", "PostgresBackend", "connect", "migrate"]


_UNSEEN_DISK = 1 << 62
"""Free disk space reported for a database server whose disk the relay cannot see."""

_SQL: dict[str, str] = {}


def _pg_sql(sql: str) -> str:
    """``relay.store``'s qmark SQL in psycopg's format style (cached)."""
    converted = _SQL.get(sql)
    if converted is None:
        converted = _SQL[sql] = sql.replace("%", "%%").replace("?", "%s")
    return converted


class PgConnection:
    """A psycopg connection in autocommit mode that speaks ``relay.backend.Connection``."""

    row_locks = True
    """Tells ``relay.store`` to lock the rows it is about to change."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        return self.raw.closed or self.raw.broken

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self.raw.execute(_pg_sql(sql), parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(_pg_sql(sql), parameters)
        return cursor

    def close(self) -> None:
        self.raw.close()


def connect(url: str, *, readonly: bool = False) -> PgConnection:
    """An autocommit connection; the writer's commits wait for the WAL flush."""
    raw = psycopg.connect(url, autocommit=True)
    try:
        if readonly:
            raw.execute("SET default_transaction_read_only = on")
        else:
            row = raw.execute("SHOW synchronous_commit").fetchone()
            if row is not None and row[0] == "off":
                raw.execute("SET synchronous_commit = on")
    except BaseException:
        raw.close()
        raise
    return PgConnection(raw)


def migrate(conn: PgConnection) -> int:
    """Apply pending migrations (``relay.migrate``, under an advisory lock so processes
    that start together migrate once); return the schema version in force."""
    return _migrate(conn, POSTGRESQL)


@dataclass(frozen=True)
class PostgresBackend:
    """A PostgreSQL database, possibly shared by several relay processes."""

    url: str
    name: ClassVar[str] = "postgresql"
    shared: ClassVar[bool] = True
    failures: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error,)

    def open_writer(self) -> tuple[Connection, int]:
        conn = connect(self.url)
        try:
            version = migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn, version

    def open_reader(self) -> Connection:
        return connect(self.url, readonly=True)

    def measure(self, conn: Connection) -> tuple[int, int]:
        """The database's size; the server's disk is not visible from here, so its free
        space counts as unlimited (watch it on the database server)."""
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]), _UNSEEN_DISK

    def begin(self, conn: Connection) -> None:
        conn.execute("BEGIN")

    def commit(self, conn: Connection) -> None:
        conn.execute("COMMIT")

    def rollback(self, conn: Connection) -> None:
        if isinstance(conn, PgConnection) and conn.broken:
            return
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)

    def broken(self, conn: Connection) -> bool:
        return isinstance(conn, PgConnection) and conn.broken

    def fanout(self, wake: Wake) -> Fanout | None:
        from relay.pg_notify import PgFanout

        return PgFanout(self.url, wake)
