"""Reply, edit, react and delete through the message's context menu, between two app
instances on a real relay: what one does, the other sees."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu, QMessageBox

from app.qt.main_window import MainWindow
from app.qt.message_delegate import shown_text
from app.qt.message_model import Roles
from tests.qt.helpers import WAIT_MS, click, send, shown_texts
from tests.qt.pair import organizer_and_member


def _row(window: MainWindow, text: str) -> int:
    model = window.message_model
    for row in range(model.rowCount()):
        message = model.message_at(row)
        if message is not None and message.text == text:
            return row
    return -1


def _menu_action(qtbot, window: MainWindow, text: str, label: str, submenu: str = "") -> None:  # type: ignore[no-untyped-def]
    """Right-click the message showing ``text`` and choose ``label`` (in ``submenu``)."""
    qtbot.waitUntil(lambda: _row(window, text) >= 0, timeout=WAIT_MS)
    index = window.message_model.index(_row(window, text))
    window.chat.scrollTo(index)
    window.chat.customContextMenuRequested.emit(window.chat.visualRect(index).center())
    top = window.chat.context_menu
    assert isinstance(top, QMenu)
    menu: QMenu = top
    if submenu:
        sub = next(a.menu() for a in top.actions() if a.text() == submenu)
        assert isinstance(sub, QMenu)
        menu = sub
    action = next(a for a in menu.actions() if a.text() == label)
    action.trigger()


def test_reply_edit_react_and_delete_from_the_menu(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Bakery")
    for window in (alice, bob):
        window.resize(1000, 700)
        window.show()
    send(qtbot, bob, "Shift swap on Friday?")
    qtbot.waitUntil(lambda: "Shift swap on Friday?" in shown_texts(alice), timeout=WAIT_MS)

    _menu_action(qtbot, alice, "Shift swap on Friday?", "Reply")
    assert alice.composer.context.text() == "Replying to Bob: Shift swap on Friday?"
    send(qtbot, alice, "I can take it")
    assert not alice.composer.context.isVisible()
    qtbot.waitUntil(lambda: _row(bob, "I can take it") >= 0, timeout=WAIT_MS)
    reply = bob.message_model.index(_row(bob, "I can take it"))
    assert reply.data(Roles.QUOTE) == "↩ Bob: Shift swap on Friday?"

    _menu_action(qtbot, alice, "I can take it", "Edit")
    assert alice.composer.edit.toPlainText() == "I can take it"
    alice.composer.edit.selectAll()
    send(qtbot, alice, "I can take it, from 2 pm")
    qtbot.waitUntil(lambda: _row(bob, "I can take it, from 2 pm") >= 0, timeout=WAIT_MS)
    edited = bob.message_model.index(_row(bob, "I can take it, from 2 pm"))
    assert str(edited.data(Roles.TIME_TEXT)).startswith("edited · ")
    assert _row(bob, "I can take it") < 0  # replaced in place, not a second message

    _menu_action(qtbot, bob, "I can take it, from 2 pm", "✊", submenu="React")
    qtbot.waitUntil(
        lambda: (
            _row(alice, "I can take it, from 2 pm") >= 0
            and alice.message_model.message_at(_row(alice, "I can take it, from 2 pm")).reactions
            == (("✊", ("Bob",)),)
        ),
        timeout=WAIT_MS,
    )

    _menu_action(qtbot, alice, "I can take it, from 2 pm", "Delete for everyone…")
    box = alice.dialog
    assert isinstance(box, QMessageBox)
    click(qtbot, next(b for b in box.buttons() if b.text() == "Delete"))

    def deleted_at_bob() -> bool:
        model = bob.message_model
        return any(
            (m := model.message_at(row)) is not None and m.deleted
            for row in range(model.rowCount())
        )

    qtbot.waitUntil(deleted_at_bob, timeout=WAIT_MS)
    gone = next(
        m for row in range(bob.message_model.rowCount())
        if (m := bob.message_model.message_at(row)) is not None and m.deleted
    )  # fmt: skip
    assert shown_text(gone) == "This message was deleted" and gone.reactions == ()
    assert "I can take it, from 2 pm" not in shown_texts(bob)
