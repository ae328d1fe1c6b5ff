"""Operations against a real relay process: --config, metrics listener, live backup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from crypto.relay_auth import bearer_header
from relay.__main__ import main
from relay.codec import decode_frames

from .test_socket import OPEN, ROOT, new_mailbox

pytestmark = [pytest.mark.socket, pytest.mark.timeout(90)]


def start(config_file: Path, environ: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """Run ``serve --config``; return the process and its first stdout lines up to listening."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **environ}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relay",
            "serve",
            "--config",
            str(config_file),
            "--port",
            "0",
            *OPEN,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("caucus-relay listening on "):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(20)
    if not lines or not lines[-1].startswith("caucus-relay listening on "):
        proc.kill()
        raise RuntimeError("relay did not start: " + (proc.stderr.read() if proc.stderr else ""))
    return proc, lines


def test_config_file_metrics_and_a_live_backup(tmp_path: Path) -> None:
    config_file = tmp_path / "relay.toml"
    config_file.write_text('db_path = "relay.db"\nport = 1\nmetrics = true\n')
    proc, lines = start(config_file, {"CAUCUS_RELAY_METRICS_PORT": "0"})
    try:
        metrics_url = lines[0].split()[-1]
        url = lines[-1].split()[-1]
        assert metrics_url.startswith("http://127.0.0.1:") and metrics_url.endswith("/metrics")
        assert (tmp_path / "relay.db").exists()  # db_path relative to the config file
        with httpx.Client(base_url=url, timeout=10) as http:
            generation = http.get("/health").json()["generation"]
            path, cap = new_mailbox(http)
            headers = {"Authorization": bearer_header(cap)}
            assert http.post(path + "/items", content=b"kept", headers=headers).status_code == 200
            assert http.get("/metrics").status_code == 404
            # backed up while the process serves
            assert (
                main(["backup", "--db", str(tmp_path / "relay.db"), "--out", str(tmp_path / "b")])
                == 0
            )
            assert http.post(path + "/items", content=b"lost", headers=headers).status_code == 200
        scraped = httpx.get(metrics_url, timeout=10).text
        assert "caucus_relay_items_appended_total 2.0" in scraped
        assert path.split("/")[-1] not in scraped
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    stderr = proc.stderr.read() if proc.stderr else ""
    assert "/v1/" not in stderr and "127.0.0.1" not in stderr  # no paths or IPs logged

    assert main(["restore", "--from", str(tmp_path / "b"), "--db", str(tmp_path / "relay.db")]) == 0
    proc, lines = start(config_file, {"CAUCUS_RELAY_METRICS": "false"})
    try:
        assert len(lines) == 1  # no metrics listener this time
        with httpx.Client(base_url=lines[-1].split()[-1], timeout=10) as http:
            got = http.get(path + "/items", headers=headers)
            assert decode_frames(got.content) == [(1, b"kept")]
            assert got.headers["x-caucus-generation"] != generation
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
