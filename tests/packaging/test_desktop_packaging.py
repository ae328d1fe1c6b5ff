"""The desktop bundle's recipe and installer: the PyInstaller spec ships every data file
the code reads, the .desktop entry is valid, install.sh installs and uninstalls in a
home of its own.  (The bundle itself is built and smoke-tested by packaging/desktop/build.sh,
which .ci/run runs after the tests.)"""

from __future__ import annotations

import ast
import fnmatch
import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from tests.conftest import require_tool
from tests.packaging.helpers import DESKTOP_PACKAGING, ROOT

SPEC = DESKTOP_PACKAGING / "caucus.spec"
DATA_SUFFIXES = {".qss", ".svg", ".png", ".sql", ".json"}  # pyproject's package-data


def spec_collections() -> tuple[set[str], list[tuple[str, list[str]]]]:
    """(hidden imports, [(package, include patterns)] of collect_data_files) in the spec."""
    tree = ast.parse(SPEC.read_text())
    hidden: set[str] = set()
    collected: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "hiddenimports" for t in node.targets
        ):
            hidden |= {ast.literal_eval(e) for e in node.value.elts}  # type: ignore[attr-defined]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "collect_data_files"
        ):
            includes = next(
                (ast.literal_eval(k.value) for k in node.keywords if k.arg == "includes"), ["**/*"]
            )
            collected.append((ast.literal_eval(node.args[0]), includes))
    return hidden, collected


def packages_read_by_name() -> set[str]:
    """Packages the code opens with importlib.resources.files("name") (directly or through
    a module constant): the bundle's import scanner cannot see them."""
    found: set[str] = set()
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "relay").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
            for t in n.targets
            if isinstance(t, ast.Name) and isinstance(n.value.value, str)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "files"
                and node.args
            ):
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
                elif isinstance(arg, ast.Name) and arg.id in constants:
                    found.add(constants[arg.id])
    return found


def test_spec_imports_every_package_read_by_name() -> None:
    hidden, _ = spec_collections()
    read = packages_read_by_name()
    assert {"relay.migrations", "app.core.migrations"} <= read  # the scan sees them
    assert read - {"relay"} <= hidden  # `relay` itself is imported normally


def test_spec_ships_every_data_file() -> None:
    _, collected = spec_collections()
    missing = []
    for top in ("app", "relay", "resources"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix not in DATA_SUFFIXES or "__pycache__" in path.parts:
                continue
            rel = PurePosixPath(path.relative_to(ROOT).as_posix())
            if not any(_collects(package, includes, rel) for package, includes in collected):
                missing.append(str(rel))
    assert missing == []


def _collects(package: str, includes: list[str], rel: PurePosixPath) -> bool:
    base = PurePosixPath(*package.split("."))
    if not rel.is_relative_to(base):
        return False
    inside = rel.relative_to(base).as_posix()
    return any(
        fnmatch.fnmatch(inside, pattern) or fnmatch.fnmatch(inside, pattern.removeprefix("**/"))
        for pattern in includes
    )


def test_spec_check_sees_a_missing_file() -> None:
    """The check above can fail: a file outside every collected pattern is reported."""
    assert _collects("relay.migrations", ["*.sql"], PurePosixPath("relay/migrations/1.sql"))
    assert not _collects("relay", ["openapi.json"], PurePosixPath("relay/other.json"))


# -- the .desktop entry and install.sh ---------------------------------------------------


def test_desktop_entry_opens_caucus_links() -> None:
    entry = (DESKTOP_PACKAGING / "caucus.desktop").read_text().splitlines()
    assert "Exec=caucus %u" in entry
    assert "MimeType=x-scheme-handler/caucus;" in entry
    assert "Icon=caucus" in entry
    validate = require_tool("desktop-file-validate", "apt-get install desktop-file-utils")
    if validate:
        result = subprocess.run(
            [validate, str(DESKTOP_PACKAGING / "caucus.desktop")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def unpacked(tmp_path: Path) -> Path:
    """An unpacked tarball's layout with a stand-in for the frozen binary."""
    folder = tmp_path / "caucus-0.0.0-linux-x86_64"
    program = folder / "caucus"
    (program / "_internal").mkdir(parents=True)
    binary = program / "caucus"
    binary.write_text('#!/bin/sh\necho "$(basename "$0") $*"\n')
    binary.chmod(0o755)
    (program / "caucus-relay").symlink_to("caucus")
    for name in ("caucus.desktop", "install.sh"):
        shutil.copy2(DESKTOP_PACKAGING / name, folder / name)
    shutil.copy2(ROOT / "resources" / "icons" / "caucus.svg", folder / "caucus.svg")
    return folder


def run_install(folder: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    tools = home / "tools"
    tools.mkdir(parents=True, exist_ok=True)
    # xdg-mime as a recorder: we check what install.sh asks of the desktop, not the desktop
    recorder = tools / "xdg-mime"
    recorder.write_text(f'#!/bin/sh\necho "$*" >> "{home}/xdg-mime.log"\n')
    recorder.chmod(0o755)
    env = {"HOME": str(home), "PATH": f"{tools}:/usr/bin:/bin"}
    return subprocess.run(
        ["sh", str(folder / "install.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_install_puts_caucus_in_the_users_home(unpacked: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_install(unpacked, home)
    assert result.returncode == 0, result.stderr
    local = home / ".local"
    lib = local / "lib" / "caucus"
    for name in ("caucus", "caucus-relay"):
        link = local / "bin" / name
        assert link.resolve() == (lib / "caucus").resolve()
        ran = subprocess.run([str(link), "--version"], capture_output=True, text=True, check=True)
        assert ran.stdout.strip() == f"{name} --version"  # each name reaches the binary
    entry = (local / "share" / "applications" / "caucus.desktop").read_text()
    assert f'Exec="{lib}/caucus" %u' in entry.splitlines()
    assert "MimeType=x-scheme-handler/caucus;" in entry
    icon = local / "share" / "icons" / "hicolor" / "scalable" / "apps" / "caucus.svg"
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "caucus.svg").read_bytes()
    mime_calls = (home / "xdg-mime.log").read_text().splitlines()
    assert mime_calls == ["default caucus.desktop x-scheme-handler/caucus"]


def test_reinstall_replaces_and_uninstall_removes(unpacked: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_install(unpacked, home).returncode == 0
    stale = home / ".local" / "lib" / "caucus" / "_internal" / "from-old-version"
    stale.write_text("old")
    assert run_install(unpacked, home).returncode == 0
    assert not stale.exists()
    profile = home / ".local" / "share" / "caucus" / "profile.db"
    profile.parent.mkdir(parents=True)
    profile.write_text("keep me")
    result = run_install(unpacked, home, "--uninstall")
    assert result.returncode == 0, result.stderr
    local = home / ".local"
    assert not (local / "lib" / "caucus").exists()
    assert not os.path.lexists(local / "bin" / "caucus")
    assert not (local / "share" / "applications" / "caucus.desktop").exists()
    assert profile.read_text() == "keep me"


def test_install_refuses_to_run_outside_the_unpacked_folder(tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy2(DESKTOP_PACKAGING / "install.sh", lone / "install.sh")
    result = run_install(lone, tmp_path / "home")
    assert result.returncode == 1
    assert "unpacked" in result.stderr
    assert not (tmp_path / "home" / ".local" / "bin").exists()
