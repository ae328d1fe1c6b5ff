"""A union can actually start: the first run's two doors, the invite dialog's warning
about who can reach the relay, and one instance per profile."""

from __future__ import annotations

from app.qt.controller import AppController
from app.qt.main_window import MainWindow
from tests.qt.helpers import PASSPHRASE, WAIT_MS, click, create_group, create_profile


def _invite(qtbot, window, *, approval: bool) -> str:  # type: ignore[no-untyped-def]
    window.invite_action.trigger()
    dialog = window.dialog
    dialog.approval.setChecked(approval)
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: dialog.code.text().startswith("caucus://join#"), timeout=WAIT_MS)
    return str(dialog.code.text())


def _window(app: AppController) -> MainWindow:
    """The app's main window once it is open (a function, so the type is not narrowed by
    an earlier ``is None`` check on the attribute)."""
    window = app.main_window
    assert window is not None
    return window


def _fill_join_door(qtbot, screen, name: str) -> None:  # type: ignore[no-untyped-def]
    fields = screen.join_fields
    qtbot.keyClicks(fields.name, name)
    qtbot.keyClicks(fields.passphrase, PASSPHRASE)
    qtbot.keyClicks(fields.repeat, PASSPHRASE)


def test_link_opens_the_join_door_and_the_organizer_admits(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    alice_app = make_app("alice")
    alice = create_profile(qtbot, alice_app, "Alice", relay.url)
    create_group(qtbot, alice, "Couriers")
    code = _invite(qtbot, alice, approval=True)

    # Bob opens Caucus with the caucus:// link: no relay to type, only name and passphrase.
    bob_app = make_app("bob", join_code=code)
    screen = bob_app.first_run
    assert screen.pages.currentWidget() is screen.join_page
    assert screen.invite_code.toPlainText() == code
    assert screen.invite_relay.text().startswith(f"Server: {relay.url}")
    assert "works only on that computer" in screen.invite_relay.text()  # a loopback relay
    _fill_join_door(qtbot, screen, "Bob")
    click(qtbot, screen.join_button)
    qtbot.waitUntil(lambda: bob_app.main_window is not None, timeout=WAIT_MS)
    bob = bob_app.main_window
    assert bob_app.profile.relay_url == relay.url  # the invite's relay, nothing typed
    qtbot.waitUntil(lambda: "Request sent" in bob.dialog.status.text(), timeout=WAIT_MS)

    panel = alice.members
    qtbot.waitUntil(lambda: panel.requests.count() == 1, timeout=WAIT_MS)
    assert bob.group_model.rowCount() == 0  # nobody let Bob in yet
    click(qtbot, panel.approve)
    qtbot.waitUntil(lambda: bob.group_model.rowCount() == 1, timeout=WAIT_MS)
    assert bob.title.text().startswith("Couriers")


def test_join_door_takes_a_pasted_code_and_refuses_anything_else(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    alice = create_profile(qtbot, make_app("alice"), "Alice", relay.url)
    create_group(qtbot, alice, "Drivers")
    code = _invite(qtbot, alice, approval=False)

    bob_app = make_app("bob")
    screen = bob_app.first_run
    assert screen.pages.currentWidget() is screen.doors
    click(qtbot, screen.join_door)
    _fill_join_door(qtbot, screen, "Bob")
    screen.invite_code.setPlainText(code[:-6])  # cut short while copying
    click(qtbot, screen.join_button)
    assert "not a valid invite code" in screen.join_error.text()
    assert bob_app.main_window is None

    screen.invite_code.setPlainText(f"  {code}\n")
    click(qtbot, screen.join_button)
    qtbot.waitUntil(lambda: bob_app.main_window is not None, timeout=WAIT_MS)
    bob = _window(bob_app)
    qtbot.waitUntil(lambda: bob.group_model.rowCount() == 1, timeout=WAIT_MS)
    assert bob.title.text().startswith("Drivers")


def test_an_invite_pasted_as_the_relay_opens_the_join_door(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    alice = create_profile(qtbot, make_app("alice"), "Alice", relay.url)
    create_group(qtbot, alice, "Porters")
    code = _invite(qtbot, alice, approval=False)
    screen = make_app("bob").first_run
    click(qtbot, screen.start_door)
    screen.relay_url.setText(code)
    assert screen.pages.currentWidget() is screen.join_page
    assert screen.invite_code.toPlainText() == code
    assert screen.relay_url.text() == ""


def test_invite_dialog_warns_that_an_embedded_relay_is_this_computer_only(qtbot, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("solo", embedded_relay=True)
    assert not app.first_run.embedded_lan.isChecked()  # loopback unless opted in
    window = create_profile(qtbot, app, "Sam", embedded=True)
    assert app.profile.relay_url.startswith("http://127.0.0.1:")
    create_group(qtbot, window, "Try-out")
    window.invite_action.trigger()
    dialog = window.dialog
    assert not dialog.reach.isHidden()
    assert "only this computer can reach it" in dialog.reach.text()
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: dialog.code.text().startswith("caucus://"), timeout=WAIT_MS)
    assert "only this computer can reach it" in dialog.reach.text()


def test_a_link_handed_to_the_first_run_opens_the_join_door(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    alice = create_profile(qtbot, make_app("alice"), "Alice", relay.url)
    create_group(qtbot, alice, "Riders")
    code = _invite(qtbot, alice, approval=False)
    bob_app = make_app("bob")
    bob_app.handle_link("not a link")
    assert bob_app.first_run.pages.currentWidget() is bob_app.first_run.doors
    bob_app.handle_link(code)
    assert bob_app.first_run.pages.currentWidget() is bob_app.first_run.join_page
    assert bob_app.first_run.invite_code.toPlainText() == code
