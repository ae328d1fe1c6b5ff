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


def test_serve_without_a_database_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CAUCUS_RELAY_DB_PATH", raising=False)
    monkeypatch.delenv("CAUCUS_RELAY_CONFIG", raising=False)
    assert main(["serve"]) == 2
    assert "no database" in capsys.readouterr().err
