"""A tallied ballot's result on screen: bar charts painted with QPainter, instant-runoff
rounds for ranked ballots, and the median, quartiles and histogram of a numeric survey.

It only ever receives a result that exists (a typed ``BallotResultView`` the engine
builds from the tally); nothing here can show counts of a ballot that is still open. Charts
are painted rather than built from a charting library: a few rectangles and labels are
all a ballot needs, and the colours follow the app's theme.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.core.api import BallotResultView, NumericResult, RunoffRound
from app.qt.theme import colors
from app.qt.widgets import muted_label

__all__ = [
    "BallotResultsView",
    "Bar",
    "BarChart",
    "Histogram",
    "elimination_note",
    "percent",
    "result_summary",
]

_ROW = 26  # height of one bar row, px
_BAR = 16  # thickness of a bar


TIE_RULE = (
    "How the count works: each round, every ballot counts for its highest-ranked option "
    "still in the race; an option with more than half of those votes wins, otherwise the "
    "option with the fewest is eliminated. Tie rule: of options tied for the fewest, the "
    "one with fewer votes in the latest earlier round where they differed is eliminated; "
    "if they tied in every round, the one listed last on the ballot is."
)


def elimination_note(counts: dict[str, int], eliminated: str) -> str:
    """Why ``eliminated`` went out this round, saying so when it was a tie."""
    fewest = counts.get(eliminated, 0)
    tied = [label for label, count in counts.items() if count == fewest]  # in ballot order
    votes = f"{fewest} vote{'s' if fewest != 1 else ''}"
    if len(tied) < 2:
        return f"{eliminated} has the fewest votes ({votes}) and is eliminated"
    names = f"{', '.join(tied[:-1])} and {tied[-1]}"
    return f"{names} tie for the fewest votes ({votes}); {eliminated} is eliminated by the tie rule"


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: an option and how many ballots it got."""

    label: str
    count: int
    highlighted: bool = False  # a winner: painted in the accent colour


def percent(count: int, total: int) -> str:
    """``"67%"``; an empty total reads as 0% rather than failing."""
    return f"{round(100 * count / total)}%" if total > 0 else "0%"


class BarChart(QWidget):
    """Horizontal bars, one per option: the label, the bar, then "count (percent)".

    ``total`` is what percentages are of (valid ballots; for approval, voters, so the
    percentages may add up to more than 100), and what a full-length bar stands for.
    """

    def __init__(
        self, bars: Sequence[Bar], total: int, name: str = "Results", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.bars = tuple(bars)
        self.total = total
        self.setAccessibleName(name)
        self.setAccessibleDescription(
            "; ".join(f"{b.label}: {b.count} ({percent(b.count, total)})" for b in self.bars)
        )
        self.setToolTip(self.accessibleDescription().replace("; ", "\n"))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self._height())

    def _height(self) -> int:
        return max(1, len(self.bars)) * _ROW + 4

    def sizeHint(self) -> QSize:
        return QSize(420, self._height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        c = colors()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        fm = QFontMetrics(font)
        bold = QFont(font)
        bold.setBold(True)
        width = self.width()
        values = [f"{b.count} ({percent(b.count, self.total)})" for b in self.bars]
        value_w = max((fm.horizontalAdvance(v) for v in values), default=0) + 10
        bold_fm = QFontMetrics(bold)
        label_w = min(
            max((bold_fm.horizontalAdvance(b.label) for b in self.bars), default=0) + 12,
            int(width * 0.4),
        )
        track_w = max(20, width - label_w - value_w - 4)
        # A full bar is every ballot, not the leader: three options at one vote each must
        # not all look like landslides.
        scale = max([self.total, *(b.count for b in self.bars)])
        for row, (bar, value) in enumerate(zip(self.bars, values, strict=True)):
            top = 2 + row * _ROW
            painter.setFont(bold if bar.highlighted else font)
            painter.setPen(QColor(c.text))
            label_rect = QRectF(0, top, label_w - 8, _ROW)
            metrics = bold_fm if bar.highlighted else fm
            painter.drawText(
                label_rect,
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                metrics.elidedText(bar.label, Qt.TextElideMode.ElideRight, label_w - 8),
            )
            track = QRectF(label_w, top + (_ROW - _BAR) / 2, track_w, _BAR)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.separator))
            painter.drawRoundedRect(track, 4, 4)
            if bar.count and scale:
                fill = QRectF(track)
                fill.setWidth(max(_BAR / 2, track_w * bar.count / scale))
                painter.setBrush(QColor(c.accent if bar.highlighted else c.muted))
                painter.drawRoundedRect(fill, 4, 4)
            painter.setPen(QColor(c.text if bar.highlighted else c.muted))
            painter.drawText(
                QRectF(label_w + track_w + 8, top, value_w, _ROW),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                value,
            )
        painter.end()


