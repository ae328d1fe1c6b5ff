"""ruff and mypy run as part of the test suite, so the README's one test command checks
style, formatting and types too, over everything CI ships or runs: the packages, the
tests, the benchmarks and the tools (strictness per package is set in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECKED = ["app", "crypto", "relay", "tests", "bench", "tools"]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_ruff_clean() -> None:
    result = run(str(BIN / "ruff"), "check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_ruff_format_clean() -> None:
    result = run(str(BIN / "ruff"), "format", "--check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_clean() -> None:
    result = run(sys.executable, "-m", "mypy", *CHECKED)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
