"""The union tools tab: the anonymous rates board and client reports of the open group.

Two pages. *Rates*: a form to post (or replace) this member's rate for the quarter, the
board as a table (count, quartiles and the median's change per role, currency, unit and
quarter; "fewer than k reports" below the threshold), a chart of the chosen line drawn
with QPainter (the quartile band and the median per quarter; PySide6-Essentials has no
QtCharts), and CSV export. *Clients*: a form to report on a client and the figures per
client, with comments once k reports exist. Everything goes through typed commands on the
engine thread (docs/union-tools.md); the panel re-reads on the engine's events for its
group, only while visible.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPen,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.api import (
    MAX_CLIENT_NAME,
    MAX_ROLE,
    UNITS,
    ClientLine,
    Command,
    ExportRatesCsv,
    GroupView,
    RateCell,
    RateLine,
    RatesBoard,
    ReportClient,
    ReportReceipt,
    ShowClients,
    ShowRates,
    SubmitRate,
    wall_clock_ms,
)
from app.core.events import Event, GroupChanged, ReportsChanged
from app.qt.engine_bridge import EngineBridge
from app.qt.lazy_refresh import LazyRefresh
from app.qt.theme import colors
from app.qt.widgets import error_label, muted_label, primary_button, section_title, show_error

__all__ = ["MINE", "RateChart", "RatesPanel", "concerns_reports"]

_REFRESH_MS = 150
_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "CAD", "AUD")
# The figures before the count: below the threshold the count's cell holds "fewer than k
# reports", which would otherwise push the median out of sight in a narrow window.
_RATE_COLUMNS = ("Role", "Currency", "Per", "Quarter", "Median", "Q1", "Q3", "Change", "Reports")
_CLIENT_COLUMNS = ("Client", "Reports", "On time", "Late", "Days late", "Scope crept", "Again")
_CLIENT_TIPS = (
    "",
    "",
    "Reports of payment on time",
    "Reports of late payment",
    "Median days late over all reports (on time counts 0)",
    "Reports saying the scope crept",
    "Reports saying they would work for the client again",
)
MINE = " ★"
"""Marks a line holding this member's own report; only their client can tell."""
_MINE_TIP = "Your own report is among these (only you can see this)"


def concerns_reports(event: Event, group_id: bytes) -> bool:
    """A report or the threshold arrived in ``group_id``, or its roster changed."""
    if isinstance(event, ReportsChanged | GroupChanged):
        return event.group_id == group_id
    return False


def _number(text: str | None) -> float | None:
    """Only for drawing: the exact figures stay decimal strings everywhere else."""
    return None if text is None else float(Fraction(text))