class Histogram(QWidget):
    """A numeric survey: the histogram's bins as columns over the answer range, and above
    them a box plot (minimum, quartiles, median, maximum) on the same axis."""

    def __init__(self, numeric: NumericResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bins = [(b.low, b.high, b.count) for b in numeric.histogram]
        self.numeric = numeric
        self.setAccessibleName("Histogram of the answers")
        self.setAccessibleDescription(
            "; ".join(f"{_span(low, high)}: {count}" for low, high, count in self.bins)
        )
        self.setToolTip(self.accessibleDescription().replace("; ", "\n"))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(190)

    def sizeHint(self) -> QSize:
        return QSize(420, 190)

    def paintEvent(self, _event: QPaintEvent) -> None:
        if not self.bins:
            return
        c = colors()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = QFontMetrics(self.font())
        lo, hi = self.bins[0][0], self.bins[-1][1] + 1
        left, right = 28.0, float(self.width() - 12)
        box_top, box_h = 6.0, 18.0
        plot_top = box_top + box_h + fm.height() + 10  # room for the counts over the bars
        plot_bottom = float(self.height() - fm.height() - 8)

        def x_of(value: float) -> float:
            return left + (value - lo) / max(1, hi - lo) * (right - left)

        biggest = max(count for _, _, count in self.bins) or 1
        painter.setPen(QColor(c.muted))
        painter.drawText(
            QRectF(0, plot_top - fm.height() / 2, left - 6, fm.height()),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            str(biggest),
        )
        painter.setPen(QPen(QColor(c.separator), 1))
        painter.drawLine(int(left), int(plot_bottom), int(right), int(plot_bottom))
        label_every = max(1, math.ceil(len(self.bins) * 60 / max(1.0, right - left)))
        for index, (low, high, count) in enumerate(self.bins):
            x0, x1 = x_of(low) + 1, x_of(high + 1) - 1
            if count:
                bar_h = (plot_bottom - plot_top) * count / biggest
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(c.accent))
                painter.drawRect(QRectF(x0, plot_bottom - bar_h, max(1.0, x1 - x0), bar_h))
                painter.setPen(QColor(c.text))
                painter.drawText(
                    QRectF(x0 - 20, plot_bottom - bar_h - fm.height() - 1, x1 - x0 + 40,
                           fm.height()),
                    int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom),
                    str(count),
                )  # fmt: skip
            if index % label_every == 0:
                painter.setPen(QColor(c.muted))
                painter.drawText(
                    QRectF(x0 - 30, plot_bottom + 4, x1 - x0 + 60, fm.height()),
                    int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                    _span(low, high),
                )
        self._paint_box(painter, x_of, box_top, box_h)
        painter.end()

    def _paint_box(
        self, painter: QPainter, x_of: Callable[[float], float], top: float, height: float
    ) -> None:
        n = self.numeric
        raw = [n.minimum, n.q1, n.median, n.q3, n.maximum]
        points = [v + 0.5 for v in raw if v is not None]  # unit centres
        if len(points) != len(raw):
            return
        low, q1, median, q3, high = points
        c = colors()
        mid = top + height / 2
        painter.setPen(QPen(QColor(c.text), 1.5))
        painter.drawLine(int(x_of(low)), int(mid), int(x_of(high)), int(mid))
        for end in (low, high):
            painter.drawLine(int(x_of(end)), int(top + 3), int(x_of(end)), int(top + height - 3))
        painter.setBrush(QColor(c.base))
        box = QRectF(x_of(q1), top, max(2.0, x_of(q3) - x_of(q1)), height)
        painter.drawRect(box)
        painter.setPen(QPen(QColor(c.accent), 3))
        painter.drawLine(int(x_of(median)), int(top), int(x_of(median)), int(top + height))


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}\N{EN DASH}{high}"


def _number(value: float | None) -> str:
    """A quartile or mean without a pointless ``.0``; quarters stay exact (2.25)."""
    if value is None:
        return "\N{EN DASH}"
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.2f}".rstrip("0")


