"""The rules of the bridge between the GUI thread and the engine's thread, as its module
docstring states them: results and errors come back on the GUI thread, once; a command
submitted while the engine opens runs when it is open; a stop drops pending callbacks;
before the start and after a stop a command fails at once with "the profile is locked"."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.core.api import ClientError, Command, CreateGroup
from app.core.engine import Engine
from app.core.profile import create_profile_with_key
from app.qt.engine_bridge import EngineBridge
from tests.qt.conftest import RestartableRelay
from tests.qt.helpers import WAIT_MS


class _Hang(Command[None]):
    """A command that never finishes by itself (until the engine loop is cancelled)."""

    def __init__(self, started: threading.Event) -> None:
        self.started = started

    async def run(self, engine: Engine) -> None:
        self.started.set()
        await asyncio.Event().wait()


def _profile(home: Path, relay_url: str) -> bytes:
    db, key = create_profile_with_key(
        home, name="Ana", relay_url=relay_url, passphrase="a long test passphrase",
        rng=os.urandom, now=int(time.time() * 1000), cost="interactive",
    )  # fmt: skip
    db.close()
    return key


def test_bridge_rules(qtbot, tmp_path: Path, relay: RestartableRelay) -> None:  # type: ignore[no-untyped-def]
    key = _profile(tmp_path / "ana", relay.url)
    bridge = EngineBridge()
    done: list[tuple[object, threading.Thread]] = []
    errors: list[tuple[Exception, threading.Thread]] = []

    def on_done(result: object) -> None:
        done.append((result, threading.current_thread()))

    def on_error(error: Exception) -> None:
        errors.append((error, threading.current_thread()))

    bridge.submit(CreateGroup("Too early"), on_done, on_error)
    assert [str(e) for e, _ in errors] == ["the profile is locked"] and not done

    with qtbot.waitSignal(bridge.started, timeout=WAIT_MS):
        bridge.start(tmp_path / "ana", key)
        bridge.submit(CreateGroup("While opening"), on_done, on_error)  # queued until open
    qtbot.waitUntil(lambda: len(done) == 1, timeout=WAIT_MS)
    group_id, thread = done[0]
    assert isinstance(group_id, bytes) and len(group_id) == 16
    assert thread is threading.main_thread()

    bridge.submit(CreateGroup(""), on_done, on_error)  # refused by the engine
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=WAIT_MS)
    error, thread = errors[1]
    assert isinstance(error, ClientError) and "group name" in str(error)
    assert thread is threading.main_thread()

    started = threading.Event()
    bridge.submit(_Hang(started), on_done, on_error)
    qtbot.waitUntil(started.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(bridge.stopped, timeout=WAIT_MS):
        bridge.stop()
    QApplication.processEvents()
    assert len(done) == 1 and len(errors) == 2  # the pending command never reported

    bridge.submit(CreateGroup("After the stop"), on_done, on_error)
    assert str(errors[-1][0]) == "the profile is locked" and len(errors) == 3
    assert bridge.wait()
