"""The first run's third door: link this computer to your account on another computer
(docs/protocol.md 8.4). Desktop apps and a headless engine against a real relay."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import shiboken6
from PySide6.QtCore import QSettings

from app.core.api import Engine, create_profile, profile_exists
from app.core.relay_client import RelayTimeouts
from app.qt.controller import AppController, LaunchOptions
from app.qt.first_run import FirstRunScreen
from app.qt.message_model import Roles
from app.qt.settings import DesktopSettings
from crypto.device_link import LinkCode
from tests.qt.helpers import (
    PASSPHRASE,
    WAIT_MS,
    click,
    create_group,
    send,
    shown_texts,
    status_of,
)
from tests.qt.helpers import create_profile as create_app_profile
from tests.qt.test_lock import unlock_with

LAPTOP_PASSPHRASE = "laptop lantern orchard velvet"


def _fill_link_door(qtbot, screen: FirstRunScreen, code: str, name: str = "Laptop") -> None:  # type: ignore[no-untyped-def]
    if screen.pages.currentWidget() is screen.doors:
        click(qtbot, screen.link_door)
    assert screen.pages.currentWidget() is screen.link_page
    assert screen.link_fields.name.text(), "the host name is the default device name"
    screen.link_code.setPlainText(code)  # pasted
    screen.link_fields.name.clear()
    qtbot.keyClicks(screen.link_fields.name, name)
    for field in (screen.link_fields.passphrase, screen.link_fields.repeat):
        if not field.text():
            qtbot.keyClicks(field, LAPTOP_PASSPHRASE)


def _waiting(screen: FirstRunScreen) -> bool:
    return (
        screen.pages.currentWidget() is screen.waiting_page
        and screen.waiting_title.text() == "Waiting for your other computer"
    )


def _mine(window, text: str) -> bool:  # type: ignore[no-untyped-def]
    model = window.message_model
    for row in range(model.rowCount()):
        index = model.index(row)
        if index.data() == text:
            return bool(index.data(Roles.MESSAGE).is_mine)
    raise AssertionError(f"{text!r} is not shown")


def test_link_a_new_computer_from_its_first_run(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    alice_app = make_app("alice")
    alice = create_app_profile(qtbot, alice_app, "Alice", relay.url)
    create_group(qtbot, alice, "Riders")
    send(qtbot, alice, "Said before the laptop came")
    qtbot.waitUntil(
        lambda: status_of(alice, "Said before the laptop came") == "Sent", timeout=WAIT_MS
    )

    alice.devices_action.trigger()
    dialog = alice.dialog
    click(qtbot, dialog.link_button)
    qtbot.waitUntil(lambda: dialog.code.text().startswith("caucus://link#"), timeout=WAIT_MS)
    code = dialog.code.text()
    dialog.reject()

    laptop_app = make_app("laptop")
    screen = laptop_app.first_run
    assert screen is not None
    _fill_link_door(qtbot, screen, code)
    assert screen.link_relay.text() == f"Server: {relay.url}"
    click(qtbot, screen.link_button)
    assert screen.pages.currentWidget() is screen.waiting_page
    # Alice's app answers on its own (its sync loop reads the link mailbox): nobody
    # presses anything there. The laptop's window opens once the bundle is installed.
    qtbot.waitUntil(lambda: laptop_app.main_window is not None, timeout=WAIT_MS)
    laptop = laptop_app.main_window
    assert not laptop_app.linking()
    # Opened after the bundle: the window acts as Alice, with her group and history.
    assert laptop.profile_name == "Alice"
    qtbot.waitUntil(lambda: laptop.title.text().startswith("Riders"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Said before the laptop came" in shown_texts(laptop), timeout=WAIT_MS)
    assert _mine(laptop, "Said before the laptop came")

    send(qtbot, laptop, "Written on the laptop")
    qtbot.waitUntil(lambda: status_of(laptop, "Written on the laptop") == "Sent", timeout=WAIT_MS)
    assert _mine(laptop, "Written on the laptop")
    alice = alice_app.main_window
    qtbot.waitUntil(lambda: alice.title.text().startswith("Riders"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Written on the laptop" in shown_texts(alice), timeout=WAIT_MS)
    assert _mine(alice, "Written on the laptop")  # Alice's own words, from her laptop


def _first_device(tmp_path: Path, relay_url: str) -> Engine:
    db = create_profile(
        tmp_path / "desktop",
        name="Dana",
        relay_url=relay_url,
        passphrase="passphrase of the desktop",
        rng=os.urandom,
        now=int(time.time() * 1000),
        cost="interactive",
    )
    return Engine(db)


def test_a_bad_code_is_one_line_and_leaves_nothing_in_the_way(  # type: ignore[no-untyped-def]
    qtbot, relay, make_app, tmp_path: Path
) -> None:
    app: AppController = make_app("laptop")
    home = tmp_path / "laptop"
    screen = app.first_run
    assert screen is not None

    # Garbled: refused in the form, before any file is made.
    _fill_link_door(qtbot, screen, "caucus://link#AAAAbroken")
    assert screen.link_relay.text() == "This is not a whole link code yet."
    click(qtbot, screen.link_button)
    assert screen.link_error.isVisible() and "\n" not in screen.link_error.text()
    assert "not a valid link code" in screen.link_error.text()
    assert not profile_exists(home)

    # Well formed, but no computer ever showed it: the relay knows no such link.
    stray = LinkCode.generate(relay.url, os.urandom).encode()
    screen.link_code.setPlainText(stray)
    click(qtbot, screen.link_button)
    qtbot.waitUntil(lambda: screen.pages.currentWidget() is screen.link_page, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not app.busy(), timeout=WAIT_MS)
    message = screen.link_error.text()
    assert screen.link_error.isVisible() and "\n" not in message
    assert "used already or has expired" in message
    assert not profile_exists(home)  # no half-made profile
    # Nothing typed is lost.
    assert screen.link_fields.name.text() == "Laptop"
    assert screen.link_fields.passphrase.text() == LAPTOP_PASSPHRASE

    # Cancelling while waiting also leaves nothing behind.
    first = _first_device(tmp_path, relay.url)
    loop = asyncio.new_event_loop()
    try:
        code = loop.run_until_complete(first.link_device())
        screen.link_code.setPlainText(code)
        click(qtbot, screen.link_button)
        qtbot.waitUntil(lambda: _waiting(screen), timeout=WAIT_MS)
        click(qtbot, screen.cancel_link)
        qtbot.waitUntil(lambda: not app.busy(), timeout=WAIT_MS)
        assert screen.pages.currentWidget() is screen.link_page
        assert "Linking cancelled" in screen.link_error.text()
        assert not profile_exists(home)

        # A fresh code from the first device, the same form: this time it links.
        code = loop.run_until_complete(first.link_device())
        screen.link_code.setPlainText(code)
        click(qtbot, screen.link_button)
        qtbot.waitUntil(lambda: _waiting(screen), timeout=WAIT_MS)
        loop.run_until_complete(first.sync())  # the first device answers
        qtbot.waitUntil(lambda: app.main_window is not None, timeout=WAIT_MS)
        assert app.main_window.profile_name == "Dana"
        assert profile_exists(home)
    finally:
        loop.run_until_complete(first.close())
        loop.close()


def test_a_link_code_in_the_invite_field_opens_the_link_door(  # type: ignore[no-untyped-def]
    qtbot, relay, make_app, tmp_path: Path
) -> None:
    app = make_app("laptop")
    screen = app.first_run
    click(qtbot, screen.join_door)
    code = LinkCode.generate(relay.url, os.urandom).encode()
    screen.invite_code.setPlainText(code)
    assert screen.pages.currentWidget() is screen.link_page
    assert screen.link_code.toPlainText() == code
    assert screen.link_note.isVisible() and "not an invite" in screen.link_note.text()
    assert screen.invite_code.toPlainText() == ""

    # And the other way round: an invite pasted as a link code goes to the join door.
    organizer = _first_device(tmp_path, relay.url)
    loop = asyncio.new_event_loop()
    try:
        group_id = loop.run_until_complete(organizer.create_group("Riders"))
        invite = loop.run_until_complete(organizer.create_invite(group_id))
    finally:
        loop.run_until_complete(organizer.close())
        loop.close()
    screen.link_code.setPlainText(invite)
    assert screen.pages.currentWidget() is screen.join_page
    assert screen.invite_code.toPlainText() == invite
    assert "not a link code" in screen.join_error.text() and screen.join_error.isVisible()
    assert screen.link_code.toPlainText() == ""


def test_the_app_opened_with_a_link_code_shows_the_link_door(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    code = LinkCode.generate(relay.url, os.urandom).encode()
    app = make_app("laptop", join_code=code)
    screen = app.first_run
    assert screen.pages.currentWidget() is screen.link_page
    assert screen.link_code.toPlainText() == code
    assert screen.link_relay.text() == f"Server: {relay.url}"
    # A second launch hands its link over (app/qt/single_instance.py): same door.
    screen.link_code.clear()
    screen.pages.setCurrentWidget(screen.doors)
    app.handle_link(code)
    assert screen.pages.currentWidget() is screen.link_page
    assert screen.link_code.toPlainText() == code


def test_a_profile_linked_while_the_app_runs_is_opened_again_as_the_member(  # type: ignore[no-untyped-def]
    qtbot, relay, make_app, tmp_path: Path
) -> None:
    """The request was sent earlier (``caucus device add CODE`` without ``--wait``, or
    the app was killed while waiting); the bundle arrives while the window is open.
    The engine and window opened before it act as the device itself, so the app opens
    them again: the member's name and group show, and what it sends is the member's."""
    first = _first_device(tmp_path, relay.url)
    loop = asyncio.new_event_loop()
    try:
        group_id = loop.run_until_complete(first.create_group("Riders"))
        code = loop.run_until_complete(first.link_device())
        db = create_profile(
            tmp_path / "laptop",
            name="Laptop",
            relay_url=relay.url,
            passphrase=PASSPHRASE,
            rng=os.urandom,
            now=int(time.time() * 1000),
            cost="interactive",
        )
        asker = Engine(db)
        loop.run_until_complete(asker.devices.add(code))
        loop.run_until_complete(asker.close())

        app = make_app("laptop")
        unlock_with(qtbot, app, PASSPHRASE)
        qtbot.waitUntil(lambda: app.main_window is not None, timeout=WAIT_MS)
        before = app.main_window
        assert before.profile_name == "Laptop"

        loop.run_until_complete(first.sync())  # the first device answers
        qtbot.waitUntil(
            lambda: app.main_window is not None and app.main_window is not before,
            timeout=WAIT_MS,
        )
        window = app.main_window
        assert window.profile_name == "Dana"
        qtbot.waitUntil(lambda: window.title.text().startswith("Riders"), timeout=WAIT_MS)
        send(qtbot, window, "From the laptop, as Dana")
        qtbot.waitUntil(
            lambda: status_of(window, "From the laptop, as Dana") == "Sent", timeout=WAIT_MS
        )
        assert _mine(window, "From the laptop, as Dana")
        loop.run_until_complete(first.sync())
        texts = [m.text for m in first.messages(group_id) if m.is_mine]
        assert "From the laptop, as Dana" in texts
    finally:
        loop.run_until_complete(first.close())
        loop.close()


def test_a_link_code_handed_to_a_computer_with_a_profile_says_what_it_is(  # type: ignore[no-untyped-def]
    qtbot, relay, make_app
) -> None:
    app = make_app("alice")
    window = create_app_profile(qtbot, app, "Alice", relay.url)
    app.handle_link(LinkCode.generate(relay.url, os.urandom).encode())
    assert window.dialog is None  # not the join dialog with a confusing error
    assert window.statusBar().currentMessage().startswith("That is a link code")


def test_a_relay_that_cannot_be_reached_is_one_line_and_leaves_nothing(  # type: ignore[no-untyped-def]
    qtbot, relay, tmp_path: Path
) -> None:
    code = LinkCode.generate(relay.url, os.urandom).encode()
    relay.stop()
    store = QSettings(str(tmp_path / "laptop-settings.ini"), QSettings.Format.IniFormat)
    app = AppController(
        LaunchOptions(home=tmp_path / "laptop", use_keyring=False, join_code=code),
        settings=DesktopSettings(store),
        engine_options={"timeouts": RelayTimeouts(connect=0.5, attempt=0.5, budget=1.0)},
    )
    try:
        app.start()
        screen = app.first_run
        assert screen is not None and screen.pages.currentWidget() is screen.link_page
        _fill_link_door(qtbot, screen, code)
        click(qtbot, screen.link_button)
        qtbot.waitUntil(lambda: screen.link_error.isVisible(), timeout=WAIT_MS)
        message = screen.link_error.text()
        assert "cannot be reached right now" in message and relay.url in message
        assert "\n" not in message
        assert not profile_exists(tmp_path / "laptop")
        assert screen.link_code.toPlainText() == code  # nothing typed is lost
    finally:
        app.shutdown()
        shiboken6.delete(app)
