"""Pins, the group description, lines for group changes and "Send anyway" in the desktop
app, between two app instances on a real relay: what the organizer does through the
menus, the member sees; a held send goes out only after the member confirms."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu, QMessageBox

from app.core.freshness import HOLD_AFTER_MS
from app.qt.controller import AppController, LaunchOptions
from app.qt.dialogs.group_info import GroupInfoDialog
from app.qt.main_window import MainWindow
from app.qt.settings import DesktopSettings
from tests.qt.helpers import (
    WAIT_MS,
    click,
    create_group,
    create_profile,
    send,
    shown_texts,
    status_of,
)
from tests.qt.pair import organizer_and_member


def _row(window: MainWindow, text: str) -> int:
    model = window.message_model
    for row in range(model.rowCount()):
        message = model.message_at(row)
        if message is not None and message.text == text:
            return row
    return -1


def _menu(qtbot, window: MainWindow, text: str) -> QMenu:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: _row(window, text) >= 0, timeout=WAIT_MS)
    index = window.message_model.index(_row(window, text))
    window.chat.scrollTo(index)
    window.chat.customContextMenuRequested.emit(window.chat.visualRect(index).center())
    menu = window.chat.context_menu
    assert isinstance(menu, QMenu)
    return menu


def _labels(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if a.text()]


def test_pin_from_the_menu_shows_in_the_bar_and_the_description_in_the_header(
    qtbot, relay, make_app
) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Bakery")
    for window in (alice, bob):
        window.resize(1000, 700)
        window.show()
    # The join is a line in both chats (nothing travelled for it).
    for window in (alice, bob):
        qtbot.waitUntil(
            lambda w=window: "Bob joined with Alice's invite" in shown_texts(w), timeout=WAIT_MS
        )
    send(qtbot, bob, "Strike vote on Friday")
    for filler in range(6):
        send(qtbot, bob, f"filler {filler}")
    qtbot.waitUntil(lambda: _row(alice, "filler 5") >= 0, timeout=WAIT_MS)

    assert "Pin" not in _labels(_menu(qtbot, bob, "Strike vote on Friday"))  # a member
    menu = _menu(qtbot, alice, "Strike vote on Friday")
    next(a for a in menu.actions() if a.text() == "Pin").trigger()

    qtbot.waitUntil(lambda: bob.extras.pins_bar.isVisible(), timeout=WAIT_MS)
    assert bob.extras.pins_bar.text.text() == "Bob: Strike vote on Friday"
    qtbot.waitUntil(lambda: _row(bob, "pinned a message") >= 0, timeout=WAIT_MS)
    # Clicking the bar brings the pinned message into view and selects it.
    bob.chat.follow_latest()
    click(qtbot, bob.extras.pins_bar.next_button)
    qtbot.waitUntil(
        lambda: bob.chat.currentIndex().row() == _row(bob, "Strike vote on Friday"),
        timeout=WAIT_MS,
    )
    # The organizer's menu now offers Unpin.
    qtbot.waitUntil(lambda: alice.extras.pins_bar.isVisible(), timeout=WAIT_MS)
    assert "Unpin" in _labels(_menu(qtbot, alice, "Strike vote on Friday"))

    # The description, set in Group info by the organizer, shows in the member's header.
    alice.info_action.trigger()
    dialog = alice.dialog
    assert isinstance(dialog, GroupInfoDialog) and dialog.organizer
    dialog.description.setPlainText("Bakers of the north side\nMeetings on Mondays")
    click(qtbot, dialog.save_button)
    qtbot.waitUntil(
        lambda: (
            bob.description.isVisible() and bob.description.text() == "Bakers of the north side"
        ),
        timeout=WAIT_MS,
    )
    assert bob.description.toolTip() == "Bakers of the north side\nMeetings on Mondays"
    qtbot.waitUntil(
        lambda: "Alice changed the group description" in shown_texts(bob), timeout=WAIT_MS
    )
    bob.info_action.trigger()
    member_dialog = bob.dialog
    assert isinstance(member_dialog, GroupInfoDialog)
    assert member_dialog.description.isReadOnly() and not member_dialog.save_button.isVisible()
    member_dialog.close()


class _ShiftedClock:
    """The wall clock plus an offset the test moves forward (thread-safe: the engine
    reads it on its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_ms = 0

    def advance(self, ms: int) -> None:
        with self._lock:
            self._offset_ms += ms

    def __call__(self) -> int:
        with self._lock:
            return int(time.time() * 1000) + self._offset_ms


@pytest.fixture
def apps(qtbot, tmp_path: Path) -> Iterator[list[AppController]]:  # type: ignore[no-untyped-def]
    made: list[AppController] = []
    yield made
    for controller in made:
        controller.shutdown()
        shiboken6.delete(controller)


def _app(tmp_path: Path, name: str, made: list[AppController], **engine: object) -> AppController:
    store = QSettings(str(tmp_path / f"{name}-settings.ini"), QSettings.Format.IniFormat)
    controller = AppController(
        LaunchOptions(home=tmp_path / name, use_keyring=False),
        settings=DesktopSettings(store),
        engine_options=dict(engine),
    )
    made.append(controller)
    controller.start()
    return controller


def test_a_held_send_goes_out_only_after_send_anyway_is_confirmed(
    qtbot, relay, apps, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    clock = _ShiftedClock()
    alice_app = _app(tmp_path, "alice", apps)
    bob_app = _app(tmp_path, "bob", apps, clock_ms=clock)
    alice = create_profile(qtbot, alice_app, "Alice", relay.url)
    bob = create_profile(qtbot, bob_app, "Bob", relay.url)
    create_group(qtbot, alice, "Bakery")
    alice.invite_action.trigger()
    alice.dialog.approval.setChecked(False)
    click(qtbot, alice.dialog.create_button)
    qtbot.waitUntil(lambda: alice.dialog.code.text().startswith("caucus://"), timeout=WAIT_MS)
    bob.open_join_dialog(alice.dialog.code.text())
    click(qtbot, bob.dialog.join)
    qtbot.waitUntil(lambda: bob.group_model.rowCount() == 1, timeout=WAIT_MS)
    alice.dialog.close()
    bob.dialog.close()
    for window in (alice, bob):
        window.resize(1000, 700)
        window.show()

    # Bob's app has heard from no organizer for longer than T: his send is held.
    clock.advance(HOLD_AFTER_MS + 60_000)
    send(qtbot, bob, "Are we still on for Monday?")
    banner = bob.extras.held_banner
    qtbot.waitUntil(banner.isVisible, timeout=WAIT_MS)
    assert "cannot be sure the server is showing you the group" in banner.text.text()

    # Cancelling the confirmation sends nothing.
    click(qtbot, banner.button)
    box = banner.dialog
    assert isinstance(box, QMessageBox)
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert banner.isVisible()
    qtbot.waitUntil(
        lambda: status_of(bob, "Are we still on for Monday?") == "Waiting to send",
        timeout=WAIT_MS,
    )

    click(qtbot, banner.button)
    box = banner.dialog
    assert isinstance(box, QMessageBox)
    next(b for b in box.buttons() if b.text() == "Send anyway").click()
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: status_of(bob, "Are we still on for Monday?") == "Sent", timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: "Are we still on for Monday?" in shown_texts(alice), timeout=WAIT_MS)
