"""Change the passphrase: old one, new one twice, with the same strength hint as the
first run. The controller stops the engine, re-keys the database and unlocks again."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.api import WeakPassphrase, check_new_passphrase
from app.qt.passphrase_hint import estimate
from app.qt.widgets import error_label, fit_dialog, muted_label, primary_button, show_error

__all__ = ["ChangePassphraseDialog"]


class ChangePassphraseDialog(QDialog):
    """``requested(old, new)`` once the fields are consistent."""

    requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change passphrase")
        self.old = self._field("Current passphrase")
        self.new = self._field("New passphrase")
        self.repeat = self._field("Repeat new passphrase")
        self.strength = muted_label("")
        self.strength.setAccessibleName("Passphrase strength hint")
        self.new.textChanged.connect(self._hint)
        # The strength floor's refusal, under the new passphrase.
        self.floor = error_label()
        self.floor.setAccessibleName("Passphrase too weak")
        self.error = error_label()
        self.change = primary_button("Change passphrase")
        self.change.clicked.connect(self._submit)
        form = QFormLayout()
        form.addRow("Current", self.old)
        form.addRow("New", self.new)
        form.addRow("", self.strength)
        form.addRow("", self.floor)
        form.addRow("Repeat", self.repeat)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.change, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_dialog(self, 440)

    @staticmethod
    def _field(name: str) -> QLineEdit:
        field = QLineEdit()
        field.setEchoMode(QLineEdit.EchoMode.Password)
        field.setAccessibleName(name)
        return field

    def _hint(self, text: str) -> None:
        show_error(self.floor, None)
        strength = estimate(text)
        self.strength.setText(f"{strength.label}. {strength.advice}" if text else "")

    def _submit(self) -> None:
        if not self.old.text() or not self.new.text():
            show_error(self.error, "Fill in the current and the new passphrase.")
            return
        if self.new.text() != self.repeat.text():
            show_error(self.error, "The two new passphrases are not the same.")
            return
        try:
            check_new_passphrase(self.new.text())
        except WeakPassphrase as exc:
            message = str(exc)
            show_error(self.floor, message[:1].upper() + message[1:] + ".")
            show_error(self.error, None)
            self.new.setFocus()
            return
        show_error(self.error, None)
        self.change.setEnabled(False)
        self.change.setText("Changing…")
        self.requested.emit(self.old.text(), self.new.text())

    def fail(self, message: str) -> None:
        self.change.setEnabled(True)
        self.change.setText("Change passphrase")
        show_error(self.error, message)
