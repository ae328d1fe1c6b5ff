"""ruff and mypy over packaging/'s Python (tests/test_static.py covers app/, relay/, ...)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.helpers import ROOT

BIN = Path(sys.executable).parent
SOURCES = ["packaging/desktop/entry.py", "packaging/desktop/smoke.py"]


@pytest.mark.slow
def test_packaging_python_is_ruff_and_mypy_clean() -> None:
    for command in (
        [str(BIN / "ruff"), "check", *SOURCES],
        [str(BIN / "ruff"), "format", "--check", *SOURCES],
        [sys.executable, "-m", "mypy", "--strict", *SOURCES],
    ):
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
