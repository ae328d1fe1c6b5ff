"""The dependency direction of DESIGN.md section 4, checked on the source, not by review.

- crypto/ is pure: no I/O, clock, randomness source, Qt or HTTP imports, and no use of a
  global random or clock function at all (``rng`` and ``now`` are passed in);
- relay/ and app/core/ never import Qt; crypto/ never imports app/ or relay/; app/core never
  imports app/qt;
- app/qt/ reaches app/core only through the engine facade and the view, event and error
  modules; crypto/ and relay/ internals not at all (the embedded relay it can start aside);
- the CLI (app/cli*.py) never imports Qt, app/qt or relay/.

Each rule has a test that feeds its checker a small planted source, so a rule that can no
longer fail is noticed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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
    "uuid",
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

# Global sources of randomness and time. crypto/ takes ``rng`` and ``now`` as arguments;
# any use of one of these (called, or passed along as a default) is a violation.
GLOBAL_SOURCES = (
    "os.urandom",
    "os.getrandom",
    "random",
    "secrets",
    "uuid.uuid1",
    "uuid.uuid4",
    "time",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
    "nacl.utils.random",
    "nacl.bindings.randombytes",
    "nacl.bindings.crypto_box_keypair",
    "nacl.bindings.crypto_sign_keypair",
    "nacl.bindings.crypto_kx_keypair",
    "nacl.public.PrivateKey.generate",
    "nacl.signing.SigningKey.generate",
)

# What app/qt may import from app/core: the facade (commands, view values, errors, the
# limits a form needs) and the events it reports.
QT_CORE_ALLOWED = {
    "app.core.api",
    "app.core.events",
}
# The embedded relay is started by the desktop app itself (app/qt/session.py).
QT_RELAY_ALLOWED = {"relay.embedded"}

# Imports app/qt still makes past the facade; this list may only shrink
# (test_qt_exceptions_are_still_needed fails for an entry nothing needs any more):
# - the bridge runs the engine (it opens it with the key and runs commands on it);
# - opening a profile (Argon2id, the keyring, a passphrase change) happens before there
#   is an engine, on a job thread;
# - the read-only, secret-free reader (``Queries.reader``) and ``BallotReader`` feed the
#   long lists without a round trip to the engine's thread.
QT_EXCEPTIONS = {
    ("app/qt/engine_bridge.py", "app.core.engine"),
    ("app/qt/engine_bridge.py", "app.core.profile"),
    ("app/qt/controller.py", "app.core.profile"),
    ("app/qt/session.py", "app.core.profile"),
    ("app/qt/session.py", "app.core.database"),
    ("app/qt/session.py", "app.core.queries"),
    ("app/qt/ballots_panel.py", "app.core.queries"),
    ("app/qt/ballots_panel.py", "app.core.ballot_views"),
    ("app/qt/dialogs/search.py", "app.core.queries"),
    ("app/qt/group_tabs.py", "app.core.queries"),
    ("app/qt/main_window.py", "app.core.queries"),
    ("app/qt/members.py", "app.core.queries"),
    ("app/qt/message_model.py", "app.core.queries"),
}


# -- reading imports ---------------------------------------------------------------------


def _package_of(rel_path: str) -> list[str]:
    """``app/qt/dialogs/join.py`` and ``app/qt/dialogs/__init__.py`` -> app, qt, dialogs."""
    return rel_path.removesuffix(".py").split("/")[:-1]


def imports(source: str, rel_path: str) -> set[str]:
    """Every module (and ``module.name`` for ``from module import name``) a source imports,
    relative imports resolved against ``rel_path``, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=rel_path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(rel_path)
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def imported_modules(path: Path) -> set[str]:
    return imports(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())


