"""The messages of one channel as a Qt list model that loads lazily, newest first.

A group may hold 100,000 messages; only the newest page is read when a channel opens,
and older pages are read from the GUI's own read-only connection (``Queries.reader``)
through ``canFetchMore``/``fetchMore`` when the person scrolls up. Rows are kept in
``row_id`` order, so a message arriving from the engine is a binary-search insert.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.api import DEFAULT_CHANNEL, ClientError, MessageView, Queries

__all__ = ["MessageModel", "Roles", "day_label", "status_text"]

Index = QModelIndex | QPersistentModelIndex

PAGE = 100


class Roles:
    """Custom data roles the delegate and the tests read."""

    MESSAGE = Qt.ItemDataRole.UserRole + 1  # the MessageView
    SHOW_DAY = Qt.ItemDataRole.UserRole + 2  # 1: first message of a calendar day
    SHOW_SENDER = Qt.ItemDataRole.UserRole + 3  # 1: a new sender starts here
    STATUS_TEXT = Qt.ItemDataRole.UserRole + 4  # "Sent", "Not sent - retry", ...
    DAY_TEXT = Qt.ItemDataRole.UserRole + 5  # "Today", "Monday 2 March 2026", ...
    TIME_TEXT = Qt.ItemDataRole.UserRole + 6  # "14:05"
    QUOTE = Qt.ItemDataRole.UserRole + 7  # a reply's line about what it answers, or ""
    NEW_DIVIDER = Qt.ItemDataRole.UserRole + 8  # 1: "New messages" goes above this row
    THUMBNAIL = Qt.ItemDataRole.UserRole + 9  # a QImage of an attached picture, or None


_STATUS_TEXT = {
    "pending": "Waiting to send",
    "sent": "Sent",
    "failed": "Not sent · Retry",
    "received": "",
}


def status_text(status: str) -> str:
    """What the bubble shows for a delivery status (only our own messages show one)."""
    return _STATUS_TEXT.get(status, status)


def _local(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000)


def day_label(ms: int, today: dt.date | None = None) -> str:
    """A day separator's text: Today, Yesterday, or the full date."""
    return _day_text(_local(ms).date(), today)


