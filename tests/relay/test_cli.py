"""The command line refuses bad settings and foreign databases before it listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay import schema
from relay.__main__ import main


def test_refuses_a_database_from_a_newer_relay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "relay.db"
    conn = schema.connect(db)
    schema.migrate(conn)
    conn.execute("INSERT INTO schema_version VALUES (999)")
    conn.close()
    assert main(["serve", "--db", str(db), "--port", "0"]) == 1
    assert "newer" in capsys.readouterr().err


def test_refuses_invalid_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", str(tmp_path / "r.db"), "--retention-days", "0"]) == 2
    assert "caucus-relay:" in capsys.readouterr().err


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "many"])
    assert info.value.code == 2


@pytest.mark.parametrize("workers", ["1", "2"])
def test_unreachable_postgresql_is_one_line_without_the_password(
    workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://relay:s3cret-pw@/caucus?host=/nonexistent-caucus-dir"
    assert main(["serve", "--db", url, "--port", "0", "--workers", workers]) == 1
    err = capsys.readouterr().err
    assert err.startswith("caucus-relay: cannot start:") and err.count("\n") == 1
    assert "s3cret-pw" not in err


def test_serve_without_a_database_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CAUCUS_RELAY_DB_PATH", raising=False)
    monkeypatch.delenv("CAUCUS_RELAY_CONFIG", raising=False)
    assert main(["serve"]) == 2
    assert "no database" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_point_postgresql_to_its_own_tools(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    other = ["--out", "x.db"] if command == "backup" else ["--from", "x.db"]
    with pytest.raises(SystemExit) as info:
        main([command, "--db", "postgresql://relay@/caucus", *other])
    assert info.value.code == 2
    assert "pg_dump" in capsys.readouterr().err


def test_metrics_are_refused_with_several_workers(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://relay@/caucus?host=/nonexistent-caucus-dir"
    assert main(["serve", "--db", url, "--workers", "2", "--metrics", "--port", "0"]) == 2
    assert "metrics are per process" in capsys.readouterr().err
