"""First run: create a profile (display name, passphrase with a strength hint, relay URL,
or a local embedded relay for trying Caucus out)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from app.qt.passphrase_hint import estimate
from app.qt.theme import app_icon
from app.qt.widgets import error_label, muted_label, primary_button, show_error

__all__ = ["FirstRunScreen", "NewProfile"]


@dataclass(frozen=True)
class NewProfile:
    """What the person typed; the passphrase lives only as long as the creation job."""

    name: str
    passphrase: str
    relay_url: str
    embedded_relay: bool
    remember_key: bool


class FirstRunScreen(QWidget):
    """The window shown when no profile exists yet."""

    create_requested = Signal(object)  # NewProfile

    def __init__(
        self,
        *,
        embedded_preselected: bool,
        keyring_available: bool,
        keyring_reason: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("screen")
        self.setWindowTitle("Caucus — create your profile")
        self.setWindowIcon(app_icon())

        title = QLabel("Welcome to Caucus")
        title.setObjectName("screenTitle")
        intro = muted_label(
            "Your profile stays on this computer, encrypted with your passphrase. "
            "Nobody can reset it for you: keep the passphrase somewhere safe."
        )

        self.name = QLineEdit()
        self.name.setAccessibleName("Display name")
        self.name.setPlaceholderText("How other members see you")
        self.name.setMaxLength(64)

        self.passphrase = QLineEdit()
        self.passphrase.setAccessibleName("Passphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Several unrelated words")
        self.repeat = QLineEdit()
        self.repeat.setAccessibleName("Repeat passphrase")
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)

        self.strength_bar = QProgressBar()
        self.strength_bar.setRange(0, 4)
        self.strength_bar.setTextVisible(False)
        self.strength_bar.setFixedHeight(6)
        self.strength_bar.setAccessibleName("Passphrase strength")
        self.strength_bar.setObjectName("strength")
        self.strength = muted_label("")
        self.strength.setAccessibleName("Passphrase strength hint")

        self.relay_url = QLineEdit()
        self.relay_url.setAccessibleName("Relay URL")
        self.relay_url.setPlaceholderText("https://relay.example.org")
        self.embedded = QCheckBox("Start a local relay on this computer (for trying Caucus out)")
        self.embedded.setAccessibleName("Start an embedded local relay")
        self.embedded.setToolTip(
            "Runs a relay on 127.0.0.1 inside the app, storing its data in your profile "
            "folder. Only programs on this computer can reach it."
        )
        self.embedded.toggled.connect(self._embedded_toggled)

        self.remember = QCheckBox("Remember the key in the system keyring")
        self.remember.setAccessibleName("Remember the database key in the system keyring")
        if keyring_available:
            self.remember.setToolTip(
                "Opens Caucus without the passphrase on this computer account. "
                "Locking still asks for the passphrase."
            )
        else:
            self.remember.setEnabled(False)
            self.remember.setToolTip(keyring_reason)

        self.error = error_label()
        self.create_button = primary_button("Create profile")
        self.create_button.clicked.connect(self._submit)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Display name", self.name)
        form.addRow("Passphrase", self.passphrase)
        strength_box = QVBoxLayout()
        strength_box.setSpacing(2)
        strength_box.addWidget(self.strength_bar)
        strength_box.addWidget(self.strength)
        form.addRow("", strength_box)
        form.addRow("Repeat", self.repeat)
        form.addRow("Relay", self.relay_url)
        form.addRow("", self.embedded)
        form.addRow("", self.remember)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.create_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(36, 32, 36, 28)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addLayout(buttons)

        self.passphrase.textChanged.connect(self._update_strength)
        for field in (self.name, self.passphrase, self.repeat, self.relay_url):
            field.returnPressed.connect(self._submit)
        self.embedded.setChecked(embedded_preselected)
        self._update_strength("")
        self.resize(560, 520)

    def _embedded_toggled(self, on: bool) -> None:
        self.relay_url.setEnabled(not on)
        if on:
            self.relay_url.setPlaceholderText("A local relay will start on 127.0.0.1")
        else:
            self.relay_url.setPlaceholderText("https://relay.example.org")

    def _update_strength(self, text: str) -> None:
        strength = estimate(text)
        self.strength_bar.setValue(strength.score if text else 0)
        self.strength_bar.setProperty("score", str(strength.score))
        self.strength_bar.style().unpolish(self.strength_bar)
        self.strength_bar.style().polish(self.strength_bar)
        self.strength.setText(
            f"{strength.label}. {strength.advice}" if text else "Use four or more unrelated words."
        )

    def _submit(self) -> None:
        if not self.create_button.isEnabled():
            return
        name = self.name.text().strip()
        url = self.relay_url.text().strip()
        if not name:
            show_error(self.error, "Enter the name other members will see.")
            self.name.setFocus()
            return
        if not self.passphrase.text():
            show_error(self.error, "Choose a passphrase.")
            self.passphrase.setFocus()
            return
        if self.passphrase.text() != self.repeat.text():
            show_error(self.error, "The two passphrases are not the same.")
            self.repeat.setFocus()
            return
        if not self.embedded.isChecked() and not url.startswith(("https://", "http://")):
            show_error(
                self.error,
                "Enter the relay address your union uses (https://…), or start a local relay.",
            )
            self.relay_url.setFocus()
            return
        show_error(self.error, None)
        self.create_requested.emit(
            NewProfile(
                name=name,
                passphrase=self.passphrase.text(),
                relay_url=url,
                embedded_relay=self.embedded.isChecked(),
                remember_key=self.remember.isEnabled() and self.remember.isChecked(),
            ),
        )

    def set_busy(self, busy: bool) -> None:
        self.create_button.setEnabled(not busy)
        self.create_button.setText("Creating…" if busy else "Create profile")
        for field in (self.name, self.passphrase, self.repeat):
            field.setEnabled(not busy)

    def fail(self, message: str) -> None:
        self.set_busy(False)
        show_error(self.error, message)
