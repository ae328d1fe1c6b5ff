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
        main(["serve"])
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
