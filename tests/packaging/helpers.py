"""Shared bits of the packaging tests: paths, unit-file parsing, a relay process."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELAY_PACKAGING = ROOT / "packaging" / "relay"
DESKTOP_PACKAGING = ROOT / "packaging" / "desktop"
LISTENING = re.compile(r"caucus-relay listening on (http://\S+)")


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Key=value`` lines of a systemd unit, every value of a repeated key kept in order."""
    settings: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


class RelayProcess:
    """``prefix + python -m relay serve --db DB --port PORT``; ``url`` from its first line."""

    def __init__(self, db: Path, prefix: list[str] | None = None, port: int = 0) -> None:
        serve = ["serve", "--db", str(db), "--port", str(port)]
        self.proc = subprocess.Popen(
            [*(prefix or []), sys.executable, "-m", "relay", *serve],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()
        try:
            match = LISTENING.search(lines.get(timeout=60))
        except queue.Empty:
            match = None
        if match is None:
            self.proc.kill()
            _out, err = self.proc.communicate(timeout=30)
            raise RuntimeError(f"relay did not start: {err.strip()[-500:]}")
        self.url = match.group(1)

    def _read(self, lines: queue.Queue[str]) -> None:
        if self.proc.stdout is not None:
            for line in self.proc.stdout:
                lines.put(line)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


class Members:
    """The headless client (``python -m app``) with one profile folder per member."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CAUCUS_PASSPHRASE": "packaging test",
            "CAUCUS_KDF_COST": "interactive",
        }

    def run(self, member: str, *args: str) -> str:
        """Run one command as ``member``; its stdout, or an error naming its stderr."""
        result = subprocess.run(
            [sys.executable, "-m", "app", "--home", str(self.folder / member), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"caucus {args[0]} as {member} failed: {result.stderr.strip()}")
        return result.stdout
