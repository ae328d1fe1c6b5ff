"""Dispute cases in the desktop app (docs/union-tools.md "Dispute cases").

``CasesPanel`` is the group's "Cases" tab: the cases this member can see (the ones they
opened, and as an organizer every case opened in the group), each with its status, and
"Open a case…". Opening one switches to the case's own chat. ``CaseHeader`` sits above
the chat while that chat is a case: its status, what the group sees of it, and for the
opener and the organizers the control that changes the status.

Both read through the engine thread (``ListCases``, a few database reads) and re-read on
the engine's events, coalesced, only while visible.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.api import (
    MAX_CASE_NOTE,
    CaseStatus,
    CaseView,
    GroupView,
    ListCases,
    SetCaseStatus,
    ShareCase,
    Sharing,
)
from app.core.events import Event, GroupChanged, GroupJoined, MessageAdded
from app.qt.dialogs.open_case import OpenCaseDialog
from app.qt.engine_bridge import EngineBridge
from app.qt.lazy_refresh import LazyRefresh
from app.qt.theme import colors
from app.qt.widgets import error_label, muted_label, primary_button, section_title, show_error

__all__ = ["CaseHeader", "CasesPanel", "status_style"]

_REFRESH_MS = 150
_CASE_ROLE = Qt.ItemDataRole.UserRole
_SHARING_TEXT = {
    "none": "The group does not see this case.",
    "status": "The group sees its status, without names.",
    "status-and-title": "The group sees its status and title.",
}


def _concerns_cases(event: Event) -> bool:
    """A case's status arrives as a message in the case group, and an organizer's join
    as a new group: any of those may change what the panels show."""
    return isinstance(event, MessageAdded | GroupChanged | GroupJoined)


def status_style(status: str) -> str:
    """A tinted pill per status: open amber, negotiating accent, resolved green."""
    c = colors()
    tone = QColor({"open": c.warn, "negotiating": c.accent, "resolved": c.ok}.get(status, c.muted))
    fill = f"rgba({tone.red()}, {tone.green()}, {tone.blue()}, 30)"
    return (
        f"QLabel {{ color: {tone.name()}; background: {fill}; border: 1px solid {tone.name()};"
        " border-radius: 6px; padding: 2px 8px; font-weight: bold; }"
    )


def _case_line(view: CaseView) -> str:
    who = "opened by you" if view.opened_by_me else f"opened by {view.opener_name or 'a member'}"
    if not view.joined:
        who += " · joining…"
    elif view.members:
        who += f" · {view.members} people"
    return f"{view.title}\n{view.status.upper()} · {who}"


class CasesPanel(QWidget):
    """One group's cases; ``set_group`` switches the group, ``open_case`` asks the
    window to show a case's chat."""

    open_case = Signal(bytes)

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("casesPanel")
        self.setAccessibleName("Cases")
        self._bridge = bridge
        self._group: GroupView | None = None
        self._cases: list[CaseView] = []
        self.dialog: OpenCaseDialog | None = None  # the last dialog opened (tests look)
        self._lazy = LazyRefresh(self, self.refresh, _REFRESH_MS)
        bridge.engine_event.connect(self.on_event)
        self._build()
        self.set_group(None)

    def _build(self) -> None:
        self.title = section_title("Cases")
        self.open_button = primary_button("Open a case…")
        self.open_button.setAccessibleName("Open a case")
        self.open_button.clicked.connect(lambda: self.open_dialog())
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.open_button)
        self.intro = muted_label(
            "A case is a private conversation between one member and the organizers: "
            "a late payment, a dispute with a client. Its status, evidence and decisions "
            "stay inside it."
        )
        self.list = QListWidget()
        self.list.setAccessibleName("Case list")
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.list.itemActivated.connect(lambda _item: self.show_selected_case())
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.empty = muted_label("")
        self.empty.setAccessibleName("No cases")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.show_button = QPushButton("Open chat")
        self.show_button.setAccessibleName("Open the case's chat")
        self.show_button.clicked.connect(self.show_selected_case)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.show_button)
        self.error = error_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.error)

    # -- group and events ---------------------------------------------------------------

    def set_group(self, group: GroupView | None) -> None:
        changed = (group.group_id if group else None) != (
            self._group.group_id if self._group else None
        )
        self._group = group
        self.open_button.setVisible(group is not None and group.status == "active")
        if changed:
            self._cases = []
            self.list.clear()
            show_error(self.error, None)
        self._update_empty()
        self._lazy.schedule()

    def on_event(self, event: Event) -> None:
        if self._group is not None and _concerns_cases(event):
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

        def done(views: list[CaseView]) -> None:
            if shiboken6.isValid(self) and self._group and self._group.group_id == group_id:
                self.show_cases(views)

        self._bridge.submit(ListCases(group_id), done, lambda _error: None)

    # -- showing ------------------------------------------------------------------------

    def show_cases(self, views: list[CaseView]) -> None:
        selected = self.selected_case()
        keep = selected.case_id if selected else None
        self._cases = list(views)
        self.list.blockSignals(True)
        self.list.clear()
        c = colors()
        row_to_select = 0
        for row, view in enumerate(views):
            item = QListWidgetItem(_case_line(view))
            item.setData(_CASE_ROLE, view)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{view.title}, status {view.status}")
            tone = {"open": c.warn, "negotiating": c.accent, "resolved": c.ok}[view.status]
            item.setForeground(QColor(tone if view.joined else c.muted))
            self.list.addItem(item)
            if view.case_id == keep:
                row_to_select = row
        if views:
            self.list.setCurrentRow(row_to_select)
        self.list.blockSignals(False)
        self._update_empty()
        self._update_buttons()

    def _update_empty(self) -> None:
        empty = not self._cases
        if self._group is None:
            text = "Choose a group to see its cases."
        elif self._group.my_role == "organizer":
            text = "No cases. Cases members open in this group appear here for you."
        else:
            text = "No cases. Open one to talk privately with the organizers."
        self.empty.setText(text)
        self.empty.setVisible(empty)
        self.list.setVisible(not empty)
        self._update_buttons()

    def _update_buttons(self) -> None:
        case = self.selected_case()
        self.show_button.setVisible(bool(self._cases))
        self.show_button.setEnabled(case is not None and case.joined)

    def selected_case(self) -> CaseView | None:
        item = self.list.currentItem()
        if item is None:
            return None
        view: CaseView = item.data(_CASE_ROLE)
        return view

    def select_case(self, title: str) -> bool:
        for row in range(self.list.count()):
            if self.list.item(row).data(_CASE_ROLE).title == title:
                self.list.setCurrentRow(row)
                return True
        return False

    def show_selected_case(self) -> None:
        case = self.selected_case()
        if case is not None and case.joined:
            self.open_case.emit(case.case_id)

    def open_dialog(self) -> OpenCaseDialog | None:
        group = self._group
        if group is None or group.status != "active":
            return None
        dialog = OpenCaseDialog(self._bridge, group, self)
        dialog.accepted.connect(self._lazy.schedule)
        self.dialog = dialog
        dialog.open()
        return dialog


