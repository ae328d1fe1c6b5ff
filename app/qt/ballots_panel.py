"""A group's anonymous ballots as cards: the question, deadline, status and "N of M have
voted" while open; the voting controls of its kind; "your vote was counted" and the
result (bar charts, runoff rounds, a histogram) once it is tallied.

Reads use ``BallotReader`` on the GUI's own read connection (it needs only the database
and our identity key); votes, closes and cancels go to ``BallotService`` on the engine
thread. There are no ballot events: the panel re-reads on the group's messages, sync
progress and group changes, coalesced, while it is visible. Counts are never on screen
before the tally exists: the results view is built only from a tallied ballot's result.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.api import (
    Answer,
    ApprovalChoice,
    BallotReader,
    BallotResults,
    BallotResultView,
    BallotView,
    CancelBallot,
    CastVote,
    Choice,
    ClientError,
    CloseBallot,
    GroupView,
    NumericChoice,
    Queries,
    RankedChoice,
    SingleChoice,
    VoteReceipt,
    YesNoChoice,
)
from app.core.events import Event
from app.qt.ballot_results import BallotResultsView
from app.qt.dialogs.create_ballot import CreateBallotDialog
from app.qt.engine_bridge import EngineBridge
from app.qt.lazy_refresh import LazyRefresh, concerns_ballots
from app.qt.theme import colors
from app.qt.widgets import error_label, muted_label, primary_button, section_title, show_error

__all__ = ["BallotCard", "BallotsPanel", "RankingList", "deadline_text"]

_REFRESH_MS = 150
_CLOCK_MS = 30_000  # "closes in 5 minutes" stays roughly right
_KIND_TEXT = {
    "yes-no": "Yes / No / Abstain",
    "single": "Single choice",
    "approval": "Approval",
    "ranked": "Ranked",
    "numeric": "Numeric survey",
}
_STATUS_TEXT = {
    "open": "Open",
    "closed": "Counting",
    "tallied": "Result",
    "quorum_not_met": "No quorum",
    "cancelled": "Cancelled",
}
_FINISHED = ("tallied", "quorum_not_met")
_CLOSED_TEXT = {  # BallotView.closed_by: what ended the voting
    "early": "closed early",
    "deadline": "closed at the deadline",
    "reveal": "closed at the deadline",
    "cancel": "cancelled",
}


def ballot_warnings(view: BallotView) -> list[str]:
    """What the ballot's card warns about, in plain words (docs/ballots.md 13.1, 13.4)."""
    warnings = []
    if view.integrity:
        text = view.integrity
        warnings.append("⚠ " + text[0].upper() + text[1:] + ".")
    if view.eligibility_changed:
        warnings.append(
            "⚠ Eligibility changed: a member of this ballot left or was removed before it"
            " closed. Their vote, if any, still counts; organizers may run the ballot again."
        )
    return warnings


def _now_ms() -> int:
    return int(time.time() * 1000)


