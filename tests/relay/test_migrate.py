"""The one migration runner (``relay/migrate.py``) on both backends.

Each test runs on SQLite and on PostgreSQL (the ``db`` fixture): the same runner, the same
conventions (every pending file and its ``schema_version`` row in one locked transaction,
a newer database refused).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from relay import migrate, schema
from relay.migrate import POSTGRESQL, SQLITE, Dialect, SchemaError
from tests.relay.conftest import Db


@contextmanager
def connection(db: Db) -> Iterator[tuple[Any, Dialect]]:
    """A fresh autocommit connection to ``db`` (no migration run yet) and its dialect."""
    if db.url is None:
        conn: Any = schema.connect(db.path)
        dialect = SQLITE
    else:
        from relay import pg

        conn = pg.connect(db.url)
        dialect = POSTGRESQL
    try:
        yield conn, dialect
    finally:
        conn.close()


def tables(conn: Any, dialect: Dialect) -> set[str]:
    if dialect is SQLITE:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return {row[0] for row in conn.execute(sql).fetchall()}


def test_both_dialects_have_the_same_numbered_files() -> None:
    versions = [v for v, _ in migrate.migrations(SQLITE)]
    assert versions == [v for v, _ in migrate.migrations(POSTGRESQL)]
    assert versions == list(range(1, migrate.latest_version() + 1))


def test_statements_skip_comments_and_keep_trigger_bodies() -> None:
    script = (
        "-- a comment may hold ? and ; freely\n"
        "CREATE TABLE a (x INTEGER);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "  UPDATE a SET x = 1;\n"
        "END;\n"
    )
    found = migrate.statements(script)
    assert found[0] == "CREATE TABLE a (x INTEGER);"
    assert found[1].startswith("CREATE TRIGGER") and found[1].endswith("END;")
    assert len(found) == 2
    with pytest.raises(SchemaError):
        migrate.statements("CREATE TABLE b (x INTEGER)")


def test_migrations_apply_once(db: Db) -> None:
    with connection(db) as (conn, dialect):
        latest = migrate.latest_version()
        assert migrate.migrate(conn, dialect) == latest >= 1
        assert migrate.migrate(conn, dialect) == latest
        rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert [r[0] for r in rows] == list(range(1, latest + 1))
        assert not conn.in_transaction


def test_a_newer_database_is_refused_and_left_as_it_was(db: Db) -> None:
    with connection(db) as (conn, dialect):
        migrate.migrate(conn, dialect)
        conn.execute("INSERT INTO schema_version VALUES (999)")
        with pytest.raises(SchemaError, match="newer than this relay"):
            migrate.migrate(conn, dialect)
        assert not conn.in_transaction
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        assert row[0] == 999


def test_a_failing_migration_rolls_back_every_pending_one(db: Db) -> None:
    """Migration 2 creates ``generation``; with that table already there it fails, and
    migration 1 (run in the same transaction) is undone with it: all or nothing."""
    with connection(db) as (conn, dialect):
        conn.execute("CREATE TABLE generation (x INTEGER)")
        failure = sqlite3.Error if dialect is SQLITE else Exception
        with pytest.raises(failure):
            migrate.migrate(conn, dialect)
        assert not conn.in_transaction
        assert tables(conn, dialect) == {"generation"}


def test_processes_starting_together_migrate_once(db: Db) -> None:
    versions: list[int] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            with connection(db) as (conn, dialect):
                versions.append(migrate.migrate(conn, dialect))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert versions == [migrate.latest_version()] * 4
    rows = db.rows("SELECT count(*) FROM schema_version")
    assert rows[0][0] == migrate.latest_version()


def test_many_processes_opening_a_new_sqlite_file_all_start(tmp_path: Path) -> None:
    """Switching a new file to WAL takes its exclusive lock and SQLite does not wait for it:
    before ``schema.connect`` retried, one opener in about sixty failed with "database is
    locked" (seen in CI).  Forty new files, four openers each."""
    failures: list[BaseException] = []

    def start(path: Path) -> None:
        try:
            conn = schema.connect(path)
            try:
                migrate.migrate(conn, SQLITE)
            finally:
                conn.close()
        except BaseException as exc:
            failures.append(exc)

    for round_ in range(40):
        path = tmp_path / f"relay-{round_}.db"
        threads = [threading.Thread(target=start, args=(path,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert failures == []
