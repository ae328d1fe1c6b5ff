"""The message composer: Enter sends, Shift+Enter starts a new line."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.api import MessageView
from app.qt.emoji_picker import EmojiPicker
from app.qt.mention_completer import MentionCompleter
from app.qt.widgets import primary_button

__all__ = ["Composer", "MessageEdit"]

_MAX_LINES = 6
_POPUP_KEYS = (
    Qt.Key.Key_Return,
    Qt.Key.Key_Enter,
    Qt.Key.Key_Tab,
    Qt.Key.Key_Backtab,
    Qt.Key.Key_Escape,
)


class MessageEdit(QPlainTextEdit):
    """A text box that grows with its content up to a few lines."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Message")
        self.setTabChangesFocus(True)
        self.document().contentsChanged.connect(self._fit)
        self.mentions = MentionCompleter(self)
        self._fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.mentions.popup_open() and event.key() in _POPUP_KEYS:
            event.ignore()  # the popup of names takes it (Enter picks a name, not send)
            return
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
    """``send_requested(text)``; the window clears it once the engine has the message.

    While replying to or editing a message, a bar above the text says which (with a
    button to stop); the window reads ``replying_to`` / ``editing`` when it sends.
    """

    send_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.replying_to: MessageView | None = None
        self.editing: MessageView | None = None
        self.context = QLabel()
        self.context.setObjectName("composerContext")
        self.context.setAccessibleName("Replying or editing")
        self.context.setTextFormat(Qt.TextFormat.PlainText)
        self.cancel_context = QToolButton()
        self.cancel_context.setText("✕")
        self.cancel_context.setAccessibleName("Stop replying or editing")
        self.cancel_context.clicked.connect(self.clear_context)
        self.edit = MessageEdit()
        self.edit.submitted.connect(self._send)
        self.emoji_button = QToolButton()
        self.emoji_button.setObjectName("emojiButton")
        self.emoji_button.setText("🙂")
        self.emoji_button.setToolTip("Insert an emoji")
        self.emoji_button.setAccessibleName("Insert an emoji")
        self.emoji_picker = EmojiPicker(self)
        self.emoji_picker.chosen.connect(self._insert_emoji)
        self.emoji_button.clicked.connect(lambda: self.emoji_picker.show_above(self.emoji_button))
        self.send = primary_button("Send")
        self.send.setDefault(False)
        self.send.clicked.connect(self._send)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.context, 1)
        bar.addWidget(self.cancel_context)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.emoji_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.send, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 10)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addLayout(row)
        self._show_context()

    def set_member_names(self, names: list[str]) -> None:
        """Who "@" offers (the open group's other members)."""
        self.edit.mentions.set_names(names)

    def reply_to(self, message: MessageView) -> None:
        self.editing, self.replying_to = None, message
        self._show_context()
        self.edit.setFocus()

    def start_edit(self, message: MessageView) -> None:
        self.replying_to, self.editing = None, message
        self.edit.setPlainText(message.text)
        self._show_context()
        self.edit.setFocus()

    def clear_context(self) -> None:
        if self.editing is not None:
            self.edit.clear()
        self.replying_to = self.editing = None
        self._show_context()

    def _show_context(self) -> None:
        if self.replying_to is not None:
            text = (
                f"Replying to {self.replying_to.sender_name}: {_first_line(self.replying_to.text)}"
            )
        elif self.editing is not None:
            text = "Editing your message (Esc or ✕ to stop)"
        else:
            text = ""
        self.context.setText(text)
        self.context.setVisible(bool(text))
        self.cancel_context.setVisible(bool(text))

    def _insert_emoji(self, emoji: str) -> None:
        """At the cursor (replacing a selection), and back to typing."""
        self.edit.insertPlainText(emoji)
        self.edit.setFocus()

    def _send(self) -> None:
        text = self.edit.toPlainText()
        if text.strip():
            self.send_requested.emit(text)

    def clear(self) -> None:
        self.edit.clear()
        self.replying_to = self.editing = None
        self._show_context()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and (self.replying_to or self.editing):
            self.clear_context()
            return
        super().keyPressEvent(event)

    def set_writable(self, writable: bool, reason: str = "") -> None:
        """Announcement-only channels and groups we left cannot be written to."""
        self.edit.setReadOnly(not writable)
        self.send.setEnabled(writable)
        self.emoji_button.setEnabled(writable)
        self.edit.setPlaceholderText(
            "Write a message — Enter sends, Shift+Enter adds a line" if writable else reason
        )
        if not writable:
            self.edit.clear()


def _first_line(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
