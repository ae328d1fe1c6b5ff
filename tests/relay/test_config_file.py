"""``serve --config``: TOML file < CAUCUS_RELAY_* variables < flags, strict about keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from relay.__main__ import main
from relay.config import RelayConfig
from relay.config_file import ConfigError, field_types, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "relay" / "config.example.toml"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return f'"{value}"'
    return repr(value)


def _changed(value: object) -> object:
    """A valid value different from a default (strings stay, they may be checked)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 + 1
    return value


def test_every_field_is_settable_from_a_file(tmp_path: Path) -> None:
    defaults = RelayConfig(db_path=Path("unused"))
    wanted = {
        name: _changed(getattr(defaults, name)) for name in field_types() if name != "db_path"
    }
    lines = [f"{name} = {_toml(value)}" for name, value in wanted.items()]
    lines.append('db_path = "data/relay.db"')
    config_file = tmp_path / "relay.toml"
    config_file.write_text("\n".join(lines) + "\n")
    config = load_config({}, {}, config_file)
    for name, value in wanted.items():
        assert getattr(config, name) == value, name
    assert config.db_path == tmp_path / "data" / "relay.db"  # relative to the file


def test_every_field_is_settable_from_the_environment() -> None:
    defaults = RelayConfig(db_path=Path("unused"))
    environ = {"CAUCUS_RELAY_DB_PATH": "/srv/relay.db"}
    wanted = {}
    for name in field_types():
        if name == "db_path":
            continue
        value = _changed(getattr(defaults, name))
        wanted[name] = value
        environ["CAUCUS_RELAY_" + name.upper()] = str(value).lower()
    config = load_config({}, environ)
    for name, value in wanted.items():
        assert getattr(config, name) == value, name
    assert config.db_path == Path("/srv/relay.db")


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    config_file = tmp_path / "relay.toml"
    config_file.write_text('db_path = "/a.db"\nport = 1001\nrate_per_s = 5\nmax_batch = 7\n')
    environ = {"CAUCUS_RELAY_PORT": "1002", "CAUCUS_RELAY_RATE_PER_S": "6"}
    config = load_config({"port": 1003}, environ, config_file)
    assert config.port == 1003  # flag
    assert config.rate_per_s == 6.0  # environment over file
    assert config.max_batch == 7  # file over default
    assert config.db_path == Path("/a.db")
    assert config.read_burst == RelayConfig(db_path=Path("x")).read_burst  # default


def test_the_config_variable_names_the_file(tmp_path: Path) -> None:
    config_file = tmp_path / "relay.toml"
    config_file.write_text('db_path = "r.db"\n')
    config = load_config({}, {"CAUCUS_RELAY_CONFIG": str(config_file)})
    assert config.db_path == tmp_path / "r.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("db_path = 'x'\nport = 'eighty'\n", "port must be an integer"),
        ("db_path = 'x'\nrate_per_s = true\n", "rate_per_s must be a number"),
        ("db_path = 'x'\nmetrics = 1\n", "metrics must be true or false"),
        ("db_path = 3\n", "db_path must be a string"),
        ("db_path = 'x'\nrate_per_sec = 5\n", "unknown key 'rate_per_sec'"),
        ("db_path = 'x'\n[limits]\nrate_per_s = 5\n", "unknown key 'limits'"),
        ("db_path = 'x'\nport = \n", "invalid TOML"),
        ("db_path = 'x'\nretention_days = 0\n", "retention and purge interval must be positive"),
        ("db_path = 'x'\nport = 70000\n", "port out of range"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    config_file = tmp_path / "relay.toml"
    config_file.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config({}, {}, config_file)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CAUCUS_RELAY_PORT": "80.5"}, "CAUCUS_RELAY_PORT: port must be an integer"),
        ({"CAUCUS_RELAY_RATE_PER_S": "nan"}, "rate_per_s must be a number"),
        ({"CAUCUS_RELAY_METRICS": "maybe"}, "metrics must be true or false"),
        ({"CAUCUS_RELAY_RATE": "5"}, "unknown environment variable CAUCUS_RELAY_RATE"),
    ],
)
def test_bad_variables_are_one_line_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({}, {"CAUCUS_RELAY_DB_PATH": "x.db", **environ})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config({}, {}, tmp_path / "missing.toml")


def test_the_example_lists_every_key_at_its_default() -> None:
    config = load_config({}, {}, EXAMPLE)
    defaults = RelayConfig(db_path=config.db_path)
    assert config == defaults
    keys = {line.split("=")[0].strip() for line in EXAMPLE.read_text().splitlines()}
    missing = {f.name for f in dataclasses.fields(RelayConfig)} - keys
    assert not missing, f"add {sorted(missing)} to {EXAMPLE.name}"


def test_cli_reads_the_file_and_reports_bad_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "relay.toml"
    config_file.write_text('db_path = "r.db"\nbogus = 1\n')
    assert main(["serve", "--config", str(config_file)]) == 2
    err = capsys.readouterr().err
    assert err == f"caucus-relay: {config_file}: unknown key 'bogus'\n"
    monkeypatch.setenv("CAUCUS_RELAY_RETENTION_DAYS", "-1")
    config_file.write_text('db_path = "r.db"\n')
    assert main(["serve", "--config", str(config_file)]) == 2
    assert "retention" in capsys.readouterr().err
