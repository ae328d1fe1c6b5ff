"""Locking: on demand (Ctrl+L) and when idle; a wrong passphrase says so; changing it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel

from app.qt.dialogs.settings import SettingsDialog
from app.qt.keyring_store import TURNED_OFF
from app.qt.theme import apply_theme, colors
from tests.qt.helpers import (
    PASSPHRASE,
    WAIT_MS,
    click,
    create_group,
    create_profile,
    open_window,
)


def unlock_with(qtbot, app, passphrase: str) -> None:  # type: ignore[no-untyped-def]
    screen = app.unlock_screen
    screen.passphrase.clear()
    qtbot.keyClicks(screen.passphrase, passphrase)
    click(qtbot, screen.unlock)


def test_lock_and_unlock(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alice")
    window = create_profile(qtbot, app, "Alice", relay.url)
    create_group(qtbot, window, "Night shift")

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: app.unlock_screen is not None and app.unlock_screen.isVisible(), timeout=WAIT_MS
    )
    assert app.main_window is None
    assert app.unlock_screen.note.text() == "Caucus is locked."
    # Started with use_keyring=False (--no-keyring): the option is disabled, with the
    # reason, whether or not this machine has a `keyring` package and a working backend.
    assert not app.unlock_screen.remember.isEnabled()
    assert app.unlock_screen.remember.toolTip() == TURNED_OFF
    assert app.unlock_screen.remember_note.isVisible()
    assert app.unlock_screen.remember_note.text() == TURNED_OFF
    # Greyed out, not only unclickable: no part of its label is in the text colour.
    remember = app.unlock_screen.remember
    qtbot.waitUntil(lambda: not remember.rect().isEmpty(), timeout=WAIT_MS)
    assert _pixels_near(remember.grab().toImage(), colors().text) == 0
    assert (
        _pixels_near(
            app.unlock_screen.findChild(QLabel, "screenTitle").grab().toImage(), colors().text
        )
        > 20
    )  # fmt: skip  (the check sees text where it is)

    unlock_with(qtbot, app, "not the passphrase")
    qtbot.waitUntil(lambda: app.unlock_screen.error.isVisible(), timeout=WAIT_MS)
    assert app.unlock_screen.error.text() == "Wrong passphrase. Try again."
    assert app.main_window is None

    unlock_with(qtbot, app, PASSPHRASE)
    qtbot.waitUntil(lambda: app.main_window is not None, timeout=WAIT_MS)
    unlocked = open_window(app)
    assert unlocked.group_model.index(0).data() == "Night shift"
    assert unlocked.title.text().startswith("Night shift")


def test_locks_itself_when_idle(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alice")
    create_profile(qtbot, app, "Alice", relay.url)
    assert app.idle_timer.isActive()
    assert app.idle_timer.interval() == 10 * 60 * 1000  # the default: ten minutes
    app.idle_timer.start(300)  # the same timer, shortened so the test need not wait
    qtbot.waitUntil(lambda: app.unlock_screen is not None, timeout=WAIT_MS)
    assert app.main_window is None


def test_change_passphrase(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alice")
    window = create_profile(qtbot, app, "Alice", relay.url)
    create_group(qtbot, window, "Couriers")

    window.passphrase_action.trigger()
    dialog = app._passphrase_dialog
    qtbot.keyClicks(dialog.old, "wrong old passphrase")
    qtbot.keyClicks(dialog.new, "new words for the union")
    qtbot.keyClicks(dialog.repeat, "new words for the union")
    click(qtbot, dialog.change)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=WAIT_MS)
    assert dialog.error.text() == "Wrong passphrase."

    dialog.old.setText(PASSPHRASE)
    click(qtbot, dialog.change)
    qtbot.waitUntil(
        lambda: app.main_window is not None and app.main_window is not window, timeout=WAIT_MS
    )
    qtbot.waitUntil(
        lambda: "Passphrase changed" in app.main_window.statusBar().currentMessage(),
        timeout=WAIT_MS,
    )
    assert app.main_window.group_model.index(0).data() == "Couriers"

    app.lock()
    unlock_with(qtbot, app, PASSPHRASE)
    qtbot.waitUntil(lambda: app.unlock_screen.error.isVisible(), timeout=WAIT_MS)
    unlock_with(qtbot, app, "new words for the union")
    qtbot.waitUntil(lambda: app.main_window is not None, timeout=WAIT_MS)


def test_settings_change_idle_delay_and_theme(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alice")
    window = create_profile(qtbot, app, "Alice", relay.url)
    window.settings_action.trigger()
    dialog = next(w for w in window.findChildren(SettingsDialog))
    dialog.idle.setValue(5)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    try:
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
        assert app.idle_timer.interval() == 5 * 60 * 1000
        assert colors().dark
        assert app.settings.idle_lock_minutes == 5 and app.settings.theme == "dark"
        # The selected tab's label is painted in the new theme's text colour (it used to
        # keep the light theme's dark text on the dark background until the next unlock).
        bar = window.tabs.tabBar()
        qtbot.waitUntil(
            lambda: (
                _pixels_near(bar.grab(bar.tabRect(bar.currentIndex())).toImage(), colors().text)
                > 20
            ),
            timeout=WAIT_MS,
        )
    finally:
        qapp = QApplication.instance()
        assert isinstance(qapp, QApplication)
        apply_theme(qapp, "light")


def _pixels_near(image: QImage, hex_colour: str) -> int:
    """Pixels of ``image`` close to ``hex_colour`` (a label's antialiased text)."""
    want = QColor(hex_colour)
    return sum(
        1
        for x in range(image.width())
        for y in range(image.height())
        if max(
            abs(QColor(image.pixel(x, y)).red() - want.red()),
            abs(QColor(image.pixel(x, y)).green() - want.green()),
            abs(QColor(image.pixel(x, y)).blue() - want.blue()),
        )
        < 40
    )
