"""Preferences: theme and how long the app waits before locking itself."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.qt.settings import DesktopSettings
from app.qt.theme import THEMES

__all__ = ["SettingsDialog"]


class SettingsDialog(QDialog):
    """Edits a ``DesktopSettings``; ``applied`` after the person presses OK."""

    applied = Signal()

    def __init__(self, settings: DesktopSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self.theme = QComboBox()
        for name in THEMES:
            self.theme.addItem(name.capitalize(), name)
        self.theme.setCurrentIndex(
            max(THEMES.index(settings.theme), 0) if settings.theme in THEMES else 0
        )
        self.theme.setAccessibleName("Theme")
        self.idle = QSpinBox()
        self.idle.setRange(0, 24 * 60)
        self.idle.setSuffix(" min")
        self.idle.setSpecialValueText("Never")
        self.idle.setValue(settings.idle_lock_minutes)
        self.idle.setAccessibleName("Lock after idle minutes")
        self.idle.setToolTip("Lock Caucus after this many minutes without keyboard or mouse use.")
        self.show_text = QCheckBox("Show message text in notifications")
        self.show_text.setChecked(settings.show_message_text)
        self.show_text.setAccessibleName("Show message text in notifications")
        self.show_text.setToolTip(
            "Off: a notification says only who wrote in which group. Notifications can show "
            "on a locked screen."
        )
        form = QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("Lock when idle for", self.idle)
        form.addRow("Notifications", self.show_text)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._apply)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _apply(self) -> None:
        self._settings.theme = str(self.theme.currentData())
        self._settings.idle_lock_minutes = self.idle.value()
        self._settings.show_message_text = self.show_text.isChecked()
        self._settings.save()
        self.applied.emit()
        self.accept()
