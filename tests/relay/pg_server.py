"""A throwaway PostgreSQL server for the relay tests (Debian's ``postgresql`` package).

``initdb`` into a fresh directory under /tmp, a server listening only on a Unix socket in
that directory (no TCP port), trust authentication for its one role.  PostgreSQL refuses to
run as root, so as root the cluster belongs to ``nobody``.  Each test gets its own schema
(``search_path`` in the URL), which is cheaper than a database per test.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = ["PgServer", "find_bindir", "start_server"]

ROLE = "caucus"


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are (``/usr/lib/postgresql/<ver>/bin`` on Debian);
    None also when psycopg (the ``relay-pg`` extra) is not installed."""
    if importlib.util.find_spec("psycopg") is None:
        return None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version_key(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


@dataclass(frozen=True)
class PgServer:
    """A running throwaway server; ``url(schema)`` connects into one schema."""

    directory: Path

    def url(self, database: str = "postgres", schema: str | None = None) -> str:
        url = f"postgresql://{ROLE}@/{database}?host={quote(str(self.directory), safe='/')}"
        if schema is not None:
            url += "&options=" + quote(f"-c search_path={schema}")
        return url

    @contextlib.contextmanager
    def schema(self) -> Iterator[str]:
        """A fresh, empty schema's URL; dropped (with everything in it) afterwards."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        try:
            yield self.url(schema=name)
        finally:
            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {name} CASCADE")


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return command if owner is None else ["runuser", "-u", owner, "--", *command]


@contextlib.contextmanager
def start_server(bindir: Path) -> Iterator[PgServer]:
    """initdb, start, yield, stop and delete; the whole cluster lives in one tmp dir."""
    directory = Path(tempfile.mkdtemp(prefix="caucus-pg-"))
    owner = "nobody" if os.geteuid() == 0 else None
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    data = directory / "data"
    log = directory / "server.log"
    started = False
    try:
        subprocess.run(
            _as_owner(
                [str(bindir / "initdb"), "-D", str(data), "-U", ROLE, "-A", "trust", "-E", "UTF8"],
                owner,
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{directory}' "
            "-c max_connections=200"
        )
        subprocess.run(
            _as_owner(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-o",
                    options,
                    "start",
                ],
                owner,
            ),
            check=True,
            capture_output=True,
        )
        started = True
        yield PgServer(directory)
    finally:
        if started:
            subprocess.run(
                _as_owner(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner
                ),
                check=False,
                capture_output=True,
            )
        shutil.rmtree(directory, ignore_errors=True)
