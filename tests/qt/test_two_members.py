"""Two app instances against a real relay: create a group, invite, join, talk."""

from __future__ import annotations

from tests.qt.helpers import (
    WAIT_MS,
    click,
    create_group,
    create_profile,
    send,
    shown_texts,
    status_of,
)


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
    click(qtbot, invite.create_button)
    qtbot.waitUntil(lambda: invite.code.text().startswith("caucus://join#"), timeout=WAIT_MS)
    assert not invite.qr.pixmap().isNull()
    code = invite.code.text()

    bob.join_action.trigger()
    join = bob.dialog
    join.code.setPlainText(code)
    click(qtbot, join.join)
    qtbot.waitUntil(lambda: "Request sent" in join.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bob.group_model.rowCount() == 1, timeout=WAIT_MS)
    assert bob.title.text().startswith("Freelancers")

    send(qtbot, bob, "Hello from Bob")
    qtbot.waitUntil(lambda: "Hello from Bob" in shown_texts(alice), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: status_of(bob, "Hello from Bob") == "Sent", timeout=WAIT_MS)

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
