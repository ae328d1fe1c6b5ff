"""Organizer work through the member panel: approve a join, promote, remove."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from tests.qt.helpers import WAIT_MS, click, create_group, create_profile, send, shown_texts


def test_approve_promote_and_remove(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    alice_app, bob_app = make_app("alice"), make_app("bob")
    alice = create_profile(qtbot, alice_app, "Alice", relay.url)
    bob = create_profile(qtbot, bob_app, "Bob", relay.url)
    create_group(qtbot, alice, "Translators")
    # The creator is told what happened, not that they "joined".
    qtbot.waitUntil(lambda: alice.statusBar().currentMessage() != "", timeout=WAIT_MS)
    assert alice.statusBar().currentMessage().startswith("Created Translators.")

    alice.invite_action.trigger()
    invite = alice.dialog
    invite.approval.setChecked(True)
    click(qtbot, invite.create_button)
    qtbot.waitUntil(lambda: invite.code.text().startswith("caucus://"), timeout=WAIT_MS)
    bob.open_join_dialog(invite.code.text())
    click(qtbot, bob.dialog.join)

    panel = alice.members
    qtbot.waitUntil(lambda: panel.requests.count() == 1, timeout=WAIT_MS)
    assert panel.requests.item(0).text().startswith("Bob\n")
    assert panel.approve.isVisible()
    assert bob.group_model.rowCount() == 0  # nobody let Bob in yet
    qtbot.waitUntil(
        lambda: alice.statusBar().currentMessage() == "Bob asks to join.", timeout=WAIT_MS
    )
    join_dialog = bob.dialog
    assert join_dialog.join.text() == "Request sent"
    click(qtbot, panel.approve)
    qtbot.waitUntil(lambda: bob.group_model.rowCount() == 1, timeout=WAIT_MS)
    # Bob's open dialog stops saying "Request sent" once he is in.
    qtbot.waitUntil(lambda: join_dialog.join.text() == "Joined", timeout=WAIT_MS)
    assert "You are in Translators" in join_dialog.status.text()
    qtbot.waitUntil(lambda: panel.requests.count() == 0, timeout=WAIT_MS)
    # Decided: the prompt leaves the status bar instead of asking for 15 s more.
    qtbot.waitUntil(lambda: alice.statusBar().currentMessage() == "", timeout=WAIT_MS)
    assert not panel.approve.isVisible()

    qtbot.waitUntil(lambda: panel.select_member("Bob"), timeout=WAIT_MS)
    assert panel.promote.text() == "Make organizer"
    click(qtbot, panel.promote)
    # One click only asks: cancelling changes nothing.
    asked: QMessageBox = panel.confirmation
    assert "Organizers can invite" in asked.text()
    click(qtbot, asked.button(QMessageBox.StandardButton.Cancel))
    assert panel.select_member("Bob") and panel.list.currentItem().text() == "Bob\nmember"
    click(qtbot, panel.promote)
    confirm = next(b for b in panel.confirmation.buttons() if b.text() == "Make organizer")
    click(qtbot, confirm)
    qtbot.waitUntil(
        lambda: panel.select_member("Bob") and panel.list.currentItem().text() == "Bob\norganizer",
        timeout=WAIT_MS,
    )
    qtbot.waitUntil(lambda: bob.invite_action.isEnabled(), timeout=WAIT_MS)  # Bob may invite now

    send(qtbot, bob, "Thanks for having me")
    qtbot.waitUntil(lambda: "Thanks for having me" in shown_texts(alice), timeout=WAIT_MS)

    assert panel.select_member("Bob")
    click(qtbot, panel.remove)
    box: QMessageBox = panel.confirmation
    remove = next(b for b in box.buttons() if b.text() == "Remove")
    click(qtbot, remove)
    qtbot.waitUntil(lambda: not panel.select_member("Bob"), timeout=WAIT_MS)
    assert panel.title.text() == "MEMBERS (1)"
    qtbot.waitUntil(lambda: bob.composer.edit.isReadOnly(), timeout=WAIT_MS)
    assert bob.composer.edit.placeholderText() == "You are no longer a member of this group."


def test_rename_and_leave_from_the_group_menu(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    from tests.qt.pair import organizer_and_member

    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Bakery")
    assert alice.rename_action.isEnabled() and not bob.rename_action.isEnabled()

    alice.rename_action.trigger()
    dialog = alice.dialog
    dialog.setTextValue("Bakers' Union")
    dialog.accept()
    qtbot.waitUntil(lambda: bob.title.text().startswith("Bakers' Union"), timeout=WAIT_MS)
    # Alice's list refreshes on its own schedule: wait for it too, do not race it.
    qtbot.waitUntil(lambda: alice.group_model.groups()[0].name == "Bakers' Union", timeout=WAIT_MS)

    # Leaving asks first; cancelling changes nothing.
    bob.leave_action.trigger()
    box = bob.dialog
    assert isinstance(box, QMessageBox)
    assert "Leave Bakers' Union?" in box.text()
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))
    assert bob.leave_action.isEnabled()
    bob.leave_action.trigger()
    box = bob.dialog
    assert isinstance(box, QMessageBox)
    click(qtbot, next(b for b in box.buttons() if b.text() == "Leave"))
    qtbot.waitUntil(lambda: bob.composer.edit.isReadOnly(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not bob.leave_action.isEnabled(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: alice.members.title.text() == "MEMBERS (1)", timeout=WAIT_MS)
