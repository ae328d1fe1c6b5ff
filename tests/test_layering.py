"""The dependency direction of DESIGN.md section 4, checked on the source, not by review.

crypto/ is pure (no I/O, clock, randomness source, Qt or HTTP); relay/ and app/core/ never
import Qt; crypto/ never imports app/ or relay/; app/core never imports app/qt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CRYPTO_FORBIDDEN = {
    "os",
    "io",
    "socket",
    "time",
    "datetime",
    "random",
    "secrets",
    "threading",
    "asyncio",
    "subprocess",
    "sqlite3",
    "sqlcipher3",
    "httpx",
    "PySide6",
    "qasync",
    "pathlib",
    "shutil",
    "tempfile",
    "logging",
    "urllib.request",
    "app",
    "relay",
    "uvicorn",
    "starlette",
}
QT = {"PySide6", "qasync", "shiboken6"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations(package: str, forbidden: set[str]) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if module in forbidden or top in forbidden:
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("crypto", CRYPTO_FORBIDDEN),
        ("relay", QT | {"app"}),
        ("app/core", QT | {"app.qt", "relay"}),
    ],
)
def test_layer_imports(package: str, forbidden: set[str]) -> None:
    assert violations(package, forbidden) == []


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    """The check itself can fail: a planted import is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("import socket\nfrom PySide6 import QtCore\n")
    assert imported_modules(bad) == {"socket", "PySide6"}
