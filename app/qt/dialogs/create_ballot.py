"""Start an anonymous ballot or survey in a group: question, kind, options, deadline and
an optional quorum. The engine signs and sends the definition; who may vote is frozen
then (every member whose Caucus has registered a ballot key), so the dialog says how
many that is."""

from __future__ import annotations

import time
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.api import MAX_BINS, MAX_OPTION, MAX_OPTIONS, MAX_QUESTION, BallotKind, CreateBallot
from app.qt.engine_bridge import EngineBridge
from app.qt.theme import colors
from app.qt.widgets import error_label, muted_label, primary_button, show_error

__all__ = ["KIND_CHOICES", "BallotRequest", "CreateBallotDialog", "check_request"]

KIND_CHOICES: tuple[tuple[str, BallotKind, str], ...] = (
    ("Yes / No / Abstain", BallotKind.YES_NO_ABSTAIN, "Everyone answers yes, no or abstain."),
    ("Single choice", BallotKind.SINGLE, "Everyone picks one option."),
    ("Approval", BallotKind.APPROVAL, "Everyone ticks every option they can accept."),
    (
        "Ranked (instant runoff)",
        BallotKind.RANKED,
        "Everyone orders the options; the least preferred are eliminated round by round.",
    ),
    (
        "Numeric survey",
        BallotKind.NUMERIC,
        "Everyone answers a whole number; the result shows median, quartiles and a histogram.",
    ),
)
_OPTION_KINDS = {BallotKind.SINGLE, BallotKind.APPROVAL, BallotKind.RANKED}
_NUMERIC_BOUND = 1_000_000_000  # plenty for wages, hours or counts; the protocol allows 2^50
_DEADLINES = (("in 1 hour", 3600), ("in 1 day", 86400), ("in 3 days", 3 * 86400),
              ("in 1 week", 7 * 86400))  # fmt: skip


@dataclass(frozen=True)
class BallotRequest:
    """What the form asks the engine to create (``closes_at`` in ms since the epoch)."""

    question: str
    kind: BallotKind
    options: tuple[str, ...]
    closes_at: int
    quorum: int
    numeric_min: int = 0
    numeric_max: int = 0
    histogram_bins: int = 0


def check_request(request: BallotRequest, now_ms: int) -> str | None:
    """Why the engine would refuse this ballot, in words, or None. Checked before sending
    so a mistake is shown next to the form instead of after a round trip."""
    if not request.question.strip():
        return "Write the question."
    if len(request.question.encode()) > MAX_QUESTION:
        return f"The question is too long (at most {MAX_QUESTION} bytes)."
    if request.kind in _OPTION_KINDS:
        if len(request.options) < 2:
            return "Add at least two options."
        if len(request.options) > MAX_OPTIONS:
            return f"At most {MAX_OPTIONS} options."
        if len(set(request.options)) != len(request.options):
            return "Two options are the same."
        if any(len(o.encode()) > MAX_OPTION for o in request.options):
            return f"An option is too long (at most {MAX_OPTION} bytes)."
    if request.kind is BallotKind.NUMERIC and request.numeric_min >= request.numeric_max:
        return "The smallest answer must be below the largest."
    if request.closes_at <= now_ms + 60_000:
        return "Choose a deadline at least a minute from now."
    return None


