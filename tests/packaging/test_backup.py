"""docs/hosting.md's SQLite backup: `sqlite3 relay.db ".backup FILE"` while the relay runs
gives a copy a new relay serves from, with nothing acknowledged before it missing."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.packaging.helpers import Members, RelayProcess

pytestmark = [pytest.mark.socket, pytest.mark.slow]


def online_backup(db: Path, copy: Path) -> None:
    """The documented command; SQLite's same backup API from Python where the CLI is absent."""
    cli = shutil.which("sqlite3")
    if cli is not None:
        subprocess.run([cli, str(db), f".backup '{copy}'"], check=True, timeout=60)
        return
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)


def item_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        count: int = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    return count


def test_backup_taken_while_serving_restores_everything(tmp_path: Path) -> None:
    members = Members(tmp_path)
    live = RelayProcess(tmp_path / "relay.db")
    try:
        members.run("alice", "init", "--name", "Alice", "--relay", live.url)
        group = members.run("alice", "group", "create", "Union").split()[-1]
        code = members.run("alice", "invite", group).split()[-1]
        members.run("alice", "send", group, "sent before the backup")
        online_backup(tmp_path / "relay.db", tmp_path / "backup.db")
    finally:
        assert live.stop() == 0
    assert 2 <= item_count(tmp_path / "backup.db") == item_count(tmp_path / "relay.db")
    # The server is lost; the backup is restored under the same URL.
    restored_db = tmp_path / "restored" / "relay.db"
    restored_db.parent.mkdir()
    shutil.copy2(tmp_path / "backup.db", restored_db)
    port = urlsplit(live.url).port
    assert port is not None
    restored = RelayProcess(restored_db, port=port)
    try:
        members.run("bob", "init", "--name", "Bob", "--relay", restored.url)
        members.run("bob", "join", code)
        members.run("alice", "sync")
        assert "Joined Union" in members.run("bob", "sync")
        members.run("alice", "send", group, "sent after the restore")
        members.run("bob", "sync")
        texts = members.run("bob", "messages", group)
        assert "sent after the restore" in texts
    finally:
        assert restored.stop() == 0
