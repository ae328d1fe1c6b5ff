"""The relay's systemd unit: valid for systemd, sandboxed as docs/hosting.md says, and
the relay really runs under the sandbox's strictest memory rule."""

from __future__ import annotations

import ctypes
import errno
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.packaging.helpers import RELAY_PACKAGING, Members, RelayProcess, unit_settings

UNIT = RELAY_PACKAGING / "caucus-relay.service"
INSTALLED_BINARY = "/opt/caucus-relay/bin/caucus-relay"


@pytest.fixture
def systemd_analyze() -> str:
    return require_tool("systemd-analyze", "apt-get install systemd")


REQUIRED = {
    "DynamicUser": "yes",
    "StateDirectory": "caucus-relay",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "MemoryDenyWriteExecute": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
}


def unit_for_check(tmp_path: Path, text: str) -> Path:
    """The unit with ExecStart pointed at a stub, since verify needs the binary to exist."""
    stub = tmp_path / "caucus-relay"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    unit = tmp_path / "caucus-relay.service"
    unit.write_text(text.replace(INSTALLED_BINARY, str(stub)))
    return unit


def verify(systemd_analyze: str, unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze, "verify", unit.name],
        cwd=unit.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_unit_has_the_sandbox_settings() -> None:
    settings = unit_settings(UNIT.read_text())
    for key, value in REQUIRED.items():
        assert settings.get(key) == [value], key
    assert settings["SystemCallFilter"][0] == "@system-service"
    assert settings["ExecStart"][0].startswith(f"{INSTALLED_BINARY} serve ")
    # The relay's state is where StateDirectory= puts it.
    assert "--db /var/lib/caucus-relay/" in settings["ExecStart"][0]


def test_systemd_accepts_the_unit(tmp_path: Path, systemd_analyze: str) -> None:
    result = verify(systemd_analyze, unit_for_check(tmp_path, UNIT.read_text()))
    assert (result.returncode, result.stderr.strip()) == (0, "")


def test_verify_catches_a_broken_unit(tmp_path: Path, systemd_analyze: str) -> None:
    """The check above can fail: a misspelt setting is reported."""
    broken = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=strickt")
    result = verify(systemd_analyze, unit_for_check(tmp_path, broken))
    assert "strickt" in result.stderr  # verify still exits 0: only stderr tells


def test_exposure_score_is_low(tmp_path: Path, systemd_analyze: str) -> None:
    """systemd's own rating of the sandbox, 0 (locked down) to 10 (exposed)."""
    unit = unit_for_check(tmp_path, UNIT.read_text())
    result = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--no-pager", unit.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match is not None, result.stdout[-2000:] + result.stderr
    assert float(match.group(1)) <= 2.0


# -- MemoryDenyWriteExecute, for real ---------------------------------------------------

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
# Sets the same rule MemoryDenyWriteExecute= enforces, then becomes the given command;
# the kernel keeps the rule across execve.
MDWE_EXEC = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    f"if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:\n"
    "    sys.exit('prctl(PR_SET_MDWE) failed: ' + os.strerror(ctypes.get_errno()))\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def _kernel_has_mdwe() -> bool:
    """PR_SET_MDWE exists from Linux 6.3; asked in a child so this process is unchanged."""
    if sys.platform != "linux":
        return False
    probe = (
        "import ctypes, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"sys.exit(0 if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) == 0"
        f" else {errno.EINVAL})\n"
    )
    return subprocess.run([sys.executable, "-c", probe], check=False, timeout=60).returncode == 0


@pytest.fixture
def relay_without_wx_memory(tmp_path: Path) -> Iterator[RelayProcess]:
    if not _kernel_has_mdwe():
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    process = RelayProcess(tmp_path / "relay.db", prefix=[sys.executable, "-c", MDWE_EXEC])
    yield process
    if process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


@pytest.mark.socket
@pytest.mark.slow
def test_relay_serves_members_with_write_execute_memory_refused(
    relay_without_wx_memory: RelayProcess, tmp_path: Path
) -> None:
    """uvloop, httptools and PyNaCl's cffi module under MemoryDenyWriteExecute's rule:
    two headless clients create a group, invite, join and get admitted through it."""
    relay = relay_without_wx_memory
    caucus = Members(tmp_path).run
    caucus("alice", "init", "--name", "Alice", "--relay", relay.url)
    caucus("bob", "init", "--name", "Bob", "--relay", relay.url)
    group_id = caucus("alice", "group", "create", "Union").split()[-1]
    code = caucus("alice", "invite", group_id).split()[-1]
    caucus("bob", "join", code)
    caucus("alice", "sync")
    assert "Joined Union" in caucus("bob", "sync")
    assert relay.proc.poll() is None
    maps = Path(f"/proc/{relay.proc.pid}/maps").read_text()
    assert "uvloop" in maps and "_sodium" in maps
    assert relay.stop() == 0


def test_mdwe_wrapper_really_refuses_write_execute_memory() -> None:
    """The rule the test above relies on is in force in the wrapped process."""
    if not _kernel_has_mdwe():
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    probe = (
        "import mmap\n"
        "try:\n"
        "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "except OSError:\n"
        "    print('refused')\n"
        "else:\n"
        "    print('allowed')\n"
    )
    wrapped = subprocess.run(
        [sys.executable, "-c", MDWE_EXEC, sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert wrapped.stdout.strip() == "refused"
    assert ctypes.CDLL(None).prctl(66, 0, 0, 0, 0) == 0  # this process is untouched
