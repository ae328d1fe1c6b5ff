"""Two app instances in one group (Alice the organizer, Bob a member), for the document
and ballot screen tests."""

from __future__ import annotations

from app.qt.controller import AppController
from app.qt.main_window import MainWindow
from tests.qt.helpers import WAIT_MS, click, create_group, create_profile


def organizer_and_member(
    qtbot,
    relay,
    make_app,
    group: str,  # type: ignore[no-untyped-def]
) -> tuple[AppController, MainWindow, AppController, MainWindow]:
    """Alice creates ``group`` and invites Bob through the dialogs; both windows show it."""
    alice_app, bob_app = make_app("alice"), make_app("bob")
    alice = create_profile(qtbot, alice_app, "Alice", relay.url)
    bob = create_profile(qtbot, bob_app, "Bob", relay.url)
    create_group(qtbot, alice, group)
    alice.invite_action.trigger()
    alice.dialog.approval.setChecked(False)  # admitted at once (the default asks an organizer)
    click(qtbot, alice.dialog.create_button)
    qtbot.waitUntil(lambda: alice.dialog.code.text().startswith("caucus://"), timeout=WAIT_MS)
    bob.open_join_dialog(alice.dialog.code.text())
    click(qtbot, bob.dialog.join)
    qtbot.waitUntil(lambda: bob.group_model.rowCount() == 1, timeout=WAIT_MS)
    alice.dialog.close()
    bob.dialog.close()
    return alice_app, alice, bob_app, bob