class RateChart(QWidget):
    """Per quarter of one line: the band from Q1 to Q3 and the median, joined by a line;
    a quarter below the threshold shows as an empty slot marked "< k"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rateChart")
        self.setAccessibleName("Rate chart")
        self.setMinimumHeight(140)
        self.cells: tuple[RateCell, ...] = ()
        self.title = ""
        self.k = 5

    def set_line(self, line: RateLine | None, k: int) -> None:
        self.cells = line.periods if line is not None else ()
        self.title = f"{line.role} — {line.currency} per {line.unit}" if line else ""
        self.k = k
        self.setAccessibleDescription(
            "; ".join(
                f"{c.period}: median {c.median}" if c.median else f"{c.period}: {c.note}"
                for c in self.cells
            )
        )
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        c = colors()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = QFontMetrics(self.font())
        rect = QRectF(self.rect()).adjusted(12, 8, -12, -8)
        if not self.cells:
            painter.setPen(QColor(c.muted))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Choose a line of the board")
            painter.end()
            return
        painter.setPen(QColor(c.text))
        painter.drawText(rect.topLeft() + QPointF(0, fm.ascent()), self.title)
        values = [v for cell in self.cells for v in (_number(cell.q1), _number(cell.q3)) if v]
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        if high == low:
            low, high = low * 0.9, high * 1.1 + 1e-9
        span = high - low
        low, high = low - span * 0.1, high + span * 0.1
        places = 0 if high - low >= 20 else 1 if high - low >= 2 else 2

        def label(value: float) -> str:
            return f"{value:,.{places}f}"

        label_w = max(fm.horizontalAdvance(label(high)), fm.horizontalAdvance("0000")) + 8
        plot = QRectF(
            rect.left() + label_w,
            rect.top() + fm.height() + 8,
            rect.width() - label_w,
            rect.height() - 2 * fm.height() - 14,
        )

        def y_of(value: float) -> float:
            return plot.bottom() - (value - low) / (high - low) * plot.height()

        grid = QColor(c.separator)
        for step in range(5):
            value = low + (high - low) * step / 4
            y = y_of(value)
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(QColor(c.muted))
            painter.drawText(
                QRectF(rect.left(), y - fm.height() / 2, label_w - 6, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label(value),
            )
        slot = plot.width() / len(self.cells)
        accent = QColor(c.accent)
        band = QColor(accent)
        band.setAlpha(60)
        medians: list[QPointF] = []
        for index, cell in enumerate(self.cells):
            x = plot.left() + slot * (index + 0.5)
            painter.setPen(QColor(c.muted))
            painter.drawText(
                QRectF(x - slot / 2, plot.bottom() + 4, slot, fm.height()),
                Qt.AlignmentFlag.AlignHCenter,
                cell.period,
            )
            q1, median, q3 = _number(cell.q1), _number(cell.median), _number(cell.q3)
            if q1 is None or median is None or q3 is None:
                painter.drawText(
                    QRectF(x - slot / 2, plot.center().y() - fm.height() / 2, slot, fm.height()),
                    Qt.AlignmentFlag.AlignHCenter,
                    f"< {self.k}",
                )
                continue
            width = min(slot * 0.5, 36.0)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(band)
            painter.drawRoundedRect(
                QRectF(x - width / 2, y_of(q3), width, y_of(q1) - y_of(q3)), 3, 3
            )
            medians.append(QPointF(x, y_of(median)))
        painter.setPen(QPen(accent, 2))
        for start, end in itertools.pairwise(medians):
            painter.drawLine(start, end)
        painter.setBrush(accent)
        for point in medians:
            painter.drawEllipse(point, 4, 4)
        painter.end()


def _item(text: str | int | None, *, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem("" if text is None else str(text))
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setAccessibleName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    # Every column as wide as its contents (names stay readable in a narrow window, which
    # then scrolls sideways); the last takes what is left.
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


class RatesPanel(QWidget):
    """The "Rates" tab of a group."""

    @classmethod
    def add_to(cls, tabs: QTabWidget, bridge: EngineBridge) -> RatesPanel:
        """Add the tab (with its tooltip and Ctrl+N shortcut) to the group's tabs."""
        panel = cls(bridge)
        index = tabs.addTab(panel, "Rates")
        tabs.setTabToolTip(index, f"Anonymous rates board and client reports (Ctrl+{index + 1})")
        shortcut = QShortcut(QKeySequence(f"Ctrl+{index + 1}"), tabs)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(lambda: tabs.setCurrentWidget(panel))
        return panel

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ratesPanel")
        self._bridge = bridge
        self._group: GroupView | None = None
        self.board: RatesBoard | None = None
        self.clients: tuple[ClientLine, ...] = ()
        self._rows: list[tuple[RateLine, RateCell]] = []
        self._lazy = LazyRefresh(self, self.refresh, _REFRESH_MS)
        self.save_path: Path | None = None  # tests choose the CSV file without a dialog
        self._build()
        bridge.engine_event.connect(self.on_event)

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self._build_rates(), "Rates board")
        self.pages.addTab(self._build_clients(), "Client reports")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(
            muted_label(
                "Anonymous: nobody — not the server, not organizers — can tell who reported"
                " what. Each member counts once per quarter and per client."
            )
        )
        layout.addWidget(self.pages, 1)

    def _build_rates(self) -> QWidget:
        page = QWidget()
        self.role = QLineEdit()
        self.role.setPlaceholderText("Role or skill, e.g. courier")
        self.role.setMaxLength(MAX_ROLE)
        self.role.setAccessibleName("Role")
        self.rate = QLineEdit()
        self.rate.setPlaceholderText("e.g. 450 or 52.50")
        self.rate.setAccessibleName("Rate")
        self.currency = QComboBox()
        self.currency.setEditable(True)
        self.currency.addItems(_CURRENCIES)
        self.currency.setAccessibleName("Currency")
        self.unit = QComboBox()
        self.unit.addItems(list(UNITS))
        self.unit.setCurrentText("day")
        self.unit.setAccessibleName("Paid per")
        self.seniority = QLineEdit()
        self.seniority.setPlaceholderText("optional, e.g. senior")
        self.seniority.setAccessibleName("Seniority")
        self.submit_button = primary_button("Post my rate")
        self.submit_button.clicked.connect(self.submit_rate)
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.rate, 2)
        row.addWidget(self.currency, 1)
        row.addWidget(QLabel("per"))
        row.addWidget(self.unit, 1)
        form.addRow("Role", self.role)
        form.addRow("Rate", row)
        form.addRow("Seniority", self.seniority)
        buttons = QHBoxLayout()
        buttons.addWidget(self.submit_button)
        buttons.addStretch(1)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setAccessibleName("Export the board as CSV")
        self.export_button.clicked.connect(self.export_csv)
        buttons.addWidget(self.export_button)
        form.addRow("", buttons)
        self.rates_error = error_label()
        self.rates_status = muted_label("")
        self.threshold = muted_label("")
        self.table = _table(_RATE_COLUMNS, "Rates board")
        self.table.itemSelectionChanged.connect(self._show_chart)
        self.chart = RateChart()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.rates_error)
        layout.addWidget(self.rates_status)
        layout.addWidget(section_title("Board"))
        layout.addWidget(self.threshold)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.chart, 2)
        return page

    def _build_clients(self) -> QWidget:
        page = QWidget()
        self.client = QLineEdit()
        self.client.setPlaceholderText("Client name")
        self.client.setMaxLength(MAX_CLIENT_NAME)
        self.client.setAccessibleName("Client")
        self.late_days = QSpinBox()
        self.late_days.setRange(0, 3650)
        self.late_days.setSuffix(" days late")
        self.late_days.setSpecialValueText("paid on time")
        self.late_days.setAccessibleName("Days late")
        self.late_days.setMaximumWidth(220)
        self.scope_creep = QCheckBox("The scope crept")
        self.again = QCheckBox("I would work for them again")
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("optional; shown once enough members reported")
        self.comment.setAccessibleName("Comment")
        self.report_button = primary_button("Post my report")
        self.report_button.clicked.connect(self.report_client)
        form = QFormLayout()
        form.addRow("Client", self.client)
        form.addRow("Paid", self.late_days)
        checks = QHBoxLayout()
        checks.addWidget(self.scope_creep)
        checks.addWidget(self.again)
        checks.addStretch(1)
        form.addRow("", checks)
        form.addRow("Comment", self.comment)
        buttons = QHBoxLayout()
        buttons.addWidget(self.report_button)
        buttons.addStretch(1)
        form.addRow("", buttons)
        self.clients_error = error_label()
        self.clients_status = muted_label("")
        self.client_table = _table(_CLIENT_COLUMNS, "Client reports")
        for column, tip in enumerate(_CLIENT_TIPS):
            header = self.client_table.horizontalHeaderItem(column)
            if tip and header is not None:
                header.setToolTip(tip)
        self.client_table.itemSelectionChanged.connect(self._show_comments)
        self.comments = muted_label("")
        self.comments.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.clients_error)
        layout.addWidget(self.clients_status)
        layout.addWidget(section_title("Clients"))
        layout.addWidget(self.client_table, 3)
        layout.addWidget(self.comments, 1)
        return page

    # -- group and events ---------------------------------------------------------------

    def set_group(self, group: GroupView | None) -> None:
        changed = (group.group_id if group else None) != (
            self._group.group_id if self._group else None
        )
        self._group = group
        active = group is not None and group.status == "active"
        for widget in (self.submit_button, self.report_button):
            widget.setEnabled(active)
        if changed:
            self.show_board(None)
            self.show_clients(())
            for label in (self.rates_error, self.clients_error):
                show_error(label, None)
            self.rates_status.setText("")
            self.clients_status.setText("")
        self._lazy.schedule()

    def on_event(self, event: Event) -> None:
        group = self._group
        if group is not None and concerns_reports(event, group.group_id):
            self._lazy.schedule()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._lazy.shown()

    def refresh(self) -> None:
        group = self._group
        if group is None or not shiboken6.isValid(self):
            return
        self._lazy.done()
        group_id = group.group_id

        def current() -> bool:
            return (
                shiboken6.isValid(self)
                and self._group is not None
                and (self._group.group_id == group_id)
            )

        def got_board(board: RatesBoard) -> None:
            if current():
                self.show_board(board)

        def got_clients(lines: tuple[ClientLine, ...]) -> None:
            if current():
                self.show_clients(lines)

        self._bridge.submit(ShowRates(group_id), got_board, lambda _error: None)
        self._bridge.submit(ShowClients(group_id), got_clients, lambda _error: None)

    # -- showing ------------------------------------------------------------------------

    def show_board(self, board: RatesBoard | None) -> None:
        """Fill the table: one row per line and quarter, newest quarter first."""
        chosen = self._chosen_line()
        self.board = board
        self._rows = []
        if board is not None:
            for line in board.lines:
                for cell in reversed(line.periods):
                    self._rows.append((line, cell))
        k = board.k if board else 5
        self.threshold.setText(
            f"Figures show where at least {k} members reported; below that, only"
            f" “fewer than {k} reports”. ★ marks your own."
            if board is None or board.lines
            else f"No rates yet. Figures show once {k} members report for a role and quarter."
        )
        self.table.setRowCount(len(self._rows))
        for row, (line, cell) in enumerate(self._rows):
            role = line.role + MINE if line.mine else line.role
            values: list[QTableWidgetItem] = [
                _item(role),
                _item(line.currency),
                _item(line.unit),
                _item(cell.period),
                _item(cell.median, align_right=True),
                _item(cell.q1, align_right=True),
                _item(cell.q3, align_right=True),
                _item(
                    cell.change
                    if cell.change is None or cell.change.startswith("-")
                    else f"+{cell.change}",
                    align_right=True,
                ),
                _item(cell.count if cell.count is not None else cell.note),
            ]
            if cell.count is None:
                for value in values[4:]:
                    value.setForeground(QColor(colors().muted))
            if line.mine:
                values[0].setToolTip(_MINE_TIP)
            for column, value in enumerate(values):
                self.table.setItem(row, column, value)
        self.export_button.setEnabled(bool(self._rows))
        target = next(
            (i for i, (line, _) in enumerate(self._rows) if chosen and self._key(line) == chosen),
            0 if self._rows else None,
        )
        if target is not None:
            self.table.selectRow(target)
        self._show_chart()

    @staticmethod
    def _key(line: RateLine) -> tuple[str, str, str]:
        return line.role, line.currency, line.unit

    def _chosen_line(self) -> tuple[str, str, str] | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._rows):
            return None
        return self._key(self._rows[rows[0].row()][0])

    def _show_chart(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        line = self._rows[rows[0].row()][0] if rows and rows[0].row() < len(self._rows) else None
        self.chart.set_line(line, self.board.k if self.board else 5)

    def show_clients(self, lines: tuple[ClientLine, ...]) -> None:
        self.clients = lines
        self.client_table.setRowCount(len(lines))
        for row, line in enumerate(lines):
            f = line.figures
            name = line.client + MINE if line.mine else line.client
            values = [
                _item(name),
                _item(f.count if f else line.note),
                _item(f.paid_on_time if f else None, align_right=True),
                _item(f.paid_late if f else None, align_right=True),
                _item(f.median_days_late if f else None, align_right=True),
                _item(f.scope_creep if f else None, align_right=True),
                _item(f.would_work_again if f else None, align_right=True),
            ]
            if line.mine:
                values[0].setToolTip(_MINE_TIP)
            for column, value in enumerate(values):
                self.client_table.setItem(row, column, value)
        if lines and not self.client_table.selectionModel().selectedRows():
            self.client_table.selectRow(0)
        self._show_comments()

    def _show_comments(self) -> None:
        rows = self.client_table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.clients):
            self.comments.setText("")
            return
        line = self.clients[rows[0].row()]
        if line.figures is None:
            self.comments.setText(f"{line.client}: comments show once enough members reported.")
        elif not line.figures.comments:
            self.comments.setText(f"{line.client}: no comments.")
        else:
            quoted = "\n".join(f"“{text}”" for text in line.figures.comments)
            self.comments.setText(f"{line.client}:\n{quoted}")

    # -- actions ------------------------------------------------------------------------

    def _run(self, command: Command[Any], error: QLabel, status: QLabel, done_text: str) -> None:
        show_error(error, None)
        status.setText("Posting anonymously…")

        def done(receipt: ReportReceipt) -> None:
            if not shiboken6.isValid(self):
                return
            replaced = " It replaces your earlier one." if receipt.revision else ""
            if receipt.posted:
                status.setText(done_text.format(when="was posted") + replaced)
            elif receipt.not_before > wall_clock_ms():
                # A random few seconds first, so its moment says less (docs/union-tools.md).
                status.setText(done_text.format(when="goes out in a few seconds") + replaced)
            else:
                status.setText("The server did not take it yet; it goes out with the next sync.")
            self._lazy.schedule()

        def failed(exc: Exception) -> None:
            if shiboken6.isValid(self):
                status.setText("")
                show_error(error, exc)

        self._bridge.submit(command, done, failed)

    def submit_rate(self) -> None:
        group = self._group
        if group is None:
            return
        command = SubmitRate(
            group.group_id,
            role=self.role.text(),
            rate=self.rate.text(),
            currency=self.currency.currentText().strip(),
            unit=self.unit.currentText(),
            seniority=self.seniority.text(),
        )
        self._run(command, self.rates_error, self.rates_status, "Your rate {when}, anonymously.")

    def report_client(self) -> None:
        group = self._group
        if group is None:
            return
        command = ReportClient(
            group.group_id,
            client=self.client.text(),
            paid_late_days=self.late_days.value(),
            scope_creep=self.scope_creep.isChecked(),
            again=self.again.isChecked(),
            comment=self.comment.text(),
        )
        self._run(
            command, self.clients_error, self.clients_status, "Your report {when}, anonymously."
        )

    def export_csv(self) -> None:
        group = self._group
        if group is None:
            return
        path = self.save_path
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export the rates board", f"{group.name} rates.csv", "CSV (*.csv)"
            )
            if not chosen:
                return
            path = Path(chosen)

        def done(text: str) -> None:
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                show_error(self.rates_error, f"Cannot write {path.name}: {exc.strerror}")
                return
            if shiboken6.isValid(self):
                self.rates_status.setText(f"Exported to {path.name}.")

        self._bridge.submit(
            ExportRatesCsv(group.group_id), done, lambda exc: show_error(self.rates_error, exc)
        )
