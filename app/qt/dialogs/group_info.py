"""Group info: the group's name, size, your role and its description, which organizers
edit here (a signed DESCRIBE log entry, docs/protocol.md 4.1.3)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.api import DescribeGroup, GroupView
from app.qt.engine_bridge import EngineBridge
from app.qt.widgets import error_label, fit_dialog, muted_label, primary_button, show_error

__all__ = ["DESCRIPTION_MAX_BYTES", "GroupInfoDialog"]

DESCRIPTION_MAX_BYTES = 1024  # crypto/log_entry.py DESCRIPTION_MAX (the engine checks it)


class GroupInfoDialog(QDialog):
    def __init__(self, bridge: EngineBridge, group: GroupView, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Group info")
        self._bridge = bridge
        self._group = group
        self.organizer = group.my_role == "organizer" and group.status == "active"
        form = QFormLayout()
        name = QLabel(group.name)
        name.setObjectName("chatTitle")
        form.addRow("Name", name)
        members = f"{group.member_count} member{'s' if group.member_count != 1 else ''}"
        form.addRow("Members", QLabel(members))
        form.addRow("Your role", QLabel(group.my_role or "not a member"))
        self.description = QPlainTextEdit(group.description)
        self.description.setAccessibleName("Group description")
        self.description.setPlaceholderText(
            "What the group is for, how to reach the organizers…"
            if self.organizer
            else "No description."
        )
        self.description.setReadOnly(not self.organizer)
        self.description.setFixedHeight(110)
        form.addRow("Description", self.description)
        self.error = error_label()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.save_button = primary_button("Save")
        self.save_button.clicked.connect(self.save)
        self.save_button.setVisible(self.organizer)
        if self.organizer:
            buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        if self.organizer:
            layout.addWidget(
                muted_label("Every member sees the description. Only organizers change it.")
            )
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_dialog(self, 440)

    def save(self) -> None:
        text = self.description.toPlainText().strip()
        if text == self._group.description:
            self.accept()
            return
        if len(text.encode("utf-8")) > DESCRIPTION_MAX_BYTES:
            show_error(self.error, f"The description is longer than {DESCRIPTION_MAX_BYTES} bytes.")
            return
        self.save_button.setEnabled(False)
        show_error(self.error, None)
        self._bridge.submit(DescribeGroup(self._group.group_id, text), self._done, self._failed)

    def _done(self, _result: object) -> None:
        self.accept()

    def _failed(self, error: Exception) -> None:
        self.save_button.setEnabled(True)
        show_error(self.error, error)