def _sources(*patterns: str) -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        for path in sorted(ROOT.glob(pattern)):
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def _under(module: str, names: set[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


def forbidden_imports(source: str, rel_path: str, forbidden: set[str]) -> list[str]:
    return sorted(
        f"{rel_path} imports {module}"
        for module in imports(source, rel_path)
        if _under(module, forbidden)
    )


def violations(package: str, forbidden: set[str]) -> list[str]:
    return [
        bad
        for rel_path, source in _sources(f"{package}/**/*.py")
        for bad in forbidden_imports(source, rel_path, forbidden)
    ]


# -- app/qt -> app/core ------------------------------------------------------------------


def _core_module(name: str) -> str:
    """``app.core.views.GroupView`` -> ``app.core.views``; ``app.core.Engine`` -> ``app.core``."""
    parts = name.split(".")
    if len(parts) > 2:
        core = ROOT / "app" / "core"
        if (core / f"{parts[2]}.py").exists() or (core / parts[2]).is_dir():
            return ".".join(parts[:3])
    return "app.core"


def _crypto_or_relay_module(name: str) -> str:
    """The deepest prefix of ``name`` that is a module or package of this repository."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        path = ROOT.joinpath(*parts[:end])
        if path.with_suffix(".py").exists() or path.is_dir():
            return ".".join(parts[:end])
    return name


def qt_reaches(source: str, rel_path: str) -> set[tuple[str, str]]:
    """(file, module) for each app/core, crypto or relay module the source imports beyond
    what app/qt may; the caller applies QT_EXCEPTIONS."""
    reached: set[tuple[str, str]] = set()
    for name in imports(source, rel_path):
        top = name.split(".")[0]
        if name == "app.core" or name.startswith("app.core."):
            module = _core_module(name)
            if module not in QT_CORE_ALLOWED:
                reached.add((rel_path, module))
        elif top in {"crypto", "relay"}:
            module = _crypto_or_relay_module(name)
            if not _under(module, QT_RELAY_ALLOWED):
                reached.add((rel_path, module))
    return reached


def qt_layer_violations() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for rel_path, source in _sources("app/qt/**/*.py"):
        found |= qt_reaches(source, rel_path)
    return found


def test_qt_reaches_core_only_through_the_facade() -> None:
    new = qt_layer_violations() - QT_EXCEPTIONS
    assert sorted(new) == [], "app/qt must go through the engine facade, views and events"


def test_qt_exceptions_are_still_needed() -> None:
    """The exception list only shrinks: an entry nothing needs any more must go."""
    stale = QT_EXCEPTIONS - qt_layer_violations()
    assert sorted(stale) == [], "remove these from QT_EXCEPTIONS in tests/test_layering.py"


def test_qt_checker_sees_internals(tmp_path: Path) -> None:
    planted = (
        "from app.core.database import Database\n"
        "from app.core import profile\n"
        "from app.core.api import SendText\n"
        "from app.core.events import MessageAdded\n"
        "from app.core.views import GroupView\n"
        "from app.core import Engine\n"
        "import crypto.ratchet\n"
        "from relay.store import Store\n"
        "from relay.embedded import EmbeddedRelay\n"
        "from ..core.queries import Queries\n"
    )
    assert qt_reaches(planted, "app/qt/planted.py") == {
        ("app/qt/planted.py", "app.core.database"),
        ("app/qt/planted.py", "app.core.profile"),
        ("app/qt/planted.py", "crypto.ratchet"),
        ("app/qt/planted.py", "relay.store"),
        ("app/qt/planted.py", "app.core.queries"),
        ("app/qt/planted.py", "app.core.views"),
        ("app/qt/planted.py", "app.core"),
    }


# -- the other layers --------------------------------------------------------------------

CLI_FORBIDDEN = QT | {"app.qt", "relay"}
# The one relay module the CLI may use: the shared version line (``--version``).
CLI_RELAY_ALLOWED = {"relay.version"}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("crypto", CRYPTO_FORBIDDEN),
        ("relay", QT | {"app"}),
        ("app/core", QT | {"app.qt", "relay"}),
        ("app/qt", {"sqlite3", "sqlcipher3", "httpx"}),
    ],
)
def test_layer_imports(package: str, forbidden: set[str]) -> None:
    assert violations(package, forbidden) == []


def test_cli_has_no_qt_and_no_relay_internals() -> None:
    bad = [
        problem
        for rel_path, source in _sources("app/cli*.py")
        for problem in forbidden_imports(source, rel_path, CLI_FORBIDDEN)
        if not _under(problem.rsplit(" imports ", 1)[1], CLI_RELAY_ALLOWED)
    ]
    assert bad == []


def test_checker_sees_a_violation() -> None:
    """The import checks themselves can fail: planted imports are reported, including a
    relative one and one inside a function."""
    planted = "import socket\nfrom PySide6 import QtCore\ndef f():\n    from .qt import main\n"
    assert imports(planted, "app/cli_planted.py") >= {"socket", "PySide6", "app.qt.main"}
    assert forbidden_imports(planted, "app/cli_planted.py", CLI_FORBIDDEN) == [
        "app/cli_planted.py imports PySide6",
        "app/cli_planted.py imports PySide6.QtCore",
        "app/cli_planted.py imports app.qt",
        "app/cli_planted.py imports app.qt.main",
    ]
    assert forbidden_imports("from relay.store import x\n", "app/cli.py", CLI_FORBIDDEN)


# -- global randomness and clocks in crypto/ ---------------------------------------------


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from the imports in a module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def global_sources(source: str, rel_path: str) -> list[str]:
    """Each use of a global randomness or clock function, as ``path:line name``."""
    tree = ast.parse(source, filename=rel_path)
    aliases = _aliases(tree)
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in inner:  # part of a longer dotted name, judged whole
            continue
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            name = _dotted(node, aliases)
            if name is not None and _under(name, set(GLOBAL_SOURCES)):
                found.add(f"{rel_path}:{node.lineno} {name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                if _under(name, set(GLOBAL_SOURCES)):
                    found.add(f"{rel_path}:{node.lineno} {name}")
    return sorted(found)


def test_crypto_uses_no_global_randomness_or_clock() -> None:
    bad = [
        problem
        for rel_path, source in _sources("crypto/**/*.py")
        for problem in global_sources(source, rel_path)
    ]
    assert bad == [], "crypto/ takes rng and now as arguments"


def test_global_source_checker_sees_each_kind() -> None:
    planted = (
        "import os\n"
        "import nacl.utils\n"
        "import datetime as dt\n"
        "import secrets\n"
        "from nacl.public import PrivateKey\n"
        "from time import monotonic\n"
        "from random import Random\n"
        "def f(rng=os.urandom):\n"
        "    return nacl.utils.random(32), dt.datetime.now(), secrets.token_bytes(8)\n"
        "key = PrivateKey.generate()\n"
        "fine = nacl.utils.randombytes_deterministic(32, bytes(32)), dt.timedelta(1)\n"
    )
    assert global_sources(planted, "crypto/planted.py") == [
        "crypto/planted.py:10 nacl.public.PrivateKey.generate",
        "crypto/planted.py:6 time.monotonic",
        "crypto/planted.py:7 random.Random",
        "crypto/planted.py:8 os.urandom",
        "crypto/planted.py:9 datetime.datetime.now",
        "crypto/planted.py:9 nacl.utils.random",
        "crypto/planted.py:9 secrets.token_bytes",
    ]
