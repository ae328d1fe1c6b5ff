"""Files attached to a message in the desktop app, between two instances on a real relay:
one sends a file with the composer's text, the other sees it in the bubble and saves it
from the message's menu, byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMenu

from app.qt.main_window import MainWindow
from app.qt.message_delegate import shown_text
from tests.qt.helpers import WAIT_MS
from tests.qt.pair import organizer_and_member


def _with_files(window: MainWindow) -> list[int]:
    model = window.message_model
    rows = []
    for row in range(model.rowCount()):
        message = model.message_at(row)
        if message is not None and message.attachments:
            rows.append(row)
    return rows


def test_send_a_file_and_save_it_from_the_menu(qtbot, relay, make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Bakery")
    for window in (alice, bob):
        window.resize(1000, 700)
        window.show()
    rota = tmp_path / "rota.pdf"
    rota.write_bytes(os.urandom(5000))
    alice.composer.edit.setPlainText("next week")
    alice.send_files([rota])
    qtbot.waitUntil(lambda: bool(_with_files(bob)), timeout=WAIT_MS)
    assert alice.composer.edit.toPlainText() == ""  # the text went with the file

    row = _with_files(bob)[0]
    message = bob.message_model.message_at(row)
    assert message is not None
    assert shown_text(message) == "next week\n📎 rota.pdf · 5.0 KB"

    index = bob.message_model.index(row)
    bob.chat.scrollTo(index)
    bob.chat.customContextMenuRequested.emit(bob.chat.visualRect(index).center())
    menu = bob.chat.context_menu
    assert isinstance(menu, QMenu)
    next(a for a in menu.actions() if a.text() == "Save “rota.pdf”…").trigger()
    dialog = bob.dialog
    assert isinstance(dialog, QFileDialog)
    out = tmp_path / "saved.pdf"
    dialog.fileSelected.emit(str(out))
    qtbot.waitUntil(lambda: bob.last_saved is not None, timeout=WAIT_MS)
    assert bob.last_saved == out and out.read_bytes() == rota.read_bytes()
    dialog.close()
