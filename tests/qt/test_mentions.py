"""Mentions: "@Name" of a member is highlighted, a mention of you notifies even in a
muted group, and "@" in the composer offers the members' names."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.qt.main_window import MainWindow
from app.qt.message_delegate import MessageDelegate
from tests.qt.helpers import WAIT_MS, send, shown_texts
from tests.qt.pair import organizer_and_member


def _mention_place(window: MainWindow, text: str, name: str) -> bool:
    model = window.message_model
    row = next(r for r in range(model.rowCount()) if model.index(r).data() == text)
    delegate = window.chat.itemDelegate()
    assert isinstance(delegate, MessageDelegate)
    return not delegate.span_rect(model.index(row), name).isEmpty()


def test_a_mention_is_highlighted_and_notifies_through_a_mute(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Couriers")
    bob.show()
    bob.activateWindow()  # Alice's window is in the background
    qtbot.waitUntil(lambda: not alice.isActiveWindow(), timeout=WAIT_MS)
    notified: list[tuple[str, str]] = []
    alice.notify.connect(lambda title, body: notified.append((title, body)))
    alice.mute_action.trigger()
    qtbot.waitUntil(lambda: alice.current_group().muted, timeout=WAIT_MS)  # type: ignore[union-attr]

    send(qtbot, bob, "Plain news while muted")
    qtbot.waitUntil(lambda: "Plain news while muted" in shown_texts(alice), timeout=WAIT_MS)
    send(qtbot, bob, "@alice can you cover the 9am run? cc @Nobody")
    text = "@alice can you cover the 9am run? cc @Nobody"
    qtbot.waitUntil(lambda: text in shown_texts(alice), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: notified != [], timeout=WAIT_MS)
    assert notified == [("Bob mentioned you in Couriers", "New message")]
    assert _mention_place(alice, text, "Alice")  # drawn highlighted (any case of the name)
    assert not _mention_place(alice, text, "Nobody")  # not a member: plain text
    assert not _mention_place(alice, "Plain news while muted", "Alice")


def test_typing_at_offers_member_names(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Couriers")
    bob.show()
    edit = bob.composer.edit
    completer = edit.mentions
    qtbot.waitUntil(lambda: completer.names() == ["Alice"], timeout=WAIT_MS)
    edit.setFocus()
    qtbot.keyClicks(edit, "thanks @al")
    qtbot.waitUntil(completer.popup_open, timeout=WAIT_MS)
    assert completer.completer.currentCompletion() == "Alice"
    qtbot.keyClick(completer.popup, Qt.Key.Key_Return)  # picks the name, does not send
    assert edit.toPlainText() == "thanks @Alice "
    assert not completer.popup_open()
    qtbot.keyClicks(edit, "ok @zed")
    assert not completer.popup_open()  # no member by that name
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "thanks @Alice ok @zed" in shown_texts(alice), timeout=WAIT_MS)
