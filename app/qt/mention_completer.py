"""Typing "@" in the composer offers the group's members; choosing one writes "@Name "."""

from __future__ import annotations

import re

from PySide6.QtCore import QObject, QStringListModel, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QCompleter, QListView, QPlainTextEdit

__all__ = ["MentionCompleter"]

# "@" at the start or after a space, then what has been typed of the name so far.
_TYPED = re.compile(r"(?:^|(?<=\s))@([^\s@]*)$")


class MentionCompleter(QObject):
    """A popup of matching names under the cursor while an "@word" is being typed."""

    def __init__(self, edit: QPlainTextEdit) -> None:
        super().__init__(edit)
        self._edit = edit
        self._names = QStringListModel(self)
        self.completer = QCompleter(self._names, self)
        self.completer.setWidget(edit)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.popup = QListView()
        self.popup.setAccessibleName("Members to mention")
        self.completer.setPopup(self.popup)  # the completer owns it from here
        self.completer.activated.connect(self._insert)
        edit.textChanged.connect(self._update)

    def set_names(self, names: list[str]) -> None:
        self._names.setStringList(sorted(set(names), key=str.casefold))

    def names(self) -> list[str]:
        return self._names.stringList()

    def popup_open(self) -> bool:
        return self.popup.isVisible()

    def _typed(self) -> str | None:
        cursor = self._edit.textCursor()
        before = cursor.block().text()[: cursor.positionInBlock()]
        match = _TYPED.search(before)
        return match.group(1) if match else None

    def _update(self) -> None:
        typed = self._typed()
        popup = self.popup
        if typed is None or not self._names.rowCount():
            popup.hide()
            return
        self.completer.setCompletionPrefix(typed)
        if not self.completer.completionCount():
            popup.hide()
            return
        area = self._edit.cursorRect()
        area.setWidth(max(popup.sizeHintForColumn(0) + 24, 160))
        self.completer.complete(area)
        # Enter takes the first match without arrowing down to it.
        popup.setCurrentIndex(self.completer.completionModel().index(0, 0))

    def _insert(self, name: str) -> None:
        typed = self._typed()
        if typed is None:
            return
        cursor = self._edit.textCursor()
        cursor.movePosition(
            QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(typed) + 1
        )
        cursor.insertText(f"@{name} ")
        self._edit.setTextCursor(cursor)
