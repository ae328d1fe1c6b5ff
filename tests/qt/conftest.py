"""Fixtures for the desktop app's tests: offscreen Qt, fast Argon2id, a real relay on a
loopback socket, and app instances driven through their widgets. Nothing is mocked."""

from __future__ import annotations

import os

# Before any Qt import: no display is needed, and key derivation is quick.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["CAUCUS_KDF_COST"] = "interactive"

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.qt.controller import AppController, LaunchOptions
from app.qt.settings import DesktopSettings
from app.qt.theme import apply_theme
from relay.embedded import EmbeddedRelay
from tests.qt.garbage import collector_finds


@pytest.fixture(autouse=True)
def no_live_qt_object_left_to_the_collector() -> Iterator[None]:
    """Fails a test after which the cyclic collector would have freed a live Qt object,
    possibly on the engine thread (tests/qt/garbage.py says why that matters)."""
    with collector_finds() as found:
        yield
    assert found == [], f"live Qt objects left in reference cycles: {sorted(found)}"


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test runs once in each theme; the light one is put back afterwards."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, request.param)
    try:
        yield request.param
    finally:
        apply_theme(app, "light")


class RestartableRelay:
    """An embedded relay that can be stopped and started again on the same port and db."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.port = 0
        self._relay: EmbeddedRelay | None = None
        self.url = ""

    def start(self) -> None:
        relay = EmbeddedRelay(self.db_path, port=self.port)
        relay.start()
        self._relay = relay
        self.url = relay.url
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._relay is not None:
            self._relay.stop()
            self._relay = None


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RestartableRelay]:
    server = RestartableRelay(tmp_path / "relay.db")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_app(qtbot, tmp_path: Path) -> Iterator[Callable[..., AppController]]:  # type: ignore[no-untyped-def]
    """``make_app("alice")`` → a started AppController with its own profile directory."""
    made: list[AppController] = []
    stores: list[QSettings] = []

    def factory(name: str, **options: object) -> AppController:
        store = QSettings(str(tmp_path / f"{name}-settings.ini"), QSettings.Format.IniFormat)
        stores.append(store)
        controller = AppController(
            LaunchOptions(home=tmp_path / name, use_keyring=False, **options),  # type: ignore[arg-type]
            settings=DesktopSettings(store),
        )
        made.append(controller)
        controller.start()
        return controller

    yield factory
    for controller in made:
        controller.shutdown()
        # In the app the controller lives as long as the process; here it goes now, on
        # this thread, rather than whenever (and wherever) the collector gets to it.
        shiboken6.delete(controller)
    for store in stores:  # the test's settings files, likewise
        shiboken6.delete(store)
