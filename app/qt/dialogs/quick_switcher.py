"""Ctrl+K: type a few letters of a group or channel name, press Enter to go there."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.core.api import GroupView

__all__ = ["QuickSwitcher", "Target"]


_ARROW = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "


@dataclass(frozen=True)
class Target:
    group_id: bytes
    channel_id: bytes
    label: str


def targets(groups: list[GroupView]) -> list[Target]:
    found = []
    for group in groups:
        for channel in group.channels:
            label = f"{group.name}{_ARROW}#{channel.name}"
            found.append(Target(group.group_id, channel.channel_id, label))
    return found


class QuickSwitcher(QDialog):
    """``chosen(group_id, channel_id)`` when an entry is picked."""

    chosen = Signal(bytes, bytes)

    def __init__(self, groups: list[GroupView], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Go to…")
        self._targets = targets(groups)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Group or channel name")
        self.filter.setAccessibleName("Quick switcher filter")
        self.list = QListWidget()
        self.list.setAccessibleName("Matching groups and channels")
        self.filter.textChanged.connect(self._refilter)
        self.filter.returnPressed.connect(self._accept_current)
        self.list.itemActivated.connect(lambda _item: self._accept_current())
        self.filter.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        self._refilter("")
        self.resize(420, 320)

    def _refilter(self, text: str) -> None:
        words = text.lower().split()
        self.list.clear()
        for target in self._targets:
            if all(word in target.label.lower() for word in words):
                item = QListWidgetItem(target.label)
                item.setData(Qt.ItemDataRole.UserRole, target)
                self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up and Down in the filter field move through the list."""
        if (
            watched is self.filter
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up)
        ):
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            row = min(max(self.list.currentRow() + step, 0), self.list.count() - 1)
            self.list.setCurrentRow(row)
            return True
        return super().eventFilter(watched, event)

    def _accept_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        target: Target = item.data(Qt.ItemDataRole.UserRole)
        self.chosen.emit(target.group_id, target.channel_id)
        self.accept()
