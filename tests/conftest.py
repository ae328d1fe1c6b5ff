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

# What every process of the app does on import (app/__init__.py): delete the temporary
# copy of libsodium rbcl loads ristretto255 from. The crypto tests use it too.
import app  # noqa: F401

# Tests make many throwaway profiles with short passphrases ("pw", "passphrase of bob"):
# they say so explicitly, here, for the engine in this process and every CLI or daemon
# subprocess (which inherits the environment). The strength floor itself is tested with
# the variable removed (tests/core/test_passphrase_floor.py).
os.environ["CAUCUS_ALLOW_WEAK_PASSPHRASE"] = "1"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))


def require_tool(name: str, install: str, *, path: str | None = None) -> str:
    """The path of an external tool a test needs. Outside CI a missing tool skips the
    test with ``install`` as the hint; in CI (``.ci/run`` installs them all) it fails."""
    found = shutil.which(name, path=path) if path else shutil.which(name)
    if found is None:
        message = f"the {name} tool is not installed ({install})"
        if in_ci():
            pytest.fail(f"{message}; CI must have it", pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def minisign() -> str:
    """The path of the stock ``minisign`` binary (see ``require_tool``)."""
    return require_tool("minisign", "Debian/Ubuntu: apt-get install minisign")
