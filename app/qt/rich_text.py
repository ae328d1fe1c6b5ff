"""Links and mentions inside a message's text: where they are, how a bubble lays them
out and draws them, and which one a click lands on.

Only plain http(s) addresses with a host become links (never ``javascript:``, ``file:``
or any other scheme); a mention is "@Name" for a member's display name. Positions are
in Qt's UTF-16 units, so text with emoji before a link still lines up.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QUrl
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QPainter,
    QTextCharFormat,
    QTextLayout,
    QTextLine,
    QTextOption,
)

__all__ = [
    "Span",
    "SpanKind",
    "draw",
    "find_links",
    "find_mentions",
    "lay_out",
    "natural_size",
    "span_at",
    "span_rect",
    "spans_of",
]

# A scheme we allow, a host of letters/digits/dots/dashes, an optional port, then a path,
# query or fragment up to the next space or bracket-like delimiter.
_URL = re.compile(
    r"(?<![\w@/])https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?"
    r"(?:[/?#][^\s<>\"'`]*)?",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\")]}"


class SpanKind(enum.Enum):
    LINK = "link"
    MENTION = "mention"


@dataclass(frozen=True)
class Span:
    """A link or mention: [start, end) in UTF-16 units, and its address or name."""

    start: int
    end: int
    kind: SpanKind
    target: str


def _u16(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


def _trim(url: str) -> str:
    """Drop sentence punctuation after an address ("see https://x.org.") and a closing
    bracket that has no opening one inside it."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def find_links(text: str) -> tuple[Span, ...]:
    spans = []
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        parsed = QUrl(url, QUrl.ParsingMode.StrictMode)
        if not parsed.isValid() or parsed.scheme().lower() not in ("http", "https"):
            continue
        if not parsed.host():
            continue
        start = match.start()
        spans.append(Span(_u16(text, start), _u16(text, start + len(url)), SpanKind.LINK, url))
    return tuple(spans)


def find_mentions(text: str, names: Iterable[str]) -> tuple[Span, ...]:
    """Each "@Name" (any case) for one of ``names``; the longest name wins ("@Ann Lee"
    over "@Ann")."""
    wanted = sorted({n for n in names if n.strip()}, key=len, reverse=True)
    if not wanted or "@" not in text:
        return ()
    pattern = re.compile(
        r"(?<![\w@])@(" + "|".join(re.escape(n) for n in wanted) + r")(?!\w)", re.IGNORECASE
    )
    by_lower = {n.lower(): n for n in wanted}
    return tuple(
        Span(
            _u16(text, m.start()),
            _u16(text, m.end()),
            SpanKind.MENTION,
            by_lower.get(m.group(1).lower(), m.group(1)),
        )
        for m in pattern.finditer(text)
    )


def spans_of(text: str, names: Iterable[str] = ()) -> tuple[Span, ...]:
    """Links and mentions in order; a mention inside a link stays part of the link."""
    links = find_links(text)
    mentions = [
        m
        for m in find_mentions(text, names)
        if not any(m.start < k.end and k.start < m.end for k in links)
    ]
    return tuple(sorted((*links, *mentions), key=lambda s: s.start))


def lay_out(text: str, font: QFont, width: int) -> QTextLayout:
    """``text`` wrapped at word boundaries within ``width`` (as QPainter.drawText with
    Qt.TextWordWrap would), its lines placed one under the other from (0, 0)."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    layout.setTextOption(option)
    layout.beginLayout()
    y = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0, y))
        y += line.height()
    layout.endLayout()
    return layout


def natural_size(layout: QTextLayout) -> tuple[int, int]:
    """Width of the longest line and the height of all lines, in whole pixels."""
    width = height = 0.0
    for i in range(layout.lineCount()):
        line = layout.lineAt(i)
        width = max(width, line.naturalTextWidth())
        height = line.y() + line.height()
    return math.ceil(width), math.ceil(height)


def draw(
    painter: QPainter,
    layout: QTextLayout,
    origin: QPointF,
    spans: Sequence[Span],
    accent: QColor,
    mention_fill: QColor,
) -> None:
    """Draw with the painter's pen; links underlined in ``accent``, mentions on a tint."""
    ranges = []
    for span in spans:
        fmt = QTextCharFormat()
        fmt.setForeground(QBrush(accent))
        if span.kind is SpanKind.LINK:
            fmt.setFontUnderline(True)
        else:
            fmt.setBackground(QBrush(mention_fill))
        selection = QTextLayout.FormatRange()
        selection.start, selection.length, selection.format = span.start, span.end - span.start, fmt
        ranges.append(selection)
    layout.draw(painter, origin, ranges)


def _line_at(layout: QTextLayout, point: QPointF) -> QTextLine | None:
    for i in range(layout.lineCount()):
        line = layout.lineAt(i)
        if line.y() <= point.y() < line.y() + line.height():
            return line
    return None


def span_at(layout: QTextLayout, spans: Sequence[Span], point: QPointF) -> Span | None:
    """The link or mention drawn under ``point`` (in the layout's coordinates), if any."""
    line = _line_at(layout, point)
    if line is None or not 0 <= point.x() <= line.x() + line.naturalTextWidth():
        return None
    position = line.xToCursor(point.x(), QTextLine.CursorPosition.CursorOnCharacter)
    return next((s for s in spans if s.start <= position < s.end), None)


def span_rect(layout: QTextLayout, span: Span) -> QRectF:
    """Where the first line of ``span`` is drawn (in the layout's coordinates)."""
    line = layout.lineForTextPosition(span.start)
    if not line.isValid():
        return QRectF()
    end = min(span.end, line.textStart() + line.textLength())
    left = _x_of(line, span.start)
    right = _x_of(line, end)
    return QRectF(left, line.y(), max(right - left, 1.0), line.height())


def _x_of(line: QTextLine, position: int) -> float:
    x: object = line.cursorToX(position)
    if isinstance(x, tuple):
        x = x[0]
    return float(x) if isinstance(x, int | float) else 0.0
