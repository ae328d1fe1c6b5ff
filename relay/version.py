"""The installed Caucus version, for ``--version`` of both programs.

One distribution (``caucus``) ships the client and the relay, so both print the same
number.  It comes from the installed metadata; a source checkout that was never
installed reads ``pyproject.toml`` instead, and anything else says ``unknown``.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

__all__ = ["DISTRIBUTION", "UNKNOWN", "installed_version", "version_line"]

DISTRIBUTION = "caucus"
UNKNOWN = "unknown"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def installed_version(distribution: str = DISTRIBUTION, source_root: Path = _SOURCE_ROOT) -> str:
    """The version of ``distribution``: metadata first, then the checkout's pyproject.toml."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return _pyproject_version(source_root / "pyproject.toml", distribution)


def _pyproject_version(path: Path, distribution: str) -> str:
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return UNKNOWN
    version = project.get("version")
    if project.get("name") != distribution or not isinstance(version, str):
        return UNKNOWN
    return version if re.fullmatch(r"[0-9A-Za-z.+!-]+", version) else UNKNOWN


def version_line(program: str) -> str:
    """``caucus 0.1.0``: what ``--version`` prints."""
    return f"{program} {installed_version()}"
