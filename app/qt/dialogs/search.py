"""Local full-text search over every message on this computer (FTS5 inside the
encrypted database; nothing is sent anywhere)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.core.api import MessageView
from app.core.queries import Queries
from app.qt.widgets import muted_label

__all__ = ["SearchDialog"]


class SearchDialog(QDialog):
    """``chosen(message)`` when a result is opened."""

    chosen = Signal(object)

    def __init__(
        self, reader: Queries, group_names: dict[bytes, str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Search messages")
        self._reader = reader
        self._names = group_names
        self.query = QLineEdit()
        self.query.setPlaceholderText("Words to find")
        self.query.setAccessibleName("Search words")
        self.results = QListWidget()
        self.results.setAccessibleName("Search results")
        self.results.setWordWrap(True)
        self.count = muted_label("")
        self.count.setAccessibleName("Number of results")
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(self._search)
        self.query.textChanged.connect(lambda _t: self._debounce.start())
        self.query.returnPressed.connect(self._search)
        self.results.itemActivated.connect(self._open)
        layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(self.count)
        layout.addWidget(self.results)
        self.resize(520, 420)

    def _search(self) -> None:
        self._debounce.stop()
        text = self.query.text().strip()
        self.results.clear()
        if not text:
            self.count.setText("")
            return
        found = self._reader.search(text, limit=200)
        self.count.setText(f"{len(found)} message{'s' if len(found) != 1 else ''} found")
        for message in found:
            when = dt.datetime.fromtimestamp(message.sent_at / 1000).strftime("%Y-%m-%d %H:%M")
            group = self._names.get(message.group_id, "?")
            item = QListWidgetItem(f"{message.sender_name} in {group}, {when}\n{message.text}")
            item.setData(Qt.ItemDataRole.UserRole, message)
            self.results.addItem(item)

    def _open(self, item: QListWidgetItem) -> None:
        message: MessageView = item.data(Qt.ItemDataRole.UserRole)
        self.chosen.emit(message)
        self.accept()
