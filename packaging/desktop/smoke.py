"""Smoke test of a built desktop bundle: run with any Python 3.11, stdlib only.

``python3 smoke.py UNPACKED_DIR VERSION`` (the folder the tarball unpacks to) checks,
against the frozen binaries and nothing from the source tree: both ``--version`` lines,
the Qt platform plugins, the relay serving ``/health`` on a free port and stopping on
SIGTERM, the headless client creating an encrypted profile and a group on that relay,
a ballot voted on, tallied and verified (its ring signature through the bundled
ristretto255 library), the desktop app showing its first screen offscreen, and
install.sh installing into a scratch home whose ``bin`` links start both programs.
Prints one line per check; exits 1 at the first failure.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import IO

__all__ = ["SmokeFailure", "main", "run_checks"]

TIMEOUT_S = 120.0
PLUGINS = ("libqoffscreen.so", "libqxcb.so")
LISTENING = re.compile(r"caucus-relay listening on (http://\S+)")


class SmokeFailure(Exception):
    """A check failed; the message says which and why in one line."""


def _run(args: list[str], env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        args, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False
    )
    if out.returncode != 0:
        tail = " | ".join(out.stderr.strip().splitlines()[-3:]) or "(no output)"
        raise SmokeFailure(f"{' '.join(args[:3])} exited {out.returncode}: {tail}")
    return out.stdout


def check_versions(bundle: Path, version: str) -> None:
    for program in ("caucus", "caucus-relay"):
        line = _run([str(bundle / program), "--version"]).strip()
        if line != f"{program} {version}":
            raise SmokeFailure(f"{program} --version printed {line!r}")
        print(f"ok: {line}")


def check_plugins(bundle: Path) -> None:
    found = {p.name for p in bundle.rglob("plugins/platforms/*.so")}
    missing = [name for name in PLUGINS if name not in found]
    if missing:
        raise SmokeFailure(f"Qt platform plugins missing: {', '.join(missing)}")
    print(f"ok: Qt platform plugins {', '.join(PLUGINS)}")


def _first_line(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def check_relay_and_client(bundle: Path, work: Path) -> None:
    relay = subprocess.Popen(
        [str(bundle / "caucus-relay"), "serve", "--db", str(work / "relay.db"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    if relay.stdout is None:
        raise SmokeFailure("no pipe to the relay's output")
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_first_line, args=(relay.stdout, lines), daemon=True).start()
    try:
        try:
            match = LISTENING.search(lines.get(timeout=TIMEOUT_S))
        except queue.Empty:
            raise SmokeFailure("the bundled relay did not say it was listening") from None
        if match is None:
            raise SmokeFailure("the bundled relay printed an unexpected first line")
        url = match.group(1)
        with urllib.request.urlopen(f"{url}/health", timeout=TIMEOUT_S) as response:  # noqa: S310
            health = json.loads(response.read())
            if health.get("status") != "ok" or not re.fullmatch(
                r"[0-9a-f]{32}", str(health.get("generation"))
            ):
                raise SmokeFailure(f"/health did not answer ok: {health}")
        print(f"ok: bundled relay at {url} answers /health")
        check_client(bundle, work, url)
    finally:
        relay.send_signal(signal.SIGTERM)
        code = relay.wait(TIMEOUT_S)
    if code != 0:
        raise SmokeFailure(f"the bundled relay exited {code} on SIGTERM")
    print("ok: bundled relay stops cleanly on SIGTERM")


def check_client(bundle: Path, work: Path, url: str) -> None:
    env = {
        **os.environ,
        "CAUCUS_PASSPHRASE": "lantern orbit tractor meadow",
        "CAUCUS_KDF_COST": "interactive",
    }
    home = str(work / "alice")
    caucus = str(bundle / "caucus")
    _run([caucus, "--home", home, "init", "--name", "Smoke", "--relay", url], env)
    group_id = _run([caucus, "--home", home, "group", "create", "Smoke test"], env).split()[-1]
    if not re.fullmatch(r"[0-9a-f]{32,}", group_id):
        raise SmokeFailure(f"group create printed {group_id!r}, not a group id")
    print("ok: headless client created an encrypted profile and a group on the relay")
    # A ballot signs and checks its ring signature with the bundled ristretto255 library.
    _run([caucus, "--home", home, "sync"], env)
    ballot = ["--question", "Smoke?", "--option", "yes", "--option", "no", "--closes-in", "1h"]
    created = _run([caucus, "--home", home, "ballot", "create", "Smoke test", *ballot], env)
    ballot_id = created.split()[-1]
    steps = (("vote", ballot_id, "yes"), ("close", ballot_id), ("verify", ballot_id))
    said = [_run([caucus, "--home", home, "ballot", *step], env).strip() for step in steps]
    if not said[-1].endswith("The stored result is what a fresh tally gives"):
        raise SmokeFailure(f"ballot verify printed {said[-1]!r}")
    print("ok: a ballot was created, voted on, tallied and verified")


def check_desktop(bundle: Path, work: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(work / "cfg")}
    out = _run([str(bundle / "caucus"), "--smoke-test", "--home", str(work / "new")], env)
    if "showing FirstRunScreen" not in out:
        raise SmokeFailure(f"the desktop app showed something else: {out.strip()!r}")
    print(f"ok: desktop app offscreen: {out.strip()}")


def check_install(unpacked: Path, version: str, work: Path) -> None:
    home = work / "home"
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    _run(["sh", str(unpacked / "install.sh")], env)
    check_versions(home / ".local" / "bin", version)
    print("ok: install.sh into a scratch home; its bin links start both programs")


def run_checks(unpacked: Path, version: str) -> None:
    bundle = unpacked / "caucus"
    with tempfile.TemporaryDirectory(prefix="caucus-smoke-") as tmp:
        work = Path(tmp)
        check_versions(bundle, version)
        check_plugins(bundle)
        check_relay_and_client(bundle, work)
        check_desktop(bundle, work)
        check_install(unpacked, version, work)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: smoke.py UNPACKED_DIR VERSION", file=sys.stderr)
        return 2
    try:
        run_checks(Path(argv[0]), argv[1])
    except (SmokeFailure, OSError, subprocess.SubprocessError) as exc:
        print(f"smoke: FAIL: {exc}", file=sys.stderr)
        return 1
    print("smoke: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