class CreateBallotDialog(QDialog):
    """The form; ``Create`` sends the definition through the engine and closes."""

    def __init__(
        self,
        bridge: EngineBridge,
        group_id: bytes,
        eligible: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New ballot")
        self._bridge = bridge
        self._group_id = group_id
        self.created_id: bytes | None = None

        self.question = QPlainTextEdit()
        self.question.setAccessibleName("Question")
        self.question.setPlaceholderText("What should the group decide?")
        self.question.setFixedHeight(64)
        self.question.setTabChangesFocus(True)

        self.kind = QComboBox()
        self.kind.setAccessibleName("Kind of ballot")
        for label, kind, _help in KIND_CHOICES:
            self.kind.addItem(label, kind)
        self.kind.setCurrentIndex(1)
        self.kind_help = muted_label("")
        self.kind_help.setAccessibleName("About this kind of ballot")

        self.options = QListWidget()
        self.options.setAccessibleName("Options")
        self.options.setDragDropMode(QListWidget.DragDropMode.InternalMove)
        self.options.setMinimumHeight(96)
        self.options.setObjectName("optionList")
        self.options.setStyleSheet(
            f"#optionList {{ border: 1px solid {colors().separator}; border-radius: 6px; }}"
            " #optionList::item { padding: 3px 6px; }"
        )
        self.new_option = QLineEdit()
        self.new_option.setAccessibleName("New option")
        self.new_option.setPlaceholderText("Type an option and press Enter")
        self.new_option.setMaxLength(MAX_OPTION)
        self.new_option.returnPressed.connect(self._add_option)
        self.add_option = QPushButton("Add")
        self.add_option.setAccessibleName("Add option")
        self.add_option.clicked.connect(self._add_option)
        self.remove_option = QPushButton("Remove")
        self.remove_option.setAccessibleName("Remove selected option")
        self.remove_option.clicked.connect(self._remove_option)
        self.option_up = QPushButton("Up")
        self.option_up.setAccessibleName("Move option up")
        self.option_up.clicked.connect(lambda: self._move_option(-1))
        self.option_down = QPushButton("Down")
        self.option_down.setAccessibleName("Move option down")
        self.option_down.clicked.connect(lambda: self._move_option(1))
        self.options_box = QWidget()
        options_grid = QGridLayout(self.options_box)
        options_grid.setContentsMargins(0, 0, 0, 0)
        options_grid.setSpacing(4)
        options_grid.addWidget(self.options, 0, 0, 3, 1)
        options_grid.addWidget(self.option_up, 0, 1)
        options_grid.addWidget(self.option_down, 1, 1)
        options_grid.addWidget(self.remove_option, 2, 1)
        options_grid.addWidget(self.new_option, 3, 0)
        options_grid.addWidget(self.add_option, 3, 1)

        self.numeric_min = self._bound("Smallest answer", 0)
        self.numeric_max = self._bound("Largest answer", 10)
        self.bins = QSpinBox()
        self.bins.setRange(1, MAX_BINS)
        self.bins.setValue(10)
        self.bins.setAccessibleName("Groups in the results chart")
        self.numeric_box = QWidget()
        numeric_row = QHBoxLayout(self.numeric_box)
        numeric_row.setContentsMargins(0, 0, 0, 0)
        numeric_row.addWidget(self.numeric_min)
        numeric_row.addWidget(muted_label("to"))
        numeric_row.addWidget(self.numeric_max)
        numeric_row.addSpacing(12)
        numeric_row.addWidget(muted_label("groups in the chart"))
        numeric_row.addWidget(self.bins)
        numeric_row.addStretch(1)

        self.deadline = QDateTimeEdit(QDateTime.currentDateTime().addSecs(86400))
        self.deadline.setCalendarPopup(True)
        self.deadline.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.deadline.setAccessibleName("Deadline")
        self.deadline_preset = QComboBox()
        self.deadline_preset.setAccessibleName("Deadline presets")
        self.deadline_preset.addItem("Quick choice…", 0)
        for label, seconds in _DEADLINES:
            self.deadline_preset.addItem(label, seconds)
        self.deadline_preset.activated.connect(self._preset)
        deadline_row = QHBoxLayout()
        deadline_row.addWidget(self.deadline, 1)
        deadline_row.addWidget(self.deadline_preset)

        self.use_quorum = QCheckBox("Require a quorum of")
        self.use_quorum.setAccessibleName("Require a quorum")
        self.quorum = QSpinBox()
        self.quorum.setRange(1, max(1, eligible))
        self.quorum.setValue(max(1, (eligible + 1) // 2))
        self.quorum.setSuffix(f" of {eligible} voters")
        self.quorum.setAccessibleName("Quorum: minimum number of voters")
        self.quorum.setEnabled(False)
        self.use_quorum.toggled.connect(self.quorum.setEnabled)
        quorum_row = QHBoxLayout()
        quorum_row.addWidget(self.use_quorum)
        quorum_row.addWidget(self.quorum)
        quorum_row.addStretch(1)

        self.eligible_note = muted_label(
            f"{eligible} member{'s' if eligible != 1 else ''} can vote: those whose Caucus "
            "has set up anonymous voting in this group. Votes are anonymous; results "
            "appear only after the ballot closes."
            if eligible
            else "Nobody can vote yet: each member's Caucus sets up anonymous voting the "
            "next time it connects. Try again in a moment."
        )
        self.eligible_note.setAccessibleName("Who can vote")

        self.form = QFormLayout()
        self.form.addRow("Question", self.question)
        self.form.addRow("Kind", self.kind)
        self.form.addRow("", self.kind_help)
        self.form.addRow("Options", self.options_box)
        self.form.addRow("Answers from", self.numeric_box)
        self.form.addRow("Closes", deadline_row)
        self.form.addRow("", quorum_row)

        self.error = error_label()
        self.create_button = primary_button("Create ballot")
        self.create_button.clicked.connect(self._create)
        self.create_button.setEnabled(eligible > 0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.create_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.eligible_note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.kind.currentIndexChanged.connect(lambda _i: self._kind_changed())
        self.resize(520, 0)
        self._kind_changed()

    @staticmethod
    def _bound(name: str, value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(-_NUMERIC_BOUND, _NUMERIC_BOUND)
        box.setValue(value)
        box.setAccessibleName(name)
        return box

    # -- the form ---------------------------------------------------------------------

    def selected_kind(self) -> BallotKind:
        return BallotKind(self.kind.currentData())

    def _kind_changed(self) -> None:
        kind = self.selected_kind()
        self.kind_help.setText(KIND_CHOICES[self.kind.currentIndex()][2])
        self.form.setRowVisible(self.options_box, kind in _OPTION_KINDS)
        self.form.setRowVisible(self.numeric_box, kind is BallotKind.NUMERIC)
        # Grow or shrink to the rows shown; the minimum height leaves out wrapped text.
        self.resize(self.width(), self.sizeHint().height())

    def set_options(self, options: list[str]) -> None:
        """Replace the options (also used by tests and the screenshot tool)."""
        self.options.clear()
        for option in options:
            self._append(option)

    def _append(self, text: str) -> None:
        item = QListWidgetItem(text)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.options.addItem(item)

    def option_texts(self) -> list[str]:
        return [
            self.options.item(row).text().strip()
            for row in range(self.options.count())
            if self.options.item(row).text().strip()
        ]

    def _add_option(self) -> None:
        text = self.new_option.text().strip()
        if not text:
            return
        if text in self.option_texts():
            show_error(self.error, "That option is already in the list.")
            return
        show_error(self.error, None)
        self._append(text)
        self.new_option.clear()

    def _remove_option(self) -> None:
        row = self.options.currentRow()
        if row >= 0:
            self.options.takeItem(row)

    def _move_option(self, step: int) -> None:
        row = self.options.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.options.count():
            return
        item = self.options.takeItem(row)
        self.options.insertItem(target, item)
        self.options.setCurrentRow(target)

    def _preset(self, index: int) -> None:
        seconds = int(self.deadline_preset.itemData(index) or 0)
        if seconds:
            self.deadline.setDateTime(QDateTime.currentDateTime().addSecs(seconds))
        self.deadline_preset.setCurrentIndex(0)

    def request(self) -> BallotRequest:
        """The form's content as a request (not yet checked)."""
        kind = self.selected_kind()
        numeric = kind is BallotKind.NUMERIC
        return BallotRequest(
            question=self.question.toPlainText().strip(),
            kind=kind,
            options=tuple(self.option_texts()) if kind in _OPTION_KINDS else (),
            closes_at=self.deadline.dateTime().toMSecsSinceEpoch(),
            quorum=self.quorum.value() if self.use_quorum.isChecked() else 0,
            numeric_min=self.numeric_min.value() if numeric else 0,
            numeric_max=self.numeric_max.value() if numeric else 0,
            histogram_bins=self.bins.value() if numeric else 0,
        )

    # -- creating ---------------------------------------------------------------------

    def _create(self) -> None:
        if not self.create_button.isEnabled():
            return
        # A typed option not yet added with Enter is surely meant to be one.
        if self.new_option.text().strip():
            self._add_option()
        request = self.request()
        problem = check_request(request, int(time.time() * 1000))
        if problem is not None:
            show_error(self.error, problem)
            return
        command = CreateBallot(
            self._group_id,
            request.question,
            closes_at=request.closes_at,
            kind=request.kind,
            options=tuple(request.options),
            quorum=request.quorum,
            numeric_min=request.numeric_min,
            numeric_max=request.numeric_max,
            histogram_bins=request.histogram_bins or 10,
        )

        show_error(self.error, None)
        self.create_button.setEnabled(False)
        self.create_button.setText("Creating…")
        self._bridge.submit(command, self._done, self._failed)

    def _done(self, ballot_id: bytes) -> None:
        if not shiboken6.isValid(self):  # closed while the engine worked: nothing to show
            return
        self.created_id = ballot_id
        self.accept()

    def _failed(self, error: Exception) -> None:
        if not shiboken6.isValid(self):
            return
        self.create_button.setEnabled(True)
        self.create_button.setText("Create ballot")
        show_error(self.error, error)
