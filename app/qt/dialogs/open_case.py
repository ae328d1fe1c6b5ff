"""Open a dispute case: a title, and what the rest of the group may see of it."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.core.api import GroupView, OpenCase, Sharing
from app.qt.engine_bridge import EngineBridge
from app.qt.widgets import error_label, fit_dialog, muted_label, primary_button, show_error

__all__ = ["OpenCaseDialog"]


class OpenCaseDialog(QDialog):
    """Sends ``OpenCase``; ``opened`` holds the new case id once the engine is done."""

    def __init__(self, bridge: EngineBridge, group: GroupView, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open a case")
        self._bridge = bridge
        self._group = group
        self.opened: bytes | None = None
        intro = muted_label(
            f"Only you and the organizers of {group.name} see this case: its messages, "
            "evidence and decisions. Other members see nothing unless you choose so below."
        )
        self.title = QLineEdit()
        self.title.setAccessibleName("Case title")
        self.title.setPlaceholderText("e.g. Late payment by Acme Studio")
        self.title.setMaxLength(120)
        self.private = QRadioButton("Nothing: the group does not learn of the case")
        self.status_only = QRadioButton("Its status, without names (“A case is now open”)")
        self.with_title = QRadioButton("Its status and this title")
        self.private.setChecked(True)
        self._choice = QButtonGroup(self)
        for button in (self.private, self.status_only, self.with_title):
            self._choice.addButton(button)
        form = QFormLayout()
        form.addRow("Title", self.title)
        choices = QWidget()  # a widget of its own, so the form row is as tall as its three lines
        share = QVBoxLayout(choices)
        share.setContentsMargins(0, 0, 0, 0)
        share.setSpacing(4)
        for button in (self.private, self.status_only, self.with_title):
            share.addWidget(button)
        form.addRow("The group sees", choices)
        self.error = error_label()
        self.open_button = primary_button("Open case")
        self.open_button.clicked.connect(self._open)
        self.title.returnPressed.connect(self._open)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_dialog(self, 460)

    @property
    def sharing(self) -> Sharing:
        if self.with_title.isChecked():
            return Sharing.STATUS_AND_TITLE
        if self.status_only.isChecked():
            return Sharing.STATUS
        return Sharing.NONE

    def _open(self) -> None:
        title = self.title.text().strip()
        if not self.open_button.isEnabled():
            return
        if not title:
            show_error(self.error, "Give the case a title.")
            return
        self.open_button.setEnabled(False)
        show_error(self.error, None)
        command = OpenCase(self._group.group_id, title, self.sharing)
        self._bridge.submit(command, self._done, self._failed)

    def _done(self, case_id: bytes) -> None:
        self.opened = case_id
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.open_button.setEnabled(True)
        show_error(self.error, error)
