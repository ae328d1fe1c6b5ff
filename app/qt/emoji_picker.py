"""A small popup grid of common emoji; choosing one says which and closes it."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QToolButton, QWidget

__all__ = ["COMMON_EMOJI", "EmojiPicker"]

COMMON_EMOJI = (
    "😀", "😂", "🙂", "😉", "😍", "🤔", "😮", "😢",
    "😡", "🙏", "👍", "👎", "👏", "💪", "✊", "🤝",
    "❤️", "🔥", "🎉", "✅", "❌", "⚠️", "📌", "👀",
)  # fmt: skip
_COLUMNS = 8


class EmojiPicker(QFrame):
    """``chosen(emoji)`` when one is clicked; it hides itself then (or on a click outside)."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("emojiPicker")
        self.setAccessibleName("Emoji")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.setSpacing(2)
        self.buttons: list[QToolButton] = []
        for i, emoji in enumerate(COMMON_EMOJI):
            button = QToolButton()
            button.setText(emoji)
            button.setAccessibleName(emoji)
            button.setAutoRaise(True)
            button.setFixedSize(34, 34)
            button.clicked.connect(lambda _c=False, e=emoji: self._choose(e))
            grid.addWidget(button, i // _COLUMNS, i % _COLUMNS)
            self.buttons.append(button)

    def _choose(self, emoji: str) -> None:
        self.hide()
        self.chosen.emit(emoji)

    def show_above(self, anchor: QWidget) -> None:
        """Open over ``anchor`` (the composer's button), right edges aligned."""
        size = self.sizeHint()
        corner = anchor.mapToGlobal(QPoint(anchor.width(), 0))
        self.move(corner.x() - size.width(), corner.y() - size.height() - 4)
        self.show()
