"""The seam between the relay and its database: SQLite (one process) or PostgreSQL (many).

``relay.store`` is written once against ``Connection`` (qmark SQL that both databases
accept); a ``Backend`` opens connections, migrates the schema and brackets the writer's
transactions.  ``open_backend`` picks one from the configuration: a ``postgresql://`` URL
selects PostgreSQL, anything else is a SQLite file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from relay.config import RelayConfig

__all__ = [
    "Backend",
    "Connection",
    "Cursor",
    "Fanout",
    "Transactions",
    "Wake",
    "is_database_url",
    "open_backend",
]

Wake = Callable[["tuple[int, bytes] | None"], None]
"""Wakes the local long-polls of one queue key, or all of them for None."""


class Cursor(Protocol):
    """What ``relay.store`` uses of a DB-API cursor."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


class Connection(Protocol):
    """What ``relay.store`` and the writer use of a connection (``sqlite3`` spells it so)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    def close(self) -> None: ...


class Fanout(Protocol):
    """Carries "something was committed to queue K" to the other relay processes."""

    def start(self) -> None: ...

    def publish(self, key: tuple[int, bytes]) -> None: ...

    def close(self) -> None: ...


class Transactions(Protocol):
    """How the group-commit writer brackets one batch on this backend."""

    @property
    def shared(self) -> bool:
        """Other processes write the same database: nothing read may be remembered across
        transactions, and rows are locked (``SELECT ... FOR UPDATE``) before they change."""
        ...

    @property
    def failures(self) -> tuple[type[Exception], ...]:
        """Exceptions meaning "the database failed" (as opposed to a refused request)."""
        ...

    def begin(self, conn: Connection) -> None: ...

    def commit(self, conn: Connection) -> None: ...

    def rollback(self, conn: Connection) -> None:
        """Roll back if a transaction is open; never raises for "no transaction"."""
        ...

    def retryable(self, exc: BaseException) -> bool:
        """True for a deadlock or serialization failure: the batch may simply run again."""
        ...

    def broken(self, conn: Connection) -> bool:
        """The connection is unusable (the server went away): open a new one."""
        ...


class Backend(Transactions, Protocol):
    """One database: connections, schema and (for shared databases) a wake-up fanout."""

    @property
    def name(self) -> str: ...

    def open_writer(self) -> tuple[Connection, int]:
        """The write connection, schema migrated; and the schema version now in force."""
        ...

    def open_reader(self) -> Connection:
        """A read-only connection in autocommit mode (one per event-loop thread)."""
        ...

    def measure(self, conn: Connection) -> tuple[int, int]:
        """(bytes the database holds, bytes free on its disk), for ``relay.limits``."""
        ...

    def fanout(self, wake: Wake) -> Fanout | None:
        """Cross-process wake-ups calling ``wake(key)`` (and ``wake(None)`` for "all"),
        or None when this backend is used by one process only."""
        ...


def is_database_url(value: str) -> bool:
    """Whether ``--db`` names a PostgreSQL server rather than a SQLite file."""
    return value.startswith(("postgresql://", "postgres://"))


def open_backend(config: RelayConfig) -> Backend:
    """The backend ``config`` names (PostgreSQL when ``db_url`` is set)."""
    if config.db_url:
        from relay.pg import PostgresBackend  # psycopg is only needed for PostgreSQL

        return PostgresBackend(config.db_url)
    from relay.schema import SqliteBackend

    return SqliteBackend(config.db_path)
