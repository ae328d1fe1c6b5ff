"""``caucus --smoke-test`` shows the first screen offscreen, names it and exits 0.

The packaging build runs the same flag against the bundled binary; this checks the flag
itself on the source tree, in its own process as the bundle would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_smoke_test_shows_the_first_run_screen_of_a_new_profile(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    env.pop("CAUCUS_QT_SMOKE", None)
    out = subprocess.run(
        [sys.executable, "-m", "app", "--smoke-test", "--home", str(tmp_path / "profile")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "caucus smoke test: showing FirstRunScreen" in out.stdout
