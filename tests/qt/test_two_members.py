"""Two app instances against a real relay: create a group, invite, join, talk."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.qt.group_list import GroupListModel
from tests.qt.helpers import (
    WAIT_MS,
    click,
    create_group,
    create_profile,
    send,
    shown_texts,
    status_of,
)

UNREAD = GroupListModel.UNREAD_ROLE


def test_create_invite_join_and_talk(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    alice_app, bob_app = make_app("alice"), make_app("bob")
    alice = create_profile(qtbot, alice_app, "Alice", relay.url)
    bob = create_profile(qtbot, bob_app, "Bob", relay.url)
    assert "No groups yet" in bob.no_groups.text()

    create_group(qtbot, alice, "Freelancers")
    assert alice.group_model.index(0).data() == "Freelancers"
    assert alice.members.list.item(0).text().startswith("Alice (you)")

    alice.invite_action.trigger()
    invite = alice.dialog
    # The default invite serves a whole meeting and lets an organizer check each person.
    assert invite.approval.isChecked() and invite.uses.value() == 25
    assert not invite.copy_text.isEnabled()
    invite.approval.setChecked(False)
    click(qtbot, invite.create_button)
    qtbot.waitUntil(lambda: invite.code.text().startswith("caucus://join#"), timeout=WAIT_MS)
    assert not invite.qr.pixmap().isNull()
    # The dialog grew to hold the QR code: nothing is drawn over it.
    assert invite.qr.geometry().bottom() < invite.hint.geometry().top()
    assert invite.hint.geometry().bottom() <= invite.height()
    code = invite.code.text()
    # A ready-to-send invitation: who, which group, the link, until when.
    click(qtbot, invite.copy_text)
    letter = QGuiApplication.clipboard().text()
    assert "Alice invites you to join Freelancers on Caucus" in letter
    assert code in letter.splitlines()
    assert "valid until" in letter

    bob.join_action.trigger()
    join = bob.dialog
    join.code.setPlainText(code)
    click(qtbot, join.join)
    qtbot.waitUntil(lambda: "Request sent" in join.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bob.group_model.rowCount() == 1, timeout=WAIT_MS)
    assert bob.title.text().startswith("Freelancers")

    bob.activateWindow()  # Alice is looking elsewhere
    qtbot.waitUntil(lambda: bob.isActiveWindow() and not alice.isActiveWindow(), timeout=WAIT_MS)
    send(qtbot, bob, "Hello from Bob")
    qtbot.waitUntil(lambda: "Hello from Bob" in shown_texts(alice), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: status_of(bob, "Hello from Bob") == "Sent", timeout=WAIT_MS)
    # Not looking: a notification (who and where, never the text) and an unread badge.
    qtbot.waitUntil(lambda: alice_app.last_notification is not None, timeout=WAIT_MS)
    assert alice_app.last_notification == ("Bob in Freelancers", "New message")
    qtbot.waitUntil(lambda: alice.group_model.index(0).data(UNREAD) == 1, timeout=WAIT_MS)
    alice.activateWindow()
    qtbot.waitUntil(lambda: alice.group_model.index(0).data(UNREAD) == 0, timeout=WAIT_MS)

    send(qtbot, alice, "Welcome, Bob")
    qtbot.waitUntil(lambda: "Welcome, Bob" in shown_texts(bob), timeout=WAIT_MS)
    assert bob.composer.edit.toPlainText() == ""
    qtbot.waitUntil(
        lambda: any(
            alice.members.list.item(i).text().startswith("Bob")
            for i in range(alice.members.list.count())
        ),
        timeout=WAIT_MS,
    )


def test_channels_verification_search_and_switcher(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    alice_app, bob_app = make_app("alice"), make_app("bob")
    alice = create_profile(qtbot, alice_app, "Alice", relay.url)
    bob = create_profile(qtbot, bob_app, "Bob", relay.url)
    create_group(qtbot, alice, "Cleaners")
    alice.invite_action.trigger()
    alice.dialog.approval.setChecked(False)
    click(qtbot, alice.dialog.create_button)
    qtbot.waitUntil(lambda: alice.dialog.code.text().startswith("caucus://"), timeout=WAIT_MS)
    bob.open_join_dialog(alice.dialog.code.text())
    click(qtbot, bob.dialog.join)
    qtbot.waitUntil(lambda: bob.group_model.rowCount() == 1, timeout=WAIT_MS)

    # An announcement-only channel: organizers post, members read.
    alice.channel_action.trigger()
    qtbot.keyClicks(alice.dialog.name, "news")
    alice.dialog.announce.setChecked(True)
    click(qtbot, alice.dialog.create_button)
    # Alice's list fills from her own engine, Bob's from the relay: wait for both.
    qtbot.waitUntil(
        lambda: alice.channel_list.count() == 2 and bob.channel_list.count() == 2,
        timeout=WAIT_MS,
    )
    assert bob.channel_list.item(1).text() == "# news"

    # Ctrl+K: type a few letters, Enter.
    bob.switch_action.trigger()
    qtbot.keyClicks(bob.dialog.filter, "news")
    qtbot.keyClick(bob.dialog.filter, Qt.Key.Key_Return)
    assert bob.title.text().endswith("#news")
    assert bob.composer.edit.isReadOnly()
    assert bob.composer.edit.placeholderText() == "Only organizers can post in this channel."

    alice.select_channel(alice.channel_list.item(1).data(Qt.ItemDataRole.UserRole).channel_id)
    send(qtbot, alice, "Strike vote on Monday")
    qtbot.waitUntil(lambda: "Strike vote on Monday" in shown_texts(bob), timeout=WAIT_MS)

    # Local search finds it and jumps there.
    bob.search_action.trigger()
    qtbot.keyClicks(bob.dialog.query, "strike")
    qtbot.waitUntil(lambda: bob.dialog.count.text() == "1 message found", timeout=WAIT_MS)
    bob.select_channel(bob.channel_list.item(0).data(Qt.ItemDataRole.UserRole).channel_id)
    assert bob.title.text().endswith("#general")
    result = bob.dialog.results.item(0)
    assert result.text().startswith("Alice in Cleaners")
    bob.dialog.results.itemActivated.emit(result)
    assert bob.title.text().endswith("#news")
    assert bob.chat.currentIndex().data() == "Strike vote on Monday"

    # Both sides compute the same safety number; verifying marks the member.
    qtbot.waitUntil(lambda: alice.members.select_member("Bob"), timeout=WAIT_MS)
    click(qtbot, alice.members.verify)
    alice_digits = alice.dialog.digits
    assert bob.members.select_member("Alice")
    click(qtbot, bob.members.verify)
    assert bob.dialog.digits == alice_digits and len(alice_digits) == 60
    assert not alice.dialog.qr.pixmap().isNull()
    click(qtbot, alice.dialog.mark)
    assert alice.dialog.state.text() == "✔ You have verified Bob."
    qtbot.waitUntil(
        lambda: alice.members.list.currentItem().text().startswith("Bob ✔"), timeout=WAIT_MS
    )