def _day_text(day: dt.date, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    if day == today:
        return "Today"
    if day == today - dt.timedelta(days=1):
        return "Yesterday"
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"


class MessageModel(QAbstractListModel):
    """Messages of one (group, channel), oldest at row 0."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._reader: Queries | None = None
        self._group_id: bytes | None = None
        self._channel_id: bytes = DEFAULT_CHANNEL
        self._rows: list[MessageView] = []
        # The day each row is shown under: the latest day of it and every row above it,
        # so day lines never go back in time when a sender's clock is behind (rows are in
        # arrival order). Extended as rows are appended; emptied when rows go elsewhere.
        self._sections: list[dt.date] = []
        self._ids: list[int] = []
        self._has_older = False
        self._wants_older: Callable[[], bool] = lambda: True
        self._first_unread: int | None = None  # row id under the "New messages" line
        # Thumbnails of attached pictures (app/qt/image_preview.py), when the window has them.
        self.thumbnail: Callable[[MessageView], Any] | None = None

    # -- source -----------------------------------------------------------------------

    def set_source(
        self,
        reader: Queries | None,
        group_id: bytes | None,
        channel_id: bytes = DEFAULT_CHANNEL,
        read_upto: int | None = None,
    ) -> None:
        """Show another channel: read its newest page only. With ``read_upto`` (the last
        message read), a "New messages" line goes above the first one after it from
        someone else; it stays where it is while the channel is open."""
        self.beginResetModel()
        self._reader, self._group_id, self._channel_id = reader, group_id, channel_id
        if reader is not None and group_id is not None:
            self._rows = reader.messages(group_id, channel_id, limit=PAGE)
        else:
            self._rows = []
        self._ids = [m.row_id for m in self._rows]
        self._sections = []
        self._has_older = len(self._rows) == PAGE
        self._first_unread = (
            next((m.row_id for m in self._rows if m.row_id > read_upto and not m.is_mine), None)
            if read_upto is not None
            else None
        )
        self.endResetModel()

    def set_fetch_gate(self, wants_older: Callable[[], bool]) -> None:
        """The view tells when older rows are worth reading (its top is in sight).

        Qt's own fetch-more trigger fires while the *last* row is visible, which for a
        chat (newest at the bottom) would otherwise read the whole history page by page.
        """
        self._wants_older = wants_older

    def first_unread(self) -> QModelIndex:
        """The row under the "New messages" line (invalid when there is none)."""
        return (
            self.index_of(self._first_unread) if self._first_unread is not None else QModelIndex()
        )

    @property
    def group_id(self) -> bytes | None:
        return self._group_id

    @property
    def channel_id(self) -> bytes:
        return self._channel_id

    # -- Qt model interface -----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = index.row()
        if not index.isValid() or not 0 <= row < len(self._rows):
            return None
        message = self._rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return message.text
        if role == Roles.MESSAGE:
            return message
        if role == Roles.THUMBNAIL:
            return self.thumbnail(message) if self.thumbnail is not None else None
        # 0/1 rather than bool: PySide6 6.12 loses a reference to True/False on each
        # bool it converts back out of a QVariant, which ends in a crash at exit.
        if role == Roles.SHOW_DAY:
            return int(self._starts_day(row))
        if role == Roles.SHOW_SENDER:
            return int(self._starts_run(row))
        if role == Roles.STATUS_TEXT:
            return status_text(message.status) if message.is_mine else ""
        if role == Roles.DAY_TEXT:
            return _day_text(self._section(row))
        if role == Roles.TIME_TEXT:
            sent = _local(message.sent_at)
            time = sent.strftime("%H:%M")
            if sent.date() != self._section(row):  # sent on an earlier day than shown
                time = f"{sent.strftime('%a')} {sent.day} {sent.strftime('%b')}, {time}"
            return f"edited · {time}" if message.edited and not message.deleted else time
        if role == Roles.QUOTE:
            return self._quote(message)
        if role == Roles.NEW_DIVIDER:
            return int(message.row_id == self._first_unread)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            who = "You" if message.is_mine else message.sender_name
            state = status_text(message.status) if message.is_mine else ""
            return f"{who}: {message.text}" + (f" ({state})" if state else "")
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{message.sender_name} · {_local(message.sent_at):%Y-%m-%d %H:%M:%S}"
        return None

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self._has_older and self._wants_older()

    def fetchMore(self, parent: Index) -> None:
        if parent.isValid() or not self._has_older:
            return
        self._load_older(PAGE)

    # -- reading older pages ----------------------------------------------------------

    def _load_older(self, count: int) -> int:
        reader, group_id = self._reader, self._group_id
        if reader is None or group_id is None or not self._has_older:
            return 0
        before = self._ids[0] if self._ids else None
        older = reader.messages(group_id, self._channel_id, limit=count, before=before)
        self._has_older = len(older) == count
        if not older:
            return 0
        self.beginInsertRows(QModelIndex(), 0, len(older) - 1)
        self._rows[0:0] = older
        self._ids[0:0] = [m.row_id for m in older]
        self._sections = []
        self.endInsertRows()
        # The previously first row may no longer start a day or a run of one sender.
        boundary = self.index(len(older))
        self.dataChanged.emit(boundary, boundary, [Roles.SHOW_DAY, Roles.SHOW_SENDER])
        return len(older)

    def ensure_loaded(self, row_id: int) -> QModelIndex:
        """Read older pages until ``row_id`` is in the model (search results jump here)."""
        while (not self._ids or self._ids[0] > row_id) and self._has_older:
            if not self._load_older(PAGE * 10):
                break
        return self.index_of(row_id)

    # -- live updates -----------------------------------------------------------------

    def add(self, message: MessageView) -> bool:
        """Insert a message the engine announced; False if it is not for this channel."""
        if message.group_id != self._group_id or message.channel_id != self._channel_id:
            return False
        pos = bisect.bisect_left(self._ids, message.row_id)
        if pos < len(self._ids) and self._ids[pos] == message.row_id:
            self._replace(pos, message)
            return True
        if pos == 0 and self._has_older and self._ids:
            return False  # older than everything loaded: it appears when scrolled to
        self.beginInsertRows(QModelIndex(), pos, pos)
        self._rows.insert(pos, message)
        self._ids.insert(pos, message.row_id)
        if pos < len(self._sections):
            del self._sections[pos:]
        self.endInsertRows()
        if pos + 1 < len(self._rows):
            # Every later row's day line may change (a later day now comes before it).
            after, last = self.index(pos + 1), self.index(len(self._rows) - 1)
            self.dataChanged.emit(after, last, [Roles.SHOW_DAY, Roles.SHOW_SENDER])
        return True

    def add_many(self, messages: list[MessageView]) -> None:
        """Insert a burst (a catch-up after weeks offline) with one insert per run of
        newer messages instead of one per message."""
        mine = sorted(
            (m for m in messages
             if m.group_id == self._group_id and m.channel_id == self._channel_id),
            key=lambda m: m.row_id,
        )  # fmt: skip
        last = self._ids[-1] if self._ids else -1
        tail = [m for m in mine if m.row_id > last]
        for message in mine[: len(mine) - len(tail)]:
            self.add(message)
        if not tail:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(tail) - 1)
        self._rows.extend(tail)
        self._ids.extend(m.row_id for m in tail)
        self.endInsertRows()

    def set_status(self, row_id: int, status: str) -> None:
        pos = self._position(row_id)
        if pos is None:
            return
        if self._rows[pos].message_id is None and self._reader is not None:
            # Queued before it was sealed: read it again for its message id (replies,
            # edits and reactions name it).
            self.refresh(row_id)
            pos = self._position(row_id)
            if pos is None:
                return
        self._replace(pos, dataclasses.replace(self._rows[pos], status=status))

    def _replace(self, pos: int, message: MessageView) -> None:
        self._rows[pos] = message
        index = self.index(pos)
        self.dataChanged.emit(index, index)

    def _position(self, row_id: int) -> int | None:
        pos = bisect.bisect_left(self._ids, row_id)
        if pos < len(self._ids) and self._ids[pos] == row_id:
            return pos
        return None

    def index_of(self, row_id: int) -> QModelIndex:
        pos = self._position(row_id)
        return self.index(pos) if pos is not None else QModelIndex()

    def thumbnail_ready(self, row_id: int) -> None:
        """An attached picture's thumbnail arrived: the row is laid out again."""
        pos = self._position(row_id)
        if pos is not None:
            self.dataChanged.emit(self.index(pos), self.index(pos))

    def message_at(self, row: int) -> MessageView | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def refresh(self, row_id: int) -> None:
        """Read one message again (edited, deleted, reacted to) if it is on screen, and
        the replies to it whose quote may have changed."""
        pos = self._position(row_id)
        if pos is None or self._reader is None:
            return
        try:
            view = self._reader.message(row_id)
        except ClientError:
            return
        self._replace(pos, view)
        if view.message_id is not None:
            for row, message in enumerate(self._rows):
                if message.reply_to == view.message_id:
                    self.dataChanged.emit(self.index(row), self.index(row))

    def _quote(self, message: MessageView) -> str:
        if message.reply_to is None:
            return ""
        target = next((m for m in self._rows if m.message_id == message.reply_to), None)
        if target is None and self._reader is not None and self._group_id is not None:
            try:
                target = self._reader.message_by_id(self._group_id, message.reply_to)
            except ClientError:
                target = None
        if target is None:
            return "↩ a message you do not have"
        if target.deleted:
            return f"↩ {target.sender_name}: message deleted"
        line = " ".join(target.text.split())
        return f"↩ {target.sender_name}: {line if len(line) <= 80 else line[:79] + '…'}"

    # -- grouping ---------------------------------------------------------------------

    def _section(self, row: int) -> dt.date:
        """The day ``row`` is shown under (see ``_sections``)."""
        sections = self._sections
        if len(sections) <= row:
            latest = sections[-1] if sections else None
            for message in self._rows[len(sections) : row + 1]:
                day = _local(message.sent_at).date()
                latest = day if latest is None or day > latest else latest
                sections.append(latest)
        return sections[row]

    def _starts_day(self, row: int) -> bool:
        return row == 0 or self._section(row) != self._section(row - 1)

    def _starts_run(self, row: int) -> bool:
        if row == 0 or self._starts_day(row):
            return True
        previous, current = self._rows[row - 1], self._rows[row]
        return (
            previous.sender_fingerprint != current.sender_fingerprint
            or current.sent_at - previous.sent_at > 5 * 60 * 1000
        )
