"""``caucus --version`` and ``caucus-relay --version`` name the installed distribution."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import pytest

from app.__main__ import main as caucus_main
from relay.__main__ import main as relay_main
from relay.version import UNKNOWN, installed_version

INSTALLED = metadata.version("caucus")


@pytest.mark.parametrize(
    ("main", "program"), [(caucus_main, "caucus"), (relay_main, "caucus-relay")]
)
def test_version_flag_prints_the_installed_version(
    main: Callable[[Sequence[str] | None], int], program: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"{program} {INSTALLED}\n"


def test_version_flag_works_as_a_process() -> None:
    """The real entry point (``python -m app``) with no profile and no display."""
    out = subprocess.run(
        [sys.executable, "-m", "app", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == f"caucus {INSTALLED}"


def test_a_checkout_that_was_never_installed_reads_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "caucus-not-installed"\nversion = "9.8.7"\n', encoding="utf-8"
    )
    assert installed_version("caucus-not-installed", tmp_path) == "9.8.7"


@pytest.mark.parametrize(
    "pyproject",
    [
        None,  # no file at all (a frozen bundle without metadata)
        "not toml [",
        '[project]\nname = "someone-else"\nversion = "1.0"\n',
        '[project]\nname = "caucus-not-installed"\nversion = "1.0\\nFAKE"\n',
    ],
)
def test_unknown_when_nothing_trustworthy_says_the_version(
    tmp_path: Path, pyproject: str | None
) -> None:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    assert installed_version("caucus-not-installed", tmp_path) == UNKNOWN
