"""Opening a channel with unread messages shows "New messages" above the first of them
and starts there, not at the bottom."""

from __future__ import annotations

from app.qt.main_window import MainWindow
from app.qt.message_model import Roles
from tests.qt.helpers import WAIT_MS, click, send, shown_texts
from tests.qt.pair import organizer_and_member


def _divider_rows(window: MainWindow) -> list[str]:
    model = window.message_model
    return [
        model.index(row).data()
        for row in range(model.rowCount())
        if model.index(row).data(Roles.NEW_DIVIDER)
    ]


def test_a_channel_opens_at_the_new_messages_line(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Couriers")
    couriers = alice.current_group()
    assert couriers is not None
    send(qtbot, bob, "Already read")
    qtbot.waitUntil(lambda: "Already read" in shown_texts(alice), timeout=WAIT_MS)
    alice.show()
    alice.activateWindow()  # Alice looks at it: it counts as read
    qtbot.waitUntil(lambda: alice.current_group().unread == 0, timeout=WAIT_MS)  # type: ignore[union-attr]
    assert _divider_rows(alice) == []  # nothing was unread when it opened

    alice.new_group_action.trigger()  # Alice looks at another group meanwhile
    qtbot.keyClicks(alice.dialog.name, "Elsewhere")
    click(qtbot, alice.dialog.create_button)
    qtbot.waitUntil(lambda: alice.group_model.rowCount() == 2, timeout=WAIT_MS)
    elsewhere = next(g for g in alice.group_model.groups() if g.name == "Elsewhere")
    alice.select_group(elsewhere.group_id)
    bob.show()
    bob.activateWindow()  # and away from this window: Bob's is in front
    unread = ["First unread"] + [f"More news {i}" for i in range(12)]
    for text in unread:
        send(qtbot, bob, text)

    def all_unread_at_alice() -> bool:
        row = alice.group_model.row_of(couriers.group_id)
        group = alice.group_model.group_at(row)
        return group is not None and group.unread == len(unread)

    qtbot.waitUntil(all_unread_at_alice, timeout=WAIT_MS)
    alice.resize(1000, 420)
    alice.select_group(couriers.group_id)
    assert _divider_rows(alice) == ["First unread"]
    index = alice.message_model.index(
        next(r for r in range(alice.message_model.rowCount())
             if alice.message_model.index(r).data() == "First unread")
    )  # fmt: skip
    bar = alice.chat.verticalScrollBar()

    def at_the_line() -> bool:
        top = alice.chat.visualRect(index).top()
        return bar.maximum() > 0 and 0 <= top <= 40 and bar.value() < bar.maximum()

    qtbot.waitUntil(at_the_line, timeout=WAIT_MS)
    assert alice.chat.jump_button.isVisible()

    # A message arriving now goes below without a second line.
    send(qtbot, bob, "Later still")
    qtbot.waitUntil(lambda: "Later still" in shown_texts(alice), timeout=WAIT_MS)
    assert _divider_rows(alice) == ["First unread"]
