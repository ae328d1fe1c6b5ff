"""The message composer: Enter sends, Shift+Enter starts a new line."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QWidget

from app.qt.widgets import primary_button

__all__ = ["Composer", "MessageEdit"]

_MAX_LINES = 6


class MessageEdit(QPlainTextEdit):
    """A text box that grows with its content up to a few lines."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Message")
        self.setTabChangesFocus(True)
        self.document().contentsChanged.connect(self._fit)
        self._fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def _fit(self) -> None:
        lines = self.document().blockCount()
        shown = min(max(lines, 1), _MAX_LINES)
        margins = self.contentsMargins().top() + self.contentsMargins().bottom()
        chrome = int(2 * self.document().documentMargin()) + margins + 2 * self.frameWidth()
        self.setFixedHeight(shown * self.fontMetrics().lineSpacing() + chrome + 4)
        policy = (
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if lines > _MAX_LINES
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )
        self.setVerticalScrollBarPolicy(policy)


class Composer(QWidget):
    """``send_requested(text)``; the window clears it once the engine has the message."""

    send_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.edit = MessageEdit()
        self.edit.submitted.connect(self._send)
        self.send = primary_button("Send")
        self.send.setDefault(False)
        self.send.clicked.connect(self._send)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.send, 0, Qt.AlignmentFlag.AlignBottom)

    def _send(self) -> None:
        text = self.edit.toPlainText()
        if text.strip():
            self.send_requested.emit(text)

    def clear(self) -> None:
        self.edit.clear()

    def set_writable(self, writable: bool, reason: str = "") -> None:
        """Announcement-only channels and groups we left cannot be written to."""
        self.edit.setReadOnly(not writable)
        self.send.setEnabled(writable)
        self.edit.setPlaceholderText(
            "Write a message — Enter sends, Shift+Enter adds a line" if writable else reason
        )
        if not writable:
            self.edit.clear()
