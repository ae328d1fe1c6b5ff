"""Create a group, or (organizers) a channel that may be announcement-only."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.api import Command, CreateChannel, CreateGroup
from app.qt.engine_bridge import EngineBridge
from app.qt.widgets import error_label, fit_dialog, primary_button, show_error

__all__ = ["NewChannelDialog", "NewGroupDialog"]


class _NameDialog(QDialog):
    """A name field, a create button, and an engine call when it is pressed."""

    def __init__(
        self, bridge: EngineBridge, title: str, label: str, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._bridge = bridge
        self.name = QLineEdit()
        self.name.setAccessibleName(label)
        self.name.setMaxLength(128)
        self.error = error_label()
        self.create_button = primary_button("Create")
        self.create_button.clicked.connect(self._create)
        self.name.returnPressed.connect(self._create)
        self.form = QFormLayout()
        self.form.addRow(label, self.name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.create_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_dialog(self, 380)

    def _create(self) -> None:
        name = self.name.text().strip()
        if not self.create_button.isEnabled():
            return
        if not name:
            show_error(self.error, "Enter a name.")
            return
        self.create_button.setEnabled(False)
        show_error(self.error, None)
        self._bridge.submit(self._command(name), self._done, self._failed)

    def _command(self, name: str) -> Command[bytes]:
        raise NotImplementedError

    def _done(self, _result: object) -> None:
        self.accept()

    def _failed(self, error: Exception) -> None:
        self.create_button.setEnabled(True)
        show_error(self.error, error)


class NewGroupDialog(_NameDialog):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, "New group", "Group name", parent)

    def _command(self, name: str) -> Command[bytes]:
        return CreateGroup(name)


class NewChannelDialog(_NameDialog):
    def __init__(
        self, bridge: EngineBridge, group_id: bytes, parent: QWidget | None = None
    ) -> None:
        super().__init__(bridge, "New channel", "Channel name", parent)
        self._group_id = group_id
        self.announce = QCheckBox("Announcements only (only organizers can post)")
        self.announce.setAccessibleName("Announcements only")
        self.form.addRow("", self.announce)
        fit_dialog(self, 380)  # again, with the wider row

    def _command(self, name: str) -> Command[bytes]:
        return CreateChannel(self._group_id, name, self.announce.isChecked())
