"""The sidebar's group list: a model over ``GroupView`` values and a delegate that paints
each group's name with its unread count as a badge."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.core.api import GroupView
from app.qt.theme import colors

__all__ = ["GroupDelegate", "GroupListModel"]

Index = QModelIndex | QPersistentModelIndex

GROUP_ROLE = Qt.ItemDataRole.UserRole + 1
UNREAD_ROLE = Qt.ItemDataRole.UserRole + 2


class GroupListModel(QAbstractListModel):
    """Groups in the order they were joined; rows are replaced in place on change."""

    GROUP_ROLE = GROUP_ROLE
    UNREAD_ROLE = UNREAD_ROLE

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._groups: list[GroupView] = []

    def set_groups(self, groups: list[GroupView]) -> None:
        self.beginResetModel()
        self._groups = list(groups)
        self.endResetModel()

    def upsert(self, group: GroupView) -> None:
        for row, existing in enumerate(self._groups):
            if existing.group_id == group.group_id:
                self._groups[row] = group
                index = self.index(row)
                self.dataChanged.emit(index, index)
                return
        row = len(self._groups)
        self.beginInsertRows(QModelIndex(), row, row)
        self._groups.append(group)
        self.endInsertRows()

    def row_of(self, group_id: bytes) -> int:
        for row, group in enumerate(self._groups):
            if group.group_id == group_id:
                return row
        return -1

    def group_at(self, row: int) -> GroupView | None:
        return self._groups[row] if 0 <= row < len(self._groups) else None

    def groups(self) -> list[GroupView]:
        return list(self._groups)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._groups)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        group = self.group_at(index.row()) if index.isValid() else None
        if group is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return group.name
        if role == GROUP_ROLE:
            return group
        if role == UNREAD_ROLE:
            return group.unread
        if role == Qt.ItemDataRole.AccessibleTextRole:
            extra = f", {group.unread} unread" if group.unread else ""
            gone = "" if group.status == "active" else f", {group.status}"
            muted = ", muted" if group.muted else ""
            return f"{group.name}{extra}{gone}{muted}"
        if role == Qt.ItemDataRole.ToolTipRole:
            mine = group.my_role or "not a member"
            return f"{group.name} · {group.member_count} members · you are {mine}"
        return None


class GroupDelegate(QStyledItemDelegate):
    """Name on the left, unread badge on the right, greyed when we are no longer in it."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        # No width of its own: the name is elided to the list's width in ``paint``, so a
        # long name (a case's "Case: …") never makes the list scroll sideways.
        base = super().sizeHint(option, index)
        return QSize(0, max(base.height(), 34))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        group: GroupView | None = index.data(GROUP_ROLE)
        if group is None:
            return
        c = colors()
        rect: QRect = option.rect
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.accent))
            painter.drawRoundedRect(rect.adjusted(4, 2, -4, -2), 6, 6)
        font = QFont(option.font)
        font.setBold(group.unread > 0)
        painter.setFont(font)
        text_colour = (
            c.accent_text if selected else (c.text if group.status == "active" else c.muted)
        )
        painter.setPen(QColor(text_colour))
        badge_w = 0
        if group.unread:
            badge = str(group.unread) if group.unread < 1000 else "999+"
            small = QFont(option.font)
            small.setPointSizeF(max(small.pointSizeF() * 0.85, 6.0))
            small.setBold(True)
            fm = QFontMetrics(small)
            badge_w = max(fm.horizontalAdvance(badge) + 12, fm.height() + 4)
            badge_rect = QRect(
                rect.right() - 12 - badge_w,
                rect.center().y() - fm.height() // 2 - 2,
                badge_w,
                fm.height() + 4,
            )
            painter.setPen(Qt.PenStyle.NoPen)
            # A muted group's count is grey: there, but not calling for attention.
            fill = c.muted if group.muted else c.accent
            painter.setBrush(QColor(c.accent_text if selected else fill))
            painter.drawRoundedRect(badge_rect, badge_rect.height() / 2, badge_rect.height() / 2)
            painter.setFont(small)
            painter.setPen(QColor(fill if selected else c.accent_text))
            painter.drawText(badge_rect, int(Qt.AlignmentFlag.AlignCenter), badge)
            painter.setFont(font)
            painter.setPen(QColor(text_colour))
        name_rect = rect.adjusted(14, 0, -(badge_w + 20), 0)
        name = QFontMetrics(font).elidedText(
            group.name, Qt.TextElideMode.ElideRight, name_rect.width()
        )
        painter.drawText(
            name_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), name
        )
        painter.restore()
