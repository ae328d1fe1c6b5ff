"""Paints one message as a chat bubble: day separator, sender, text, time and status.

Layout is computed once per (message, status, width) and cached, so scrolling through
long channels only paints; a click on a failed message's "Retry" mark asks to resend it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QMouseEvent,
    QPainter,
    QPen,
    QTextLayout,
)
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.core.api import MessageView
from app.qt import rich_text
from app.qt.dialogs.publish import human_size
from app.qt.message_model import Roles
from app.qt.rich_text import Span, SpanKind
from app.qt.theme import colors

__all__ = ["NEW_MESSAGES", "MessageDelegate", "event_text", "reactions_line", "shown_text"]

Index = QModelIndex | QPersistentModelIndex

_SIDE = 14  # margin between the view's edge and a bubble
_PAD_X, _PAD_Y = 10, 6  # inside a bubble
_RUN_GAP = 8  # extra space above the first message of a sender's run
_RADIUS = 10
_MAX_BUBBLE = 560
_SENDER_COLOURS = (
    "#2f6fb0", "#8e44ad", "#16876b", "#b0552f", "#a0337a", "#4d6b12",
    "#2b7a8c", "#7a5c12", "#5b4fc4", "#b03a48", "#3d7d3d", "#8a4f7d",
)  # fmt: skip
_WRAP = int(Qt.TextFlag.TextWordWrap)
NEW_MESSAGES = "New messages"


@dataclass(frozen=True)
class _Layout:
    height: int
    day: QRect | None
    sender: QRect | None
    bubble: QRect
    text: QRect
    warning: QRect | None
    footer: QRect
    status: QRect | None
    quote: QRect | None = None  # a reply's line about what it answers
    reactions: QRect | None = None  # under the bubble
    divider: QRect | None = None  # the "New messages" line
    rich: QTextLayout | None = None  # the text, laid out, when it has links or mentions
    spans: tuple[Span, ...] = ()
    thumb: QRect | None = None  # an attached picture's thumbnail, under the text


class SenderColours:
    """A colour per member, so a reader tells speakers apart at a glance.

    Each member starts from a colour picked by their fingerprint (the same every time);
    if another member already has it in this session, the next free one is used.
    """

    def __init__(self) -> None:
        self._given: dict[str, str] = {}

    def __call__(self, fingerprint: str) -> str:
        known = self._given.get(fingerprint)
        if known is not None:
            return known
        start = int(fingerprint[:8] or "0", 16) % len(_SENDER_COLOURS)
        taken = set(self._given.values())
        ring = [
            _SENDER_COLOURS[(start + i) % len(_SENDER_COLOURS)] for i in range(len(_SENDER_COLOURS))
        ]
        colour = next((c for c in ring if c not in taken), ring[0])
        self._given[fingerprint] = colour
        return colour


_EVENT_PAD_X = 12
_EVENT_PAD_Y = 3
_EVENT_WRAP = int(Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap)


def event_text(message: MessageView, time_text: str) -> str:
    """The line an event shows: what happened, who did it, when; clicking opens its
    panel (ballots or documents), the members (a join, a removal) or the pinned message."""
    if message.opens in ("documents", "pins"):
        what = f"{message.sender_name} {message.text}"
    elif message.opens == "members":  # a line about the group names who did it already
        what = message.text
    else:
        what = f"{message.text} · {message.sender_name}"
    warning = f" · ⚠ {message.warning}" if message.warning else ""
    return f"{what}{warning} · {time_text}" if time_text else f"{what}{warning}"


def shown_text(message: MessageView) -> str:
    """A message's text as the bubble shows it (a deleted one says so), then one line per
    attached file (saved from the message's menu)."""
    if message.deleted:
        return "This message was deleted"
    if not message.attachments:
        return message.text
    names = ", ".join(a.name for a in message.attachments)
    files = "\n".join(f"📎 {a.name} · {human_size(a.size)}" for a in message.attachments)
    if message.text == f"sent {names}":  # no text of its own (app/core/attachment_receive.py)
        return files
    return f"{message.text}\n{files}"


def _thumb_size(index: Index) -> tuple[int, int] | None:
    """The size of the row's picture thumbnail, if it has one ready."""
    image = index.data(Roles.THUMBNAIL)
    if isinstance(image, QImage) and not image.isNull():
        return image.width(), image.height()
    return None


def reactions_line(message: MessageView) -> str:
    """ "👍 2  ✊ 1": each emoji with how many reacted (who: the tooltip, the menu)."""
    return "  ".join(
        f"{emoji} {len(names)}" if len(names) > 1 else emoji for emoji, names in message.reactions
    )


class MessageDelegate(QStyledItemDelegate):
    """Bubble painter for ``MessageModel`` rows in a ``ChatView``."""

    retry_requested = Signal(int)  # row_id of a failed message
    link_clicked = Signal(str)  # an http(s) address in a message's text

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self._view = view
        self._colours = SenderColours()
        self._cache: dict[tuple[object, ...], _Layout] = {}
        self._names: tuple[str, ...] = ()  # members' display names: "@Name" is a mention

    # -- fonts and geometry -----------------------------------------------------------

    def _fonts(self) -> tuple[QFont, QFont, QFont]:
        base = QFont(self._view.font())
        small = QFont(base)
        small.setPointSizeF(max(base.pointSizeF() * 0.82, 6.0))
        bold = QFont(base)
        bold.setBold(True)
        return base, small, bold

    def _width(self) -> int:
        return max(self._view.viewport().width(), 200)

    def _layout(self, index: Index) -> _Layout:
        message: MessageView = index.data(Roles.MESSAGE)
        show_day = bool(index.data(Roles.SHOW_DAY))
        show_sender = bool(index.data(Roles.SHOW_SENDER))
        status = str(index.data(Roles.STATUS_TEXT) or "")
        width = self._width()
        font_key = self._view.font().key()
        warning = message.warning or ""
        key = (
            message.row_id,
            status,
            width,
            show_day,
            show_sender,
            warning,
            font_key,
            message.text,
            message.edited,
            message.deleted,
            message.reactions,
            str(index.data(Roles.QUOTE) or ""),
            bool(index.data(Roles.NEW_DIVIDER)),
            _thumb_size(index),
        )
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(self._cache) > 20000:
            self._cache.clear()
        layout = self._compute(message, show_day, show_sender, status, width, index)
        self._cache[key] = layout
        return layout

    def _compute(
        self,
        message: MessageView,
        show_day: bool,
        show_sender: bool,
        status: str,
        width: int,
        index: Index,
    ) -> _Layout:
        base, small, bold = self._fonts()
        fm, fm_small, fm_bold = QFontMetrics(base), QFontMetrics(small), QFontMetrics(bold)
        y = 0
        day = sender = warning = status_rect = None
        if show_day:
            day = QRect(0, y + 8, width, fm_small.height() + 4)
            y = day.bottom() + 8
        divider = None
        if index.data(Roles.NEW_DIVIDER):
            divider = QRect(0, y + 6, width, fm_small.height() + 4)
            y = divider.bottom() + 6
        if message.kind == "event":
            return dataclasses.replace(
                self._event_layout(message, day, y, width, fm_small, index), divider=divider
            )
        if show_sender:
            y += _RUN_GAP
        max_text = min(int(width * 0.72), _MAX_BUBBLE) - 2 * _PAD_X
        spans = () if message.deleted else rich_text.spans_of(message.text, self._names)
        rich = rich_text.lay_out(message.text, base, max_text) if spans else None
        if rich is not None:
            text_box = QRect(0, 0, *rich_text.natural_size(rich))
        else:
            text_box = fm.boundingRect(QRect(0, 0, max_text, 1_000_000), _WRAP, shown_text(message))
        quote_text = str(index.data(Roles.QUOTE) or "")
        quote_box = (
            fm_small.boundingRect(QRect(0, 0, max_text, 1_000_000), _WRAP, quote_text)
            if quote_text
            else None
        )
        reactions_text = reactions_line(message)
        time_text = str(index.data(Roles.TIME_TEXT) or "")
        footer_w = fm_small.horizontalAdvance(time_text)
        if status:
            footer_w += fm_small.horizontalAdvance("  " + status)
        warn_box = None
        if message.warning:
            warn_box = fm_small.boundingRect(
                QRect(0, 0, max_text, 1_000_000), _WRAP, "⚠ " + message.warning
            )
        thumb_size = _thumb_size(index) if not message.deleted else None
        if thumb_size is not None and thumb_size[0] > max_text:
            thumb_size = (max_text, max(1, thumb_size[1] * max_text // thumb_size[0]))
        inner_w = max(
            thumb_size[0] if thumb_size else 0,
            text_box.width(),
            footer_w,
            warn_box.width() if warn_box else 0,
            quote_box.width() + 8 if quote_box else 0,
        )
        bubble_w = inner_w + 2 * _PAD_X
        if show_sender and not message.is_mine:
            name_w = min(fm_bold.horizontalAdvance(message.sender_name) + 4, width - 2 * _SIDE)
            sender = QRect(_SIDE + 2, y, name_w, fm_bold.height())
            y = sender.bottom() + 3
        left = width - _SIDE - bubble_w if message.is_mine else _SIDE
        inner_top = y + _PAD_Y
        quote = None
        if quote_box is not None:
            quote = QRect(left + _PAD_X, inner_top, inner_w, quote_box.height() + 4)
            inner_top = quote.bottom() + 4
        thumb = None
        if thumb_size is not None:
            thumb = QRect(left + _PAD_X, inner_top, thumb_size[0], thumb_size[1])
            inner_top = thumb.bottom() + 6
        text = QRect(left + _PAD_X, inner_top, inner_w, text_box.height())
        cursor = text.bottom() + 3
        if warn_box is not None:
            warning = QRect(left + _PAD_X, cursor, inner_w, warn_box.height())
            cursor = warning.bottom() + 3
        footer = QRect(left + _PAD_X, cursor, inner_w, fm_small.height())
        if status:
            status_w = fm_small.horizontalAdvance(status)
            status_rect = QRect(footer.right() - status_w, footer.top(), status_w, footer.height())
        bubble = QRect(left, y, bubble_w, footer.bottom() + _PAD_Y - y + 1)
        height = bubble.bottom() + 3
        reactions = None
        if reactions_text:
            chip_w = fm_small.horizontalAdvance(reactions_text) + 16
            chip_left = left + bubble_w - chip_w if message.is_mine else left
            reactions = QRect(chip_left, bubble.bottom() + 3, chip_w, fm_small.height() + 6)
            height = reactions.bottom() + 3
        return _Layout(
            height,
            day,
            sender,
            bubble,
            text,
            warning,
            footer,
            status_rect,
            quote,
            reactions,
            divider,
            rich,
            spans,
            thumb,
        )

    def _event_layout(
        self,
        message: MessageView,
        day: QRect | None,
        y: int,
        width: int,
        fm_small: QFontMetrics,
        index: Index,
    ) -> _Layout:
        """A ballot or document line: one centred, muted line in a thin pill, no bubble."""
        line = event_text(message, str(index.data(Roles.TIME_TEXT) or ""))
        room = max(width - 2 * _SIDE - 2 * _EVENT_PAD_X, 40)
        box = fm_small.boundingRect(QRect(0, 0, room, 1_000_000), _EVENT_WRAP, line)
        top = y + 6
        text = QRect((width - box.width()) // 2, top + _EVENT_PAD_Y, box.width(), box.height())
        pill = text.adjusted(-_EVENT_PAD_X, -_EVENT_PAD_Y, _EVENT_PAD_X, _EVENT_PAD_Y)
        return _Layout(pill.bottom() + 6, day, None, pill, text, None, QRect(), None)

    # -- QStyledItemDelegate ----------------------------------------------------------

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        if index.data(Roles.MESSAGE) is None:
            return QSize(0, 0)
        return QSize(self._width(), self._layout(index).height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        message: MessageView | None = index.data(Roles.MESSAGE)
        if message is None:
            return
        layout = self._layout(index)
        c = colors()
        base, small, bold = self._fonts()
        rect = option.rect
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(rect.left(), rect.top())
        if layout.day is not None:
            self._paint_day(painter, layout.day, str(index.data(Roles.DAY_TEXT)), small)
        if layout.divider is not None:
            self._paint_day(painter, layout.divider, NEW_MESSAGES, small, c.accent)
        if message.kind == "event":
            self._paint_event(painter, layout, message, index, small)
            painter.restore()
            return
        if layout.sender is not None:
            painter.setFont(bold)
            name_colour = QColor(self._colours(message.sender_fingerprint))
            painter.setPen(name_colour.lighter(165) if c.dark else name_colour)
            elided = QFontMetrics(bold).elidedText(
                message.sender_name, Qt.TextElideMode.ElideRight, layout.sender.width()
            )
            painter.drawText(layout.sender, int(Qt.AlignmentFlag.AlignLeft), elided)
        fill = QColor(c.bubble_mine if message.is_mine else c.bubble_theirs)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            fill = fill.darker(112) if not c.dark else fill.lighter(130)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(layout.bubble, _RADIUS, _RADIUS)
        text_colour = QColor(c.bubble_text_mine if message.is_mine else c.bubble_text_theirs)
        if layout.quote is not None:
            painter.setPen(QPen(QColor(c.accent), 2))
            painter.drawLine(layout.quote.topLeft(), layout.quote.bottomLeft())
            painter.setFont(small)
            painter.setPen(QColor(c.muted))
            painter.drawText(
                layout.quote.adjusted(8, 2, 0, 0), _WRAP, str(index.data(Roles.QUOTE) or "")
            )
        thumbnail = index.data(Roles.THUMBNAIL)
        if layout.thumb is not None and isinstance(thumbnail, QImage):
            painter.drawImage(layout.thumb, thumbnail)
        font = QFont(base)
        font.setItalic(message.deleted)
        painter.setFont(font)
        painter.setPen(QColor(c.muted) if message.deleted else text_colour)
        if layout.rich is not None:
            rich_text.draw(
                painter,
                layout.rich,
                QPointF(layout.text.topLeft()),
                layout.spans,
                QColor(c.accent),
                QColor(c.accent).lighter(175) if not c.dark else QColor(c.accent).darker(220),
            )
        else:
            painter.drawText(layout.text, _WRAP, shown_text(message))
        if layout.reactions is not None:
            painter.setPen(QPen(QColor(c.separator), 1))
            painter.setBrush(QColor(c.bubble_theirs))
            radius = layout.reactions.height() / 2
            painter.drawRoundedRect(layout.reactions, radius, radius)
            painter.setFont(small)
            painter.setPen(text_colour)
            painter.drawText(
                layout.reactions, int(Qt.AlignmentFlag.AlignCenter), reactions_line(message)
            )
        painter.setFont(small)
        if layout.warning is not None and message.warning:
            painter.setPen(QColor(c.warn))
            painter.drawText(layout.warning, _WRAP, "⚠ " + message.warning)
        painter.setPen(QColor(c.muted))
        time_text = str(index.data(Roles.TIME_TEXT) or "")
        if layout.status is not None:
            status = str(index.data(Roles.STATUS_TEXT))
            if message.status == "failed":
                painter.setPen(QColor(c.danger))
            elif message.status == "sent":
                painter.setPen(QColor(c.ok))
            painter.drawText(layout.status, int(Qt.AlignmentFlag.AlignRight), status)
            painter.setPen(QColor(c.muted))
            time_rect = QRect(layout.footer)
            time_rect.setRight(layout.status.left() - 6)
            painter.drawText(time_rect, int(Qt.AlignmentFlag.AlignRight), time_text)
        else:
            painter.drawText(layout.footer, int(Qt.AlignmentFlag.AlignRight), time_text)
        painter.restore()

    @staticmethod
    def _paint_event(
        painter: QPainter, layout: _Layout, message: MessageView, index: Index, font: QFont
    ) -> None:
        c = colors()
        painter.setPen(QPen(QColor(c.warn if message.warning else c.separator), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        radius = layout.bubble.height() / 2 if layout.bubble.height() < 40 else _RADIUS
        painter.drawRoundedRect(layout.bubble, radius, radius)
        painter.setFont(font)
        painter.setPen(QColor(c.muted))
        line = event_text(message, str(index.data(Roles.TIME_TEXT) or ""))
        painter.drawText(layout.text, _EVENT_WRAP, line)

    @staticmethod
    def _paint_day(
        painter: QPainter, area: QRect, text: str, font: QFont, colour: str = ""
    ) -> None:
        """A centred label between two rules (a day, or "New messages" in ``colour``)."""
        c = colors()
        fm = QFontMetrics(font)
        label_w = fm.horizontalAdvance(text) + 24
        mid_y = area.center().y()
        left_end = area.center().x() - label_w // 2
        right_start = area.center().x() + label_w // 2
        painter.setPen(QPen(QColor(colour or c.separator), 1))
        painter.drawLine(_SIDE, mid_y, left_end, mid_y)
        painter.drawLine(right_start, mid_y, area.width() - _SIDE, mid_y)
        painter.setFont(font)
        painter.setPen(QColor(colour or c.muted))
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter), text)

    def span_at(self, index: Index, point: QPointF) -> Span | None:
        """The link or mention under ``point`` (relative to the row's top left)."""
        layout = self._layout(index)
        if layout.rich is None:
            return None
        return rich_text.span_at(layout.rich, layout.spans, point - QPointF(layout.text.topLeft()))

    def span_rect(self, index: Index, target: str) -> QRect:
        """Where the link or mention ``target`` is drawn, relative to the row (for tests
        and accessibility); an empty rect when the row has none."""
        layout = self._layout(index)
        span = next((s for s in layout.spans if s.target == target), None)
        if layout.rich is None or span is None:
            return QRect()
        return rich_text.span_rect(layout.rich, span).toRect().translated(layout.text.topLeft())

    def editorEvent(self, event: QEvent, model, option, index) -> bool:  # type: ignore[no-untyped-def]
        """A click on a link asks to open it; a click on "Retry" of a failed message of
        ours asks to send it again."""
        if event.type() == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            if event.button() == Qt.MouseButton.LeftButton and index.data(Roles.MESSAGE):
                span = self.span_at(index, event.position() - QPointF(option.rect.topLeft()))
                if span is not None and span.kind is SpanKind.LINK:
                    self.link_clicked.emit(span.target)
                    return True
            message: MessageView | None = index.data(Roles.MESSAGE)
            if message is not None and message.is_mine and message.status == "failed":
                layout = self._layout(index)
                if layout.status is not None:
                    hit = layout.status.translated(option.rect.topLeft()).adjusted(-6, -4, 6, 4)
                    if hit.contains(event.position().toPoint()):
                        self.retry_requested.emit(message.row_id)
                        return True
        return super().editorEvent(event, model, option, index)

    def set_names(self, names: tuple[str, ...]) -> None:
        """The members whose "@Name" is highlighted (the open group's roster)."""
        if names != self._names:
            self._names = names
            self._cache.clear()

    def forget_layouts(self) -> None:
        """Drop cached geometry (after a font or theme change)."""
        self._cache.clear()
