"""Settings for the whole suite: Hypothesis profiles, and tools that CI must have.

``CI`` set (to anything but ``""``, ``0`` or ``false``) selects the "ci" Hypothesis profile
(the same examples on every run, no per-example deadline on a busy machine, and the blob to
reproduce a failure printed) and turns a missing external tool into a failure instead of a
skip. ``HYPOTHESIS_PROFILE`` picks a profile explicitly.
"""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import settings


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))

MINISIGN_MISSING = "the minisign tool is not installed (Debian/Ubuntu: apt-get install minisign)"


@pytest.fixture(scope="session")
def minisign() -> str:
    """The path of the stock ``minisign`` binary. Outside CI a test that needs it is skipped
    with a message saying how to install it; in CI (``.ci/run`` installs it) it fails."""
    path = shutil.which("minisign")
    if path is None:
        if in_ci():
            pytest.fail(f"{MINISIGN_MISSING}; CI must have it", pytrace=False)
        pytest.skip(MINISIGN_MISSING)
    return path
