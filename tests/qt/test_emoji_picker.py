"""The composer's emoji button: a grid of common emoji, one click puts one at the cursor."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from app.qt.composer import Composer
from app.qt.emoji_picker import COMMON_EMOJI
from tests.qt.helpers import WAIT_MS, click


def test_an_emoji_goes_in_at_the_cursor(qtbot) -> None:  # type: ignore[no-untyped-def]
    composer = Composer()
    qtbot.addWidget(composer)
    composer.set_writable(True)
    composer.show()
    sent: list[str] = []
    composer.send_requested.connect(sent.append)
    composer.edit.setPlainText("Well done team")
    cursor = composer.edit.textCursor()
    cursor.setPosition(len("Well done"))
    composer.edit.setTextCursor(cursor)

    click(qtbot, composer.emoji_button)
    picker = composer.emoji_picker
    qtbot.waitUntil(picker.isVisible, timeout=WAIT_MS)
    assert len(picker.buttons) == len(COMMON_EMOJI) == 24
    party = next(b for b in picker.buttons if b.text() == "🎉")
    qtbot.mouseClick(party, Qt.MouseButton.LeftButton)
    assert not picker.isVisible()
    assert composer.edit.toPlainText() == "Well done🎉 team"
    assert sent == []  # only inserted, not sent

    composer.edit.moveCursor(QTextCursor.MoveOperation.End)
    click(qtbot, composer.emoji_button)
    qtbot.waitUntil(picker.isVisible, timeout=WAIT_MS)
    qtbot.mouseClick(picker.buttons[0], Qt.MouseButton.LeftButton)
    assert composer.edit.toPlainText() == f"Well done🎉 team{COMMON_EMOJI[0]}"

    composer.set_writable(False, "Only organizers can post in this channel.")
    assert not composer.emoji_button.isEnabled()