def result_summary(result: BallotResultView) -> str:
    """One line about turnout and validity: "3 of 4 voted · 3 valid · quorum 2, met"."""
    parts = [f"{result.turnout} of {result.eligible} voted"]
    invalid = result.invalid
    parts.append(f"{result.valid} valid" + (f", {invalid} invalid" if invalid else ""))
    if result.quorum_required:
        met = "met" if result.quorum_met else "not met"
        parts.append(f"quorum {result.quorum_required}, {met}")
    return " · ".join(parts)


class BallotResultsView(QWidget):
    """Everything about one tallied ballot's outcome, laid out for its kind."""

    def __init__(self, result: BallotResultView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Ballot results")
        self.result = result
        kind = result.kind
        winners = list(result.winners)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(6)
        self.summary = muted_label(result_summary(result))
        self.summary.setAccessibleName("Turnout")
        layout.addWidget(self.summary)
        self.outcome = QLabel(self._outcome_text(kind, winners))
        self.outcome.setWordWrap(True)
        self.outcome.setAccessibleName("Outcome")
        bold = self.outcome.font()
        bold.setBold(True)
        self.outcome.setFont(bold)
        layout.addWidget(self.outcome)
        self.charts: list[QWidget] = []
        if kind == "numeric":
            if result.numeric is not None:
                self._numeric(layout, result.numeric)
        elif kind == "ranked":
            self._ranked(layout, result.rounds, winners, result.valid)
        else:
            total = result.valid
            bars = [Bar(c.label, c.count, c.label in winners) for c in result.counts]
            chart = BarChart(bars, total, "Votes per option")
            self.charts.append(chart)
            layout.addWidget(chart)
            if kind == "approval":
                layout.addWidget(muted_label("Approval: each voter could approve several options."))

    def _outcome_text(self, kind: str, winners: list[str]) -> str:
        result = self.result
        if result.status == "quorum_not_met":
            return (
                f"Quorum not met: {result.turnout} voted, {result.quorum_required} were "
                "needed, so no result is declared. The counts are shown for the record."
            )
        if kind == "numeric":
            numeric = result.numeric
            if numeric is None or not numeric.count:
                return "No valid answers."
            return f"Median answer: {_number(numeric.median)}"
        if not winners:
            return "No winner: no valid votes." if not result.valid else "No winner."
        if len(winners) > 1:
            return "Tie: " + ", ".join(winners)
        return f"Result: {winners[0]}"

    def _ranked(
        self, layout: QVBoxLayout, rounds: Sequence[RunoffRound], winners: list[str],
        valid: int,
    ) -> None:  # fmt: skip
        rule = muted_label(TIE_RULE)
        rule.setAccessibleName("How the count works")
        layout.addWidget(rule)
        for number, round_ in enumerate(rounds, start=1):
            counts = {c.label: c.count for c in round_.counts}
            exhausted = round_.exhausted
            eliminated = round_.eliminated
            last = number == len(rounds)
            if eliminated is not None:
                note = elimination_note(counts, eliminated)
            elif last and winners:
                note = f"{winners[0]} has more than half of the votes and wins"
            else:
                note = "no ranking left to count"
            if exhausted:
                note += f"; {exhausted} ballot{'s' if exhausted != 1 else ''} ranked no one left"
            heading = QLabel(f"Round {number}: {note}.")
            heading.setWordWrap(True)
            heading.setAccessibleName(f"Round {number}")
            layout.addWidget(heading)
            bars = [Bar(label, count, last and label in winners) for label, count in counts.items()]
            chart = BarChart(bars, max(1, valid - exhausted), f"Round {number} counts")
            self.charts.append(chart)
            layout.addWidget(chart)

    def _numeric(self, layout: QVBoxLayout, numeric: NumericResult) -> None:
        if not numeric.count:
            return
        stats = QLabel(
            f"Quartiles {_number(numeric.q1)} to {_number(numeric.q3)} · mean "
            f"{_number(numeric.mean)} · {numeric.count} answers from "
            f"{_number(numeric.minimum)} to {_number(numeric.maximum)}"
        )
        stats.setWordWrap(True)
        stats.setAccessibleName("Numeric summary")
        layout.addWidget(stats)
        chart = Histogram(numeric)
        self.charts.append(chart)
        layout.addWidget(chart)
        layout.addWidget(
            muted_label("The box shows the middle half of the answers; the red line is the "
                        "median.")
        )  # fmt: skip