class CaseHeader(QWidget):
    """Above the chat of a case group: its status and, for those who may, the control
    that changes it. Hidden for every other group."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("caseHeader")
        self.setAccessibleName("Case status")
        self._bridge = bridge
        self._group_id: bytes | None = None
        self.case: CaseView | None = None
        self._lazy = LazyRefresh(self, self.refresh, _REFRESH_MS)
        bridge.engine_event.connect(self.on_event)
        self.badge = QLabel()
        self.badge.setAccessibleName("Case status")
        self.sharing = muted_label("")
        self.sharing.setAccessibleName("What the group sees")
        self.next_status = QComboBox()
        self.next_status.setAccessibleName("New status")
        self.note = QLineEdit()
        self.note.setAccessibleName("Note for the timeline")
        self.note.setPlaceholderText("Note (optional)")
        self.note.setMaxLength(MAX_CASE_NOTE // 4)
        self.apply_button = QPushButton("Change status")
        self.apply_button.setAccessibleName("Change the case's status")
        self.apply_button.clicked.connect(self.change_status)
        self.share_button = QPushButton("Share status")
        self.share_button.setAccessibleName("Let the group see the status, without names")
        self.share_button.clicked.connect(self.toggle_sharing)
        self.error = error_label()
        row = QHBoxLayout()
        row.setContentsMargins(12, 6, 12, 2)
        row.setSpacing(8)
        row.addWidget(QLabel("Case"))
        row.addWidget(self.badge)
        row.addWidget(self.sharing, 1)
        self.controls = QWidget()
        controls = QHBoxLayout(self.controls)
        controls.setContentsMargins(12, 0, 12, 6)
        controls.setSpacing(6)
        controls.addWidget(self.next_status)
        controls.addWidget(self.note, 1)
        controls.addWidget(self.apply_button)
        controls.addWidget(self.share_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(row)
        layout.addWidget(self.controls)
        layout.addWidget(self.error)
        self.hide()

    def set_group(self, group: GroupView | None) -> None:
        group_id = group.group_id if group is not None else None
        if group_id != self._group_id:
            self.case = None
            self.hide()
            show_error(self.error, None)
        self._group_id = group_id
        self._lazy.stale = True
        self.refresh()  # the header is hidden until we know: read at once

    def on_event(self, event: Event) -> None:
        if self._group_id is not None and _concerns_cases(event):
            self._lazy.schedule()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._lazy.shown()

    def refresh(self) -> None:
        group_id = self._group_id
        if group_id is None or not shiboken6.isValid(self):
            return
        self._lazy.done()

        def done(views: list[CaseView]) -> None:
            if shiboken6.isValid(self) and self._group_id == group_id:
                self.show_case(next((v for v in views if v.case_id == group_id), None))

        self._bridge.submit(ListCases(None), done, lambda _error: None)

    def show_case(self, case: CaseView | None) -> None:
        self.case = case
        if case is None:
            self.hide()
            return
        self.badge.setText(case.status.upper())
        self.badge.setStyleSheet(status_style(case.status))
        self.sharing.setText(_SHARING_TEXT.get(case.sharing, ""))
        self.next_status.clear()
        for label in case.next_statuses:
            self.next_status.addItem(label.capitalize(), label)
        self.controls.setVisible(case.can_change_status)
        self.share_button.setVisible(case.opened_by_me)
        self.share_button.setText("Stop sharing" if case.sharing != "none" else "Share status")
        self.show()

    def change_status(self) -> None:
        case = self.case
        label = self.next_status.currentData()
        if case is None or label is None:
            return
        self.apply_button.setEnabled(False)
        show_error(self.error, None)
        command = SetCaseStatus(case.case_id, CaseStatus[str(label).upper()], self.note.text())
        self._bridge.submit(command, self._changed, self._failed)

    def toggle_sharing(self) -> None:
        case = self.case
        if case is None:
            return
        sharing = Sharing.NONE if case.sharing != "none" else Sharing.STATUS
        self.share_button.setEnabled(False)
        self._bridge.submit(ShareCase(case.case_id, sharing), self._changed, self._failed)

    def _changed(self, view: CaseView) -> None:
        if not shiboken6.isValid(self):
            return
        self.apply_button.setEnabled(True)
        self.share_button.setEnabled(True)
        self.note.clear()
        if view.case_id == self._group_id:
            self.show_case(view)

    def _failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self.apply_button.setEnabled(True)
        self.share_button.setEnabled(True)
        show_error(self.error, error)
