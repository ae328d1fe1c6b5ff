"""The unlock screen: the passphrase opens the encrypted profile; a wrong one says so."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.qt.theme import app_icon
from app.qt.widgets import error_label, muted_label, primary_button, show_error

__all__ = ["UnlockScreen"]


class UnlockScreen(QWidget):
    """Asks for the passphrase; ``unlock_requested(passphrase, remember)``."""

    unlock_requested = Signal(str, bool)
    forgot_requested = Signal()  # "Forgot passphrase?": restore from a backup (backups.py)

    def __init__(
        self,
        home: Path,
        *,
        keyring_available: bool,
        keyring_reason: str,
        locked_message: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("screen")
        self.setWindowTitle("Caucus — locked")
        self.setWindowIcon(app_icon())

        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(72, 72))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        icon.setAccessibleName("Caucus logo")
        title = QLabel("Unlock Caucus")
        title.setObjectName("screenTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note = muted_label(locked_message or "Enter your passphrase to open your profile.")
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setAccessibleName("Unlock note")
        self.note.setToolTip(f"Profile folder: {home}")  # for support, not the first read

        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase")
        self.passphrase.setAccessibleName("Passphrase")
        self.passphrase.setMinimumWidth(300)
        self.passphrase.returnPressed.connect(self._submit)

        self.remember = QCheckBox("Remember the key in the system keyring")
        self.remember.setAccessibleName("Remember the database key in the system keyring")
        # Unavailable: greyed out (theme QSS) with the reason written under it, so it
        # neither looks clickable nor hides why in a tooltip.
        self.remember_note = muted_label(keyring_reason)
        self.remember_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.remember_note.setAccessibleName("Why the keyring option is off")
        self.remember_note.setVisible(not keyring_available)
        if not keyring_available:
            self.remember.setEnabled(False)
            self.remember.setToolTip(keyring_reason)

        self.error = error_label()
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.unlock = primary_button("Unlock")
        self.unlock.clicked.connect(self._submit)
        self.forgot = QPushButton("Forgot passphrase?")
        self.forgot.setFlat(True)
        self.forgot.setAccessibleName("Forgot passphrase: restore from a backup")
        self.forgot.clicked.connect(self.forgot_requested)

        row = QHBoxLayout()
        row.addWidget(self.passphrase, 1)
        row.addWidget(self.unlock)

        column = QVBoxLayout()
        column.setSpacing(12)
        column.addWidget(icon)
        column.addWidget(title)
        column.addWidget(self.note)
        column.addSpacing(8)
        column.addLayout(row)
        column.addWidget(self.remember, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.remember_note)
        column.addWidget(self.error)
        column.addWidget(self.forgot, 0, Qt.AlignmentFlag.AlignHCenter)

        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column)
        outer.addStretch(1)
        self.resize(560, 400)
        self.passphrase.setFocus()

    def _submit(self) -> None:
        if not self.unlock.isEnabled():
            return
        if not self.passphrase.text():
            show_error(self.error, "Enter your passphrase.")
            return
        show_error(self.error, None)
        self.set_busy(True)
        self.unlock_requested.emit(
            self.passphrase.text(),
            self.remember.isEnabled() and self.remember.isChecked(),
        )

    def set_busy(self, busy: bool) -> None:
        self.unlock.setEnabled(not busy)
        self.passphrase.setEnabled(not busy)
        self.unlock.setText("Unlocking…" if busy else "Unlock")

    def fail(self, message: str) -> None:
        self.set_busy(False)
        self.passphrase.selectAll()
        self.passphrase.setFocus()
        show_error(self.error, message)
