"""One Caucus per profile: a second launch hands its caucus:// link to the first and
exits 0; a socket left by a crashed instance does not block the next one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QDir

from app.qt.single_instance import SingleInstance, hand_over, server_name
from tests.qt.helpers import WAIT_MS

ROOT = Path(__file__).resolve().parents[2]
LINK = "caucus://join#AAAA"


def _listening(qtbot, home: Path) -> SingleInstance:  # type: ignore[no-untyped-def]
    instance = SingleInstance(server_name(home))
    assert instance.listen()
    return instance


def test_second_launch_hands_over_its_link(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = _listening(qtbot, tmp_path / "home")
    try:
        with qtbot.waitSignal(first.link_received, timeout=WAIT_MS) as got:
            assert hand_over(server_name(tmp_path / "home"), LINK)
        assert got.args == [LINK]
        with qtbot.waitSignal(first.link_received, timeout=WAIT_MS) as got:
            assert hand_over(server_name(tmp_path / "home"), "")  # no link: just show up
        assert got.args == [""]
        assert not hand_over(server_name(tmp_path / "other"), LINK)  # another profile
    finally:
        first.close()


def test_a_stale_socket_after_a_crash_is_replaced(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    name = server_name(tmp_path / "home")
    path = Path(QDir.tempPath()) / name
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(str(path))  # bound, never listening, never unlinked: what a crash leaves
    crashed.close()
    try:
        assert path.exists()
        assert not hand_over(name, LINK)  # nobody answers
        first = _listening(qtbot, tmp_path / "home")
        try:
            with qtbot.waitSignal(first.link_received, timeout=WAIT_MS) as got:
                assert hand_over(name, LINK)
            assert got.args == [LINK]
        finally:
            first.close()
    finally:
        path.unlink(missing_ok=True)


def test_second_process_exits_zero_after_handing_over(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    first = _listening(qtbot, home)
    received: list[str] = []
    first.link_received.connect(received.append)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    code = "import sys; from app.qt.main import run_desktop; sys.exit(run_desktop(sys.argv[1:]))"
    second = subprocess.Popen(
        [sys.executable, "-c", code, "--home", str(home), "--no-keyring", LINK],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        qtbot.waitUntil(lambda: second.poll() is not None and bool(received), timeout=WAIT_MS * 2)
    finally:
        if second.poll() is None:
            second.kill()
        _out, err = second.communicate()
        first.close()
    assert second.returncode == 0, err.decode()
    assert received == [LINK]
    assert b"already running" in err