def deadline_text(closes_at: int, now_ms: int) -> str:
    """``"closes in 3 hours (2026-03-14 18:00)"`` or ``"closed 2026-03-14 18:00"``."""
    when = dt.datetime.fromtimestamp(closes_at / 1000).strftime("%Y-%m-%d %H:%M")
    left = (closes_at - now_ms) / 1000
    if left <= 0:
        return f"deadline {when} (passed)"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if left >= size:
            count = int(left // size)
            return f"closes in {count} {unit}{'s' if count != 1 else ''} ({when})"
    return f"closes in less than a minute ({when})"


class RankingList(QListWidget):
    """The options of a ranked ballot in the voter's order, most preferred first.

    Nothing is ranked at first, so an untouched form cannot submit the creator's order:
    ticking an option ranks it after those already ticked, unticking takes it out. Drag
    to reorder (or use the Up/Down buttons). The numbers in front follow the order.
    """

    def __init__(self, options: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Your ranking, most preferred first")
        self.setDragDropMode(QListWidget.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        for index, option in enumerate(options):
            item = QListWidgetItem(option)
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setData(Qt.ItemDataRole.UserRole + 1, option)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(item)
        self._arranging = False
        self.model().rowsMoved.connect(lambda *_args: self.renumber())
        self.itemChanged.connect(self._place)
        self.setFixedHeight(self.sizeHintForRow(0) * len(options) + 8 if options else 40)
        self.renumber()

    def _place(self, item: QListWidgetItem) -> None:
        """A ticked option goes after the ones ranked before it; an unticked one goes
        to the top of the unranked ones."""
        if self._arranging:
            return
        self._arranging = True
        try:
            row = self.row(item)
            target = sum(
                1
                for other in range(self.count())
                if other != row and self.item(other).checkState() == Qt.CheckState.Checked
            )
            if target != row:
                self.takeItem(row)
                self.insertItem(target, item)
                self.setCurrentItem(item)
        finally:
            self._arranging = False
        self.renumber()

    def renumber(self) -> None:
        self.blockSignals(True)
        rank = 0
        for row in range(self.count()):
            item = self.item(row)
            option = str(item.data(Qt.ItemDataRole.UserRole + 1))
            if item.checkState() == Qt.CheckState.Checked:
                rank += 1
                item.setText(f"{rank}. {option}")
            else:
                item.setText(f"    {option} (not ranked)")
        self.blockSignals(False)

    def move_current(self, step: int) -> None:
        row = self.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.count():
            return
        item = self.takeItem(row)
        self.insertItem(target, item)
        self.setCurrentRow(target)
        self.renumber()

    def set_order(self, options: list[str]) -> None:
        """Put these options first, in this order, and rank only them (tests, screenshots)."""
        for target, option in enumerate(options):
            for row in range(self.count()):
                if self.item(row).data(Qt.ItemDataRole.UserRole + 1) == option:
                    self.insertItem(target, self.takeItem(row))
                    break
        for row in range(self.count()):
            ranked = self.item(row).data(Qt.ItemDataRole.UserRole + 1) in options
            self.item(row).setCheckState(
                Qt.CheckState.Checked if ranked else Qt.CheckState.Unchecked
            )
        self.renumber()

    def ranking(self) -> tuple[int, ...]:
        return tuple(
            int(self.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.count())
            if self.item(row).checkState() == Qt.CheckState.Checked
        )


class BallotCard(QFrame):
    """One ballot. Built once; ``update_view`` refreshes it in place so a voter's
    half-made choice survives the refreshes that other members' votes cause."""

    def __init__(self, panel: BallotsPanel, view: BallotView) -> None:
        super().__init__()
        self.setObjectName("ballotCard")
        # Its full height, always: the list scrolls rather than squeezing the controls.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(f"Ballot: {view.question}")
        self._panel = panel
        self.view = view
        self.results: BallotResultsView | None = None
        self.result: BallotResultView | None = None
        self._asked_result = False
        self.choices: list[QAbstractButton] = []
        self.ranking: RankingList | None = None
        self.number: QDoubleSpinBox | None = None
        self.rank_up: QPushButton | None = None
        self.rank_down: QPushButton | None = None
        self._buttons = QButtonGroup(self)

        self.question = QLabel(view.question)
        self.question.setWordWrap(True)
        self.question.setAccessibleName("Question")
        font = self.question.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.question.setFont(font)
        self.question.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chip = QLabel()
        self.chip.setAccessibleName("Ballot status")
        self.chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        header = QHBoxLayout()
        header.addWidget(self.question, 1)
        header.addWidget(self.chip, 0, Qt.AlignmentFlag.AlignTop)

        self.meta = muted_label("")
        self.meta.setAccessibleName("Kind, creator and deadline")
        self.progress = QLabel()
        self.progress.setAccessibleName("Turnout")
        self.note = muted_label("")
        self.note.setAccessibleName("Ballot notice")
        self.warning = error_label()
        self.warning.setAccessibleName("Ballot warning")
        self.warning.setWordWrap(True)

        self.controls = QWidget()
        self.controls.setAccessibleName("Your vote")
        self.vote_button = primary_button("Vote")
        self.vote_button.setAccessibleName("Cast your vote")
        self.vote_button.setDefault(False)
        self.vote_button.clicked.connect(self.cast)
        self.vote_status = muted_label("")
        self.vote_status.setAccessibleName("Your vote's state")
        self.close_button = QPushButton("Close now")
        self.close_button.setAccessibleName("Close the ballot now and count")
        self.close_button.clicked.connect(lambda: panel.confirm_close(self))
        self.cancel_button = QPushButton("Cancel ballot")
        self.cancel_button.setAccessibleName("Cancel the ballot")
        self.cancel_button.clicked.connect(lambda: panel.confirm_cancel(self))
        self.error = error_label()
        actions = QHBoxLayout()
        actions.addWidget(self.vote_button)
        actions.addWidget(self.vote_status, 1)
        actions.addWidget(self.close_button)
        actions.addWidget(self.cancel_button)

        self.mine = QLabel()
        self.mine.setAccessibleName("Was your vote counted")
        self.mine.setWordWrap(True)
        self.results_box = QVBoxLayout()
        self.results_box.setContentsMargins(0, 0, 0, 0)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 12)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addWidget(self.meta)
        layout.addWidget(self.warning)
        layout.addWidget(self.progress)
        layout.addWidget(self.controls)
        layout.addLayout(actions)
        layout.addWidget(self.note)
        layout.addWidget(self.mine)
        layout.addLayout(self.results_box)
        layout.addWidget(self.error)
        self._build_controls(view)
        self.update_view(view)

    # -- the controls of each kind ----------------------------------------------------

    def _build_controls(self, view: BallotView) -> None:
        box = QVBoxLayout(self.controls)
        box.setContentsMargins(0, 2, 0, 2)
        box.setSpacing(3)
        kind = view.kind
        if kind in ("yes-no", "single"):
            labels = ("Yes", "No", "Abstain") if kind == "yes-no" else view.options
            self._buttons.setExclusive(True)
            for index, label in enumerate(labels):
                radio = QRadioButton(label)
                radio.setAccessibleName(label)
                self._buttons.addButton(radio, index)
                self.choices.append(radio)
                _visible_indicator(radio)
                box.addWidget(radio, 0, Qt.AlignmentFlag.AlignLeft)  # the text is the target
        elif kind == "approval":
            self._buttons.setExclusive(False)
            for index, label in enumerate(view.options):
                check = QCheckBox(label)
                check.setAccessibleName(f"Approve {label}")
                self._buttons.addButton(check, index)
                self.choices.append(check)
                _visible_indicator(check)
                box.addWidget(check, 0, Qt.AlignmentFlag.AlignLeft)
            box.addWidget(muted_label("Tick every option you can accept."))
        elif kind == "ranked":
            self.ranking = RankingList(view.options)
            up, down = QPushButton("Up"), QPushButton("Down")
            up.setAccessibleName("Move the selected option up")
            down.setAccessibleName("Move the selected option down")
            self.rank_up, self.rank_down = up, down
            ranking = self.ranking
            up.clicked.connect(lambda: ranking.move_current(-1))
            down.clicked.connect(lambda: ranking.move_current(1))
            row = QHBoxLayout()
            row.addWidget(self.ranking, 1)
            side = QVBoxLayout()
            side.addWidget(up)
            side.addWidget(down)
            side.addStretch(1)
            row.addLayout(side)
            box.addLayout(row)
            box.addWidget(
                muted_label("Tick the options in order of preference, favourite first. "
                            "Drag (or use Up and Down) to change the order; leave an option "
                            "unticked to leave it unranked.")
            )  # fmt: skip
        elif kind == "numeric":
            spin = QDoubleSpinBox()
            spin.setDecimals(0)
            # One step below the minimum reads "choose": no pre-filled answer to anchor on.
            spin.setRange(view.numeric_min - 1, view.numeric_max)
            spin.setSpecialValueText("Choose a number")
            spin.setValue(view.numeric_min - 1)
            spin.setAccessibleName(f"Your answer, from {view.numeric_min} to {view.numeric_max}")
            spin.setMinimumWidth(160)
            self.number = spin
            row = QHBoxLayout()
            row.addWidget(spin)
            row.addWidget(muted_label(f"a whole number from {view.numeric_min} to "
                                      f"{view.numeric_max}"), 1)  # fmt: skip
            box.addLayout(row)

    def choice(self) -> Choice | None:
        """The choice the controls show, or None with the reason shown on the card."""
        kind = self.view.kind
        if kind in ("yes-no", "single"):
            picked = self._buttons.checkedId()
            if picked < 0:
                show_error(self.error, "Choose an answer first.")
                return None
            return YesNoChoice(Answer(picked)) if kind == "yes-no" else SingleChoice(picked)
        if kind == "approval":
            return ApprovalChoice(frozenset(i for i, b in enumerate(self.choices) if b.isChecked()))
        if kind == "ranked" and self.ranking is not None:
            ranking = self.ranking.ranking()
            if not ranking:
                show_error(self.error, "Rank at least one option.")
                return None
            return RankedChoice(ranking)
        if kind == "numeric" and self.number is not None:
            value = round(self.number.value())
            if value < self.view.numeric_min:
                show_error(self.error, "Enter your answer first.")
                return None
            return NumericChoice(value)
        return None

    # -- state ------------------------------------------------------------------------

    def update_view(self, view: BallotView, now_ms: int | None = None) -> None:
        """Show ``view`` (the same ballot, newer state)."""
        self.view = view
        now = _now_ms() if now_ms is None else now_ms
        status = view.status
        c = colors()
        tone = {
            "open": c.ok,
            "closed": c.warn,
            "tallied": c.accent,
            "quorum_not_met": c.warn,
            "cancelled": c.muted,
        }.get(status, c.muted)
        self.chip.setText(_STATUS_TEXT.get(status, status))
        self.chip.setStyleSheet(
            f"QLabel {{ color: {tone}; border: 1px solid {tone}; border-radius: 9px;"
            " padding: 1px 9px; font-weight: bold; }"
        )
        details = [_KIND_TEXT.get(view.kind, view.kind), f"by {view.creator_name}"]
        if status == "open":
            details.append(deadline_text(view.closes_at, now))
        else:
            when = dt.datetime.fromtimestamp(view.closes_at / 1000).strftime("%Y-%m-%d %H:%M")
            how = _CLOSED_TEXT.get(view.closed_by or "", "deadline")
            details.append(f"{how} {when}" if how == "deadline" else how)
        if view.quorum:
            details.append(f"quorum {view.quorum}")
        self.meta.setText(" · ".join(details))

        open_ = status == "open"
        before_deadline = now < view.closes_at
        can_vote = open_ and before_deadline and view.i_am_eligible
        self.progress.setText(view.progress)
        self.progress.setVisible(status in ("open", "closed"))
        self.controls.setVisible(can_vote)
        self.vote_button.setVisible(can_vote)
        self.vote_button.setText("Change vote" if view.my_revision is not None else "Vote")
        self.vote_status.setVisible(open_ or status == "closed")
        if view.my_vote_pending:
            self.vote_status.setText(
                "Sealed. It leaves at a random moment in the next few seconds, so its timing "
                "does not point to you."
            )
        elif view.my_revision is not None:
            self.vote_status.setText(
                "✔ Your vote is in. Only your last vote counts until the ballot closes."
            )
        else:
            self.vote_status.setText("")
        mine = view.created_by_me
        self.close_button.setVisible(mine and status in ("open", "closed"))
        self.close_button.setText("Close now" if open_ else "Release the results")
        self.cancel_button.setVisible(mine and status in ("open", "closed"))

        warnings = ballot_warnings(view)
        self.warning.setText("\n".join(warnings))
        self.warning.setVisible(bool(warnings))
        self.note.setText(self._notice(view, before_deadline))
        self.note.setVisible(bool(self.note.text()))
        if status in _FINISHED and self.results is None and not self._asked_result:
            self._asked_result = True
            self._panel.request_result(self)
        self.mine.setVisible(self.results is not None and bool(self.mine.text()))

    def _notice(self, view: BallotView, before_deadline: bool) -> str:
        status = view.status
        if status == "cancelled":
            return f"{view.creator_name} cancelled this ballot; nothing was counted."
        if status == "closed" or (status == "open" and not before_deadline):
            return (
                "Voting has ended. The result appears when "
                + ("your Caucus" if view.created_by_me else f"{view.creator_name}'s Caucus")
                + " opens the count; until then nobody can count the votes."
            )
        if status == "open" and not view.i_am_eligible:
            return (
                "You cannot vote in this ballot: your Caucus had not yet set up anonymous "
                "voting in this group when the ballot was created."
            )
        if status == "open":
            return (
                "Anonymous: nobody, not even organizers, can see who voted what. Results "
                "appear after the ballot closes."
            )
        return ""

    def show_result(self, result: BallotResultView | None) -> None:
        """Show the tallied outcome (from the engine: it reads our ballot key to say
        whether our own vote was counted)."""
        if self.results is not None:
            return
        if result is None:
            self._asked_result = False  # not tallied here yet: ask on a later update
            return
        self.result = result
        self.results = BallotResultsView(result)
        self.results_box.addWidget(self.results)
        mine = result.mine
        if mine is None:
            self.mine.setText("")
        elif mine.counted:
            self.mine.setText("✔ Your vote was counted.")
            self.mine.setStyleSheet(f"color: {colors().ok}; font-weight: bold;")
            self.mine.setToolTip(f"Counted as: {mine.choice}")
        else:
            self.mine.setText(
                "⚠ Your vote is not in the count. If you voted before the close, the server "
                "may have dropped it: tell the other members."
            )
            self.mine.setStyleSheet(f"color: {colors().danger}; font-weight: bold;")

    # -- voting -----------------------------------------------------------------------

    def cast(self) -> None:
        choice = self.choice()
        if choice is None:
            return
        show_error(self.error, None)
        self.vote_button.setEnabled(False)
        self.vote_status.setText("Sealing your vote…")
        self._panel.vote(self, choice)

    def vote_finished(self, receipt: VoteReceipt | None, error: Exception | None) -> None:
        self.vote_button.setEnabled(True)
        if error is not None:
            show_error(self.error, error)
            self.vote_status.setText("")


def _visible_indicator(button: QAbstractButton) -> None:
    """Fusion outlines radio and check indicators in a darker shade of the window colour,
    which vanishes on a dark card; outline them from the muted text colour instead."""
    c = colors()
    if c.dark:
        palette = button.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(c.muted))
        button.setPalette(palette)


class BallotsPanel(QWidget):
    """The ballots of one group, newest open ones first; ``set_group`` switches."""

    vote_delay_ms: int | None = None
    """``None``: votes leave after the service's random delay (timing privacy). Tests set
    0 so a vote is posted at once."""

    def __init__(self, reader: Queries, bridge: EngineBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("ballotsPanel")
        self.setAccessibleName("Ballots")
        self._reader = reader
        self._bridge = bridge
        self._group: GroupView | None = None
        self.cards: dict[bytes, BallotCard] = {}
        self._results: dict[bytes, BallotResultView] = {}
        self.dialog: CreateBallotDialog | None = None
        self.confirmation: QMessageBox | None = None

        self.title = section_title("Ballots")
        self.new_button = primary_button("New ballot…")
        self.new_button.setAccessibleName("Create a ballot")
        self.new_button.clicked.connect(self.open_create_dialog)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.new_button)
        self.empty = muted_label("")
        self.empty.setAccessibleName("No ballots")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error = error_label()

        self._list = QWidget()
        self._list.setObjectName("ballotList")
        self._cards_box = QVBoxLayout(self._list)
        self._cards_box.setContentsMargins(0, 0, 6, 0)
        self._cards_box.setSpacing(10)
        self._cards_box.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(self._list)
        self.scroll_area.setAccessibleName("Ballot list")
        self.scroll_area.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.error)
        layout.addWidget(self.empty)
        layout.addWidget(self.scroll_area, 1)

        self._lazy = LazyRefresh(self, self.refresh, _REFRESH_MS)
        self._clock = QTimer(self)
        self._clock.setInterval(_CLOCK_MS)
        self._clock.timeout.connect(self._schedule)
        self._clock.start()
        bridge.engine_event.connect(self.on_event)
        self._apply_style()
        self.set_group(None)

    def changeEvent(self, event: QEvent) -> None:
        # A theme switch changes the application palette: restyle the cards with it.
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_style()
        super().changeEvent(event)

    def _apply_style(self) -> None:
        c = colors()
        self.setStyleSheet(
            f"#ballotList {{ background: transparent; }}"
            f" #ballotCard {{ background: {c.base}; border: 1px solid {c.separator};"
            " border-radius: 8px; }"
        )
        self.scroll_area.viewport().setAutoFillBackground(False)
        self._list.setAutoFillBackground(False)

    # -- group and events -------------------------------------------------------------

    def set_group(self, group: GroupView | None) -> None:
        """Show another group (or the same one after a change)."""
        same = (
            group is not None
            and self._group is not None
            and (group.group_id == self._group.group_id)
        )
        self._group = group
        if not same:
            for card in self.cards.values():
                card.hide()
                card.deleteLater()
            self.cards.clear()
            show_error(self.error, None)
        self.new_button.setVisible(group is not None and group.status == "active")
        self._update_empty()
        self._schedule()

    def on_event(self, event: Event) -> None:
        group = self._group
        if group is not None and concerns_ballots(event, group.group_id):
            self._lazy.schedule()

    def _schedule(self) -> None:
        self._lazy.schedule()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._lazy.shown()

    def refresh(self) -> None:
        """Re-read the group's ballots from the GUI's read connection."""
        group = self._group
        if group is None or not shiboken6.isValid(self):
            return
        self._lazy.done()
        try:
            views = BallotReader(self._reader.db, self._reader.me).ballots(group.group_id)
        except ClientError as exc:
            show_error(self.error, exc)
            return
        self.show_ballots(views)

    def show_ballots(self, views: list[BallotView], now_ms: int | None = None) -> None:
        """Update cards in place, add new ones; open ballots first, soonest deadline
        first, then finished ones, newest first."""
        now = _now_ms() if now_ms is None else now_ms

        def order(view: BallotView) -> tuple[int, int]:
            return (0, view.closes_at) if view.status == "open" else (1, -view.closes_at)

        for view in views:
            card = self.cards.get(view.ballot_id)
            if card is None:
                self.cards[view.ballot_id] = BallotCard(self, view)
            else:
                card.update_view(view, now)
        for position, view in enumerate(sorted(views, key=order)):
            card = self.cards[view.ballot_id]
            if self._cards_box.indexOf(card) != position:
                self._cards_box.removeWidget(card)
                self._cards_box.insertWidget(position, card)
        self._update_empty()

    def _update_empty(self) -> None:
        empty = not self.cards
        self.empty.setText(
            "No ballots yet. Ask the group a question with New ballot…: votes are "
            "anonymous, and results appear only after the ballot closes."
            if self._group is not None
            else "Choose a group to see its ballots."
        )
        self.empty.setVisible(empty)
        self.scroll_area.setVisible(not empty)

    def card_for(self, question: str) -> BallotCard | None:
        return next((c for c in self.cards.values() if c.view.question == question), None)

    def request_result(self, card: BallotCard) -> None:
        """Ask the engine for a finished ballot's result with "was my vote counted"
        (kept once it came, since a tally never changes) and show it on the card."""
        view = card.view
        cached = self._results.get(view.ballot_id)
        if cached is not None:
            card.show_result(cached)
            return

        def done(result: BallotResultView | None) -> None:
            if result is not None:
                self._results[view.ballot_id] = result
            if shiboken6.isValid(card):
                card.show_result(result)
                card.mine.setVisible(card.results is not None and bool(card.mine.text()))

        def failed(error: Exception) -> None:
            if shiboken6.isValid(card):
                card.show_result(None)
                show_error(card.error, error)

        self._bridge.submit(BallotResults(view.group_id, view.ballot_id), done, failed)

    def eligible_count(self) -> int:
        """Members who would be eligible in a ballot created now (registered keys)."""
        group = self._group
        if group is None:
            return 0
        return self._reader.eligible_voters(group.group_id)

    # -- actions ----------------------------------------------------------------------

    def open_create_dialog(self) -> CreateBallotDialog | None:
        group = self._group
        if group is None or group.status != "active":
            return None
        dialog = CreateBallotDialog(self._bridge, group.group_id, self.eligible_count(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self._schedule)
        self.dialog = dialog
        dialog.open()
        return dialog

    def vote(self, card: BallotCard, choice: Choice) -> None:
        command = CastVote(card.view.ballot_id, choice, delay_ms=self.vote_delay_ms)

        def done(receipt: VoteReceipt) -> None:
            if shiboken6.isValid(card):
                card.vote_finished(receipt, None)
            self._schedule_if_alive()

        def failed(error: Exception) -> None:
            if shiboken6.isValid(card):
                card.vote_finished(None, error)
            self._schedule_if_alive()

        self._bridge.submit(command, done, failed)

    def _schedule_if_alive(self) -> None:
        if shiboken6.isValid(self):
            self._schedule()

    def _confirm(self, title: str, text: str, verb: str, then: Callable[[], None]) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.Cancel, self)  # fmt: skip
        go = box.addButton(verb, QMessageBox.ButtonRole.AcceptRole)
        box.buttonClicked.connect(lambda button: then() if button is go else None)
        self.confirmation = box
        box.open()

    def confirm_close(self, card: BallotCard) -> None:
        view = card.view
        text = (
            f"Close “{view.question}” now? {view.progress}. Nobody can vote after this, and "
            "every member's Caucus counts the votes."
            if view.status == "open"
            else f"Release the key of “{view.question}” so every member can count the votes?"
        )
        self._confirm("Close ballot", text, "Close and count",
                      lambda: self._ballot_action(card, "close"))  # fmt: skip

    def confirm_cancel(self, card: BallotCard) -> None:
        text = (
            f"Cancel “{card.view.question}”? The votes are never counted, and the ballot "
            "cannot be reopened."
        )
        self._confirm("Cancel ballot", text, "Cancel ballot",
                      lambda: self._ballot_action(card, "cancel"))  # fmt: skip

    def _ballot_action(self, card: BallotCard, what: str) -> None:
        ballot_id = card.view.ballot_id
        command = CloseBallot(ballot_id) if what == "close" else CancelBallot(ballot_id)

        def finished(error: Exception | None) -> None:
            if shiboken6.isValid(card):
                card.close_button.setEnabled(True)
                card.cancel_button.setEnabled(True)
                show_error(card.error, error)
            self._schedule_if_alive()

        card.close_button.setEnabled(False)
        card.cancel_button.setEnabled(False)
        self._bridge.submit(command, lambda _view: finished(None), finished)
