"""The window a person resizes: at 720 px the conversation and its Send button stay on
screen (the members column folds away and comes back when the window widens), and the
chat follows your own message and offers a way back to the newest one."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect

from app.qt.responsive import MINIMUM, NARROW_PX
from tests.qt.helpers import WAIT_MS, click, create_group, create_profile, send, shown_texts


def _on_screen(window, widget) -> bool:  # type: ignore[no-untyped-def]
    """Whether all of ``widget`` lies inside the window's visible area."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    return widget.isVisible() and QRect(QPoint(0, 0), window.size()).contains(
        QRect(top_left, widget.size())
    )


def test_a_narrow_window_folds_the_members_column_and_keeps_send_visible(
    qtbot, relay, make_app
) -> None:  # type: ignore[no-untyped-def]
    window = create_profile(qtbot, make_app("alice"), "Alice", relay.url)
    create_group(qtbot, window, "Couriers")
    window.show()
    assert window.minimumSize() == MINIMUM

    window.resize(720, 600)
    qtbot.waitUntil(lambda: window.width() == 720, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.members.isVisible(), timeout=WAIT_MS)
    assert not window.members_toggle.isChecked()
    assert _on_screen(window, window.composer.send)
    assert _on_screen(window, window.members_toggle)
    assert _on_screen(window, window.composer.edit)

    # The Members button still opens the column at this width...
    click(qtbot, window.members_toggle)
    qtbot.waitUntil(window.members.isVisible, timeout=WAIT_MS)
    assert window.width() == 720
    assert _on_screen(window, window.composer.send)
    click(qtbot, window.members_toggle)
    qtbot.waitUntil(lambda: not window.members.isVisible(), timeout=WAIT_MS)

    # ...and widening the window brings back what was chosen while it was wide.
    window.resize(1440, 800)
    qtbot.waitUntil(window.members.isVisible, timeout=WAIT_MS)
    assert window.width() >= NARROW_PX


def test_sending_shows_your_message_and_the_jump_button_returns_to_the_newest(
    qtbot, relay, make_app
) -> None:  # type: ignore[no-untyped-def]
    window = create_profile(qtbot, make_app("alice"), "Alice", relay.url)
    create_group(qtbot, window, "Couriers")
    window.resize(1000, 500)
    window.show()
    for number in range(30):
        window.send(f"filler {number}")
    qtbot.waitUntil(lambda: "filler 29" in shown_texts(window), timeout=WAIT_MS)
    chat = window.chat
    bar = chat.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=WAIT_MS)
    assert not chat.jump_button.isVisible()

    bar.setValue(0)  # the reader scrolls up to read something older
    qtbot.waitUntil(chat.jump_button.isVisible, timeout=WAIT_MS)
    click(qtbot, chat.jump_button)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not chat.jump_button.isVisible(), timeout=WAIT_MS)

    bar.setValue(0)
    send(qtbot, window, "my own words")
    qtbot.waitUntil(lambda: shown_texts(window)[-1:] == ["my own words"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum(), timeout=WAIT_MS)
    assert not chat.jump_button.isVisible()


def test_the_window_title_counts_unread_messages(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    from tests.qt.pair import organizer_and_member

    _alice_app, alice, _bob_app, bob = organizer_and_member(qtbot, relay, make_app, "Couriers")
    alice.new_group_action.trigger()
    qtbot.keyClicks(alice.dialog.name, "Elsewhere")
    click(qtbot, alice.dialog.create_button)
    qtbot.waitUntil(lambda: alice.group_model.rowCount() == 2, timeout=WAIT_MS)
    elsewhere = next(g for g in alice.group_model.groups() if g.name == "Elsewhere")
    assert alice.select_group(elsewhere.group_id)  # Alice looks at another group meanwhile
    assert alice.windowTitle() == "Caucus"
    send(qtbot, bob, "first")
    send(qtbot, bob, "second")
    qtbot.waitUntil(lambda: alice.windowTitle() == "(2) Caucus", timeout=WAIT_MS)

    alice.activateWindow()  # Alice comes back to the window and opens Couriers: read
    qtbot.waitUntil(alice.isActiveWindow, timeout=WAIT_MS)
    couriers = next(g for g in alice.group_model.groups() if g.name == "Couriers")
    assert alice.select_group(couriers.group_id)
    qtbot.waitUntil(lambda: alice.windowTitle() == "Caucus", timeout=WAIT_MS)


def test_a_long_group_name_is_shortened_not_scrolled_sideways(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    """A case's group is named "Case: <title>": the list shortens it with "…" instead of
    growing a sideways scroll bar (seen at the default width with two cases)."""
    window = create_profile(qtbot, make_app("alice"), "Alice", relay.url)
    create_group(qtbot, window, "Case: Unpaid invoice from Acme Studio, March and April")
    window.show()
    window.resize(1180, 720)
    qtbot.waitUntil(lambda: window.group_model.rowCount() == 1, timeout=WAIT_MS)
    groups = window.group_list
    qtbot.waitUntil(lambda: groups.viewport().width() > 0, timeout=WAIT_MS)
    assert groups.horizontalScrollBar().maximum() == 0
    assert not groups.horizontalScrollBar().isVisible()
