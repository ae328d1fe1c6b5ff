"""Steps a person takes in the app, expressed through the widgets, for the Qt tests."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.qt.controller import AppController
from app.qt.main_window import MainWindow
from app.qt.message_model import Roles

WAIT_MS = 30_000
PASSPHRASE = "correct horse battery staple"


def click(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    """Click the middle of ``widget`` once it is on screen with a size, as a person would.

    A panel that has just been shown is laid out by a posted event; until then its buttons
    can be zero pixels wide, and a click "in the middle" of one misses it."""
    qtbot.waitUntil(lambda: widget.isVisible() and not widget.rect().isEmpty(), timeout=WAIT_MS)
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def create_profile(
    qtbot,
    app: AppController,
    name: str,
    relay_url: str = "",  # type: ignore[no-untyped-def]
    *,
    embedded: bool = False,
) -> MainWindow:
    """Fill in the first-run screen and wait for the main window."""
    screen = app.first_run
    assert screen is not None, "expected the first-run screen"
    qtbot.keyClicks(screen.name, name)
    qtbot.keyClicks(screen.passphrase, PASSPHRASE)
    qtbot.keyClicks(screen.repeat, PASSPHRASE)
    if embedded:
        screen.embedded.setChecked(True)
    else:
        screen.embedded.setChecked(False)
        qtbot.keyClicks(screen.relay_url, relay_url)
    click(qtbot, screen.create_button)
    qtbot.waitUntil(lambda: app.main_window is not None, timeout=WAIT_MS)
    window = app.main_window
    assert window is not None
    qtbot.waitUntil(lambda: app.bridge is not None and app.bridge.running, timeout=WAIT_MS)
    return window


def open_window(app: AppController) -> MainWindow:
    """The unlocked session's main window (after waiting for it)."""
    window = app.main_window
    assert window is not None, "expected the main window"
    return window


def create_group(qtbot, window: MainWindow, name: str) -> None:  # type: ignore[no-untyped-def]
    window.new_group_action.trigger()
    dialog = window.dialog
    qtbot.keyClicks(dialog.name, name)
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: window.title.text().startswith(name), timeout=WAIT_MS)


def send(qtbot, window: MainWindow, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the composer and press Enter, like a person."""
    window.composer.edit.setFocus()
    qtbot.keyClicks(window.composer.edit, text)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)


def shown_texts(window: MainWindow) -> list[str]:
    model = window.message_model
    return [model.index(row).data() for row in range(model.rowCount())]


def status_of(window: MainWindow, text: str) -> str:
    """The delivery mark painted under one of our messages ("Sent", "Waiting to send")."""
    model = window.message_model
    for row in range(model.rowCount()):
        index = model.index(row)
        if index.data() == text:
            return str(index.data(Roles.STATUS_TEXT))
    return ""
