"""Backup while the relay serves, restore with a new generation, and the CLI around both."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from relay import backup, schema
from relay.__main__ import main

from .conftest import Client, make_app, open_client

pytestmark = pytest.mark.anyio


@pytest.mark.sqlite_only
async def test_backup_during_writes_is_one_consistent_state(client: Client, tmp_path: Path) -> None:
    boxes = [await client.new_mailbox() for _ in range(4)]
    stop = asyncio.Event()

    async def writer(index: int) -> int:
        count = 0
        while not stop.is_set():
            response = await client.post(boxes[index], b"x" * 100)
            assert response.status_code == 200
            count += 1
        return count

    tasks = [asyncio.ensure_future(writer(i)) for i in range(len(boxes))]
    for _ in range(200):  # bounded: until writes are flowing
        if client.app.relay._writer.jobs >= 20:
            break
        await asyncio.sleep(0.01)
    out = tmp_path / "backup.db"
    info = await asyncio.to_thread(backup.backup, tmp_path / "relay.db", out)
    stop.set()
    written = sum(await asyncio.gather(*tasks))
    assert info.generation == client.app.relay.generation
    conn = sqlite3.connect(out)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        # every queue's counters agree with its items: one transaction's state, not a mix
        rows = conn.execute(
            "SELECT q.last_seq, q.bytes_used, count(i.seq), coalesce(max(i.seq), 0), "
            "coalesce(sum(i.size), 0) FROM queues q LEFT JOIN items i ON i.queue = q.id "
            "GROUP BY q.id"
        ).fetchall()
    finally:
        conn.close()
    assert len(rows) == len(boxes)
    for last_seq, used, count, top, size in rows:
        assert last_seq == count == top and used == size
    assert 0 < sum(row[2] for row in rows) <= written
    assert not Path(str(out) + ".partial").exists()


async def test_restore_rewinds_with_a_new_generation(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with await open_client(app) as http:
        client = Client(http, app)
        box = await client.new_mailbox()
        assert (await client.post(box, b"before")).json() == {"seq": 1}
        saved = await asyncio.to_thread(backup.backup, tmp_path / "relay.db", tmp_path / "b.db")
        assert (await client.post(box, b"after")).json() == {"seq": 2}
        old = app.relay.generation
        with pytest.raises(backup.BackupError, match="in use"):
            backup.restore(saved.path, tmp_path / "relay.db")
    app.close()

    restored = backup.restore(saved.path, tmp_path / "relay.db")
    assert restored.generation != old and len(restored.generation) == 32

    app = make_app(tmp_path)
    async with await open_client(app) as http:
        client = Client(http, app)
        response, frames = await client.fetch(box, box.cap)
        assert frames == [(1, b"before")]  # "after" is gone: the relay rewound
        assert response.headers["x-caucus-generation"] == restored.generation
        # the same sequence number is handed out again, under the new generation
        assert (await client.post(box, b"other")).json() == {"seq": 2}
    app.close()


def test_restore_of_a_schema_1_backup_migrates_it(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    version, sql = schema.migrations()[0]
    conn.executescript(
        f"CREATE TABLE schema_version (version INTEGER NOT NULL);\nBEGIN;\n{sql}\n"
        f"INSERT INTO schema_version VALUES ({version});\nCOMMIT;"
    )
    conn.close()
    info = backup.restore(old, tmp_path / "relay.db")
    assert info.schema_version == schema.latest_version()
    assert len(info.generation) == 32


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_restore_refuses_what_is_not_a_relay_database(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "junk.db"
    if content:
        source.write_bytes(content)
    else:  # an empty but valid SQLite database
        sqlite3.connect(source).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(backup.BackupError):
        backup.restore(source, tmp_path / "relay.db")


def test_backup_refuses_to_overwrite_or_invent(tmp_path: Path) -> None:
    with pytest.raises(backup.BackupError, match="no database"):
        backup.backup(tmp_path / "missing.db", tmp_path / "out.db")
    (tmp_path / "out.db").write_bytes(b"keep me")
    conn = schema.connect(tmp_path / "relay.db")
    schema.migrate(conn)
    conn.close()
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.backup(tmp_path / "relay.db", tmp_path / "out.db")
    assert (tmp_path / "out.db").read_bytes() == b"keep me"


def test_cli_backup_and_restore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(tmp_path)
    app.relay.start()
    first = app.relay.generation
    app.close()
    db, out = str(tmp_path / "relay.db"), str(tmp_path / "backup.db")
    assert main(["backup", "--db", db, "--out", out]) == 0
    assert first in capsys.readouterr().out
    assert main(["backup", "--db", db, "--out", out]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["restore", "--from", out, "--db", db]) == 0
    printed = capsys.readouterr().out
    assert "new generation" in printed and first not in printed
    assert main(["restore", "--from", str(tmp_path / "nope.db"), "--db", db]) == 1
    err = capsys.readouterr().err
    assert err.startswith("caucus-relay: no backup at") and err.count("\n") == 1
