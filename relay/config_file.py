"""Building a ``RelayConfig`` from a TOML file, ``CAUCUS_RELAY_*`` variables and flags.

Precedence, highest first: command-line flags, environment, config file, defaults.  Every
``RelayConfig`` field is a key (``rate_per_s = 50.0``) and a variable
(``CAUCUS_RELAY_RATE_PER_S=50``); the keys are read from the dataclass itself, so a field
added to ``RelayConfig`` is configurable without touching this module.  An unknown key or
variable, or a value of the wrong type, is a ``ConfigError`` whose message is one line
naming where the bad setting came from.  Relative paths in a file are relative to the file.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path

from relay.config import RelayConfig

__all__ = ["CONFIG_VARIABLE", "ENV_PREFIX", "ConfigError", "field_types", "load_config"]

ENV_PREFIX = "CAUCUS_RELAY_"
CONFIG_VARIABLE = ENV_PREFIX + "CONFIG"
"""Names the config file when ``--config`` is not given."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is unknown or invalid; the message says which and where, in one line."""


def field_types() -> dict[str, type]:
    """Each ``RelayConfig`` field and its type (``Path``, ``str``, ``int``, ``float``, ``bool``)."""
    hints = typing.get_type_hints(RelayConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(RelayConfig) if f.init}


def _from_toml(name: str, kind: type, value: object, where: str, base: Path) -> object:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {name} must be true or false")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {name} must be an integer")
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isnan(value):
                raise ConfigError(f"{where}: {name} must be a number")
            return float(value)
        raise ConfigError(f"{where}: {name} must be a number")
    if isinstance(value, str) and (kind is str or kind is Path):
        return value if kind is str else base / Path(value).expanduser()
    raise ConfigError(f"{where}: {name} must be a string")


def _from_text(name: str, kind: type, text: str, where: str) -> object:
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError
        if kind is int:
            return int(text.strip(), 10)
        if kind is float:
            number = float(text.strip())
            if math.isnan(number):
                raise ValueError
            return number
    except ValueError:
        noun = {bool: "true or false", int: "an integer", float: "a number"}[kind]
        raise ConfigError(f"{where}: {name} must be {noun}") from None
    return Path(text).expanduser() if kind is Path else text


def read_file(path: Path) -> dict[str, object]:
    """The settings in a TOML file, typed; unknown keys and bad values raise."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    types = field_types()
    base = path.parent
    values: dict[str, object] = {}
    for name, value in raw.items():
        if name not in types:
            raise ConfigError(f"{path}: unknown key {name!r}")
        values[name] = _from_toml(name, types[name], value, str(path), base)
    return values


def read_environment(environ: Mapping[str, str]) -> dict[str, object]:
    """The settings in ``CAUCUS_RELAY_<FIELD>`` variables; unknown ones raise."""
    types = field_types()
    values: dict[str, object] = {}
    for variable, text in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable == CONFIG_VARIABLE:
            continue
        name = variable[len(ENV_PREFIX) :].lower()
        if name not in types:
            raise ConfigError(f"unknown environment variable {variable}")
        values[name] = _from_text(name, types[name], text, variable)
    return values


def load_config(
    flags: Mapping[str, object],
    environ: Mapping[str, str],
    config_file: Path | None = None,
) -> RelayConfig:
    """Merge defaults < ``config_file`` < ``environ`` < ``flags`` into a checked config.

    ``flags`` holds only the settings given on the command line, by field name.
    ``config_file`` defaults to ``$CAUCUS_RELAY_CONFIG`` when set.
    """
    if config_file is None and environ.get(CONFIG_VARIABLE):
        config_file = Path(environ[CONFIG_VARIABLE])
    values: dict[str, object] = {}
    if config_file is not None:
        values.update(read_file(config_file))
    values.update(read_environment(environ))
    types = field_types()
    for name, value in flags.items():
        if name not in types:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = value
    if "db_path" not in values and not values.get("db_url"):
        raise ConfigError(
            "no database: give --db, db_path or db_url in the config file, "
            "or CAUCUS_RELAY_DB_PATH or CAUCUS_RELAY_DB_URL"
        )
    values.setdefault("db_path", Path())  # unused when db_url names a PostgreSQL database
    try:
        return RelayConfig(**values)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc).splitlines()[0]) from None
