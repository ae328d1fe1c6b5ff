"""The desktop's backup screens (docs/protocol.md section 9): the Backups dialog
(folder, periodic backups, "Back up now"), the one-time recovery key dialog, and the
restore form used by the first run ("Restore from a backup") and the unlock screen
("Forgot passphrase?").

The dialogs hold no engine: the Backups dialog sends typed commands through ``submit``
(the engine bridge's), and the restore form emits a ``RestoreRequest`` the controller runs.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.api import (
    BackupMade,
    BackUpNow,
    BackupSettings,
    BackupStatus,
    ClientError,
    ConfigureBackups,
    Schedule,
    WeakPassphrase,
    check_new_passphrase,
    read_recovery_words,
)
from app.qt.widgets import (
    error_label,
    fit_dialog,
    human_error,
    muted_label,
    primary_button,
    show_error,
)

__all__ = ["BackupsDialog", "RecoveryKeyDialog", "RestoreDialog", "RestoreRequest"]

Submit = Callable[[Any, Callable[[Any], None] | None, Callable[[BaseException], None] | None], None]
_SCHEDULES = (("Off", Schedule.OFF), ("Daily", Schedule.DAILY), ("Weekly", Schedule.WEEKLY))


class RecoveryKeyDialog(QDialog):
    """The recovery key, shown once: it closes only after the person confirms they wrote
    it down (Escape and the close button do nothing until then)."""

    def __init__(self, words: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Your recovery key")
        self.setModal(True)
        intro = muted_label(
            "Write these 24 words down, in order, and keep them apart from this computer."
            " They open every backup of this profile, and restore it if you forget your"
            " passphrase. Caucus does not keep them and will not show them again."
        )
        grid = QGridLayout()
        grid.setVerticalSpacing(8)
        grid.setHorizontalSpacing(18)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.word_labels: list[QLabel] = []
        for index, word in enumerate(words.split()):
            label = QLabel(f"{index + 1:>2}. {word}")
            label.setFont(mono)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(label, index // 4, index % 4)
            self.word_labels.append(label)
        self.confirm = QCheckBox("I have written down these 24 words")
        self.confirm.setAccessibleName("I have written down the recovery key")
        self.done_button = primary_button("Done")
        self.done_button.setEnabled(False)
        self.confirm.toggled.connect(self.done_button.setEnabled)
        self.done_button.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(self.confirm)
        layout.addWidget(self.done_button, 0, Qt.AlignmentFlag.AlignRight)
        fit_dialog(self, 560)

    def reject(self) -> None:
        if self.confirm.isChecked():
            super().reject()


class BackupsDialog(QDialog):
    """Folder, periodic backups (daily/weekly, keep the last N) and "Back up now"."""

    recovery_key_shown = Signal(object)  # the RecoveryKeyDialog, for tests

    def __init__(self, submit: Submit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Backups")
        self._submit = submit
        self.recovery_dialog: RecoveryKeyDialog | None = None
        intro = muted_label(
            "A backup holds your whole profile, encrypted. It opens only with the recovery"
            " key shown at your first backup, never with your passphrase."
        )
        self.folder = QLineEdit()
        self.folder.setAccessibleName("Backup folder")
        self.folder.setPlaceholderText("Choose a folder, e.g. on a USB stick")
        self.choose = QPushButton("Choose…")
        self.choose.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose)
        self.schedule = QComboBox()
        self.schedule.setAccessibleName("Periodic backups")
        for text, value in _SCHEDULES:
            self.schedule.addItem(text, value)
        self.keep = QSpinBox()
        self.keep.setAccessibleName("Backups to keep")
        self.keep.setRange(1, 100)
        self.keep.setValue(7)
        self.status = muted_label("No backup yet.")
        self.status.setAccessibleName("Backup status")
        self.error = error_label()
        form = QFormLayout()
        form.addRow("Folder", folder_row)
        form.addRow("Periodic backups", self.schedule)
        form.addRow("Keep the last", self.keep)
        self.back_up = primary_button("Back up now")
        self.back_up.clicked.connect(self.back_up_now)
        self.save = QPushButton("Save")
        self.save.clicked.connect(self.save_settings)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.save, QDialogButtonBox.ButtonRole.ApplyRole)
        buttons.addButton(self.back_up, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_dialog(self, 520)
        self._has_key = False
        submit(BackupStatus(), self._show_settings, self._fail)

    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Backup folder", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def _show_settings(self, settings: BackupSettings | None) -> None:
        if settings is None:
            return
        self._has_key = True
        if settings.folder:
            self.folder.setText(settings.folder)
        self.schedule.setCurrentIndex([v for _, v in _SCHEDULES].index(settings.schedule))
        self.keep.setValue(settings.keep)
        if settings.last_at is not None:
            when = datetime.datetime.fromtimestamp(settings.last_at / 1000)
            self.status.setText(f"Last backup: {when:%Y-%m-%d %H:%M}.")

    def _folder(self) -> Path | None:
        text = self.folder.text().strip()
        return Path(text).expanduser() if text else None

    def back_up_now(self) -> None:
        folder = self._folder()
        if folder is None:
            show_error(self.error, "Choose a folder for the backup first.")
            return
        show_error(self.error, None)
        self.back_up.setEnabled(False)
        self.back_up.setText("Backing up…")
        self._submit(BackUpNow(folder), self._backed_up, self._fail)

    def _backed_up(self, made: BackupMade) -> None:
        self.back_up.setEnabled(True)
        self.back_up.setText("Back up now")
        self.status.setText(f"Backed up to {made.path.name} ({made.size:,} bytes).")
        self._has_key = True
        if made.recovery_words:
            dialog = RecoveryKeyDialog(made.recovery_words, self)
            self.recovery_dialog = dialog
            self.recovery_key_shown.emit(dialog)
            dialog.open()
            dialog.accepted.connect(self.save_settings)

    def save_settings(self) -> None:
        schedule = self.schedule.currentData()
        if not self._has_key:
            if schedule is not Schedule.OFF:
                show_error(self.error, "Make a first backup (Back up now) to get your key.")
            return
        self._submit(
            ConfigureBackups(self._folder(), schedule, self.keep.value()),
            lambda _settings: show_error(self.error, None),
            self._fail,
        )

    def _fail(self, error: BaseException) -> None:
        self.back_up.setEnabled(True)
        self.back_up.setText("Back up now")
        show_error(self.error, error)


@dataclass(frozen=True)
class RestoreRequest:
    """What the restore form hands the controller (the words are parsed already)."""

    file: Path
    words: str
    passphrase: str
    replace: bool


class RestoreDialog(QDialog):
    """Backup file + recovery key + new passphrase. ``replace`` is the forgotten
    passphrase path: the profile on this computer is replaced once the new one opens."""

    restore_requested = Signal(object)  # RestoreRequest

    def __init__(self, *, replace: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.replace = replace
        self.setWindowTitle("Forgot passphrase" if replace else "Restore from a backup")
        text = (
            "Your passphrase cannot be recovered, but your profile can: choose a backup and"
            " enter its recovery key, then a new passphrase. The profile on this computer"
            " is set aside once the restored one opens."
            if replace
            else "Choose a backup file and enter the 24-word recovery key shown at your"
            " first backup, then a new passphrase for this computer."
        )
        intro = muted_label(text)
        self.file = QLineEdit()
        self.file.setAccessibleName("Backup file")
        self.browse = QPushButton("Choose…")
        self.browse.clicked.connect(self._choose_file)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file, 1)
        file_row.addWidget(self.browse)
        self.words = QPlainTextEdit()
        self.words.setAccessibleName("Recovery key")
        self.words.setPlaceholderText("24 words")
        self.words.setFixedHeight(72)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("New passphrase")
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName("Repeat new passphrase")
        self.error = error_label()
        self.restore = primary_button("Restore")
        self.restore.clicked.connect(self._submit)
        form = QFormLayout()
        form.addRow("Backup file", file_row)
        form.addRow("Recovery key", self.words)
        form.addRow("New passphrase", self.passphrase)
        form.addRow("Repeat", self.repeat)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.restore, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_dialog(self, 520)

    def _choose_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Backup file", "", "Caucus backups (*.caucus-backup);;All files (*)"
        )
        if chosen:
            self.file.setText(chosen)

    def _submit(self) -> None:
        path = self.file.text().strip()
        if not path:
            show_error(self.error, "Choose the backup file.")
            return
        try:
            read_recovery_words(self.words.toPlainText())
        except ClientError as exc:
            show_error(self.error, exc)
            return
        if not self.passphrase.text() or self.passphrase.text() != self.repeat.text():
            show_error(self.error, "Enter the new passphrase twice, the same both times.")
            return
        try:
            check_new_passphrase(self.passphrase.text())
        except WeakPassphrase as exc:
            show_error(self.error, exc)
            return
        show_error(self.error, None)
        self.set_busy(True)
        self.restore_requested.emit(
            RestoreRequest(
                Path(path).expanduser(),
                self.words.toPlainText(),
                self.passphrase.text(),
                self.replace,
            )
        )

    def set_busy(self, busy: bool) -> None:
        self.restore.setEnabled(not busy)
        self.restore.setText("Restoring…" if busy else "Restore")

    def fail(self, error: BaseException) -> None:
        self.set_busy(False)
        show_error(self.error, human_error(error))
