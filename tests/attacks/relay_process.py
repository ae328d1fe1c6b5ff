"""A real relay process for attack tests: ``python -m relay serve`` on a loopback socket,
port 0 the first time and the same port after a restart (profiles keep their relay URL),
with the operator's ``backup`` and ``restore`` commands for rewind attacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Attack tests post faster than one member would; the relay's abuse limits are tested
# elsewhere (tests/relay/).
OPEN_LIMITS = ("--rate", "1e6", "--burst", "1e6", "--read-rate", "1e6", "--read-burst", "1e6")


class RelayProcess:
    """``start`` launches it and waits for its "listening" line; ``url`` is then fixed."""

    def __init__(self, db: Path, *extra: str) -> None:
        self.db = db
        self.extra = extra
        self.port = 0
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        if self.port == 0:
            raise RuntimeError("the relay has not started yet")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the relay is already running")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "relay",
                "serve",
                "--db",
                str(self.db),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *OPEN_LIMITS,
                *self.extra,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        listening = threading.Event()
        found: list[int] = []
        proc = self.proc

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.lines.append(line.rstrip())
                if line.startswith("caucus-relay listening on "):
                    found.append(int(line.strip().rsplit(":", 1)[1]))
                    listening.set()
            listening.set()  # the process ended: stop waiting

        threading.Thread(target=read, daemon=True).start()
        listening.wait(30)
        if not found:
            self.kill()
            raise RuntimeError("relay did not start:\n" + "\n".join(self.lines[-20:]))
        self.port = found[0]

    def stop(self) -> None:
        """SIGTERM, as an operator's service manager would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def _relay_command(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "relay", *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"caucus-relay {args[0]} failed: {result.stderr.strip()}")

    def backup(self, out: Path) -> None:
        """``caucus-relay backup`` while the relay serves (SQLite online backup)."""
        self._relay_command("backup", "--db", str(self.db), "--out", str(out))

    def restore(self, source: Path) -> None:
        """Stop, ``caucus-relay restore`` (a new generation id), start on the same port."""
        self.stop()
        self._relay_command("restore", "--from", str(source), "--db", str(self.db))
        self.start()
