"""Join a group by pasting an invite code (or opening a caucus:// link)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.api import JoinWithInvite, is_invite_code
from app.qt.engine_bridge import EngineBridge
from app.qt.widgets import error_label, fit_dialog, muted_label, primary_button, show_error

__all__ = ["JoinDialog"]


class JoinDialog(QDialog):
    """Sends the join request; the group appears when an organizer's client admits us."""

    requested = Signal()

    def __init__(self, bridge: EngineBridge, code: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Join a group")
        self._bridge = bridge
        self._waiting = False
        self.code = QPlainTextEdit(code)
        self.code.setAccessibleName("Invite code")
        self.code.setPlaceholderText("caucus://join#…")
        self.code.setFixedHeight(80)
        self.status = muted_label("Paste the invite code an organizer gave you.")
        self.status.setAccessibleName("Join status")
        self.error = error_label()
        self.join = primary_button("Ask to join")
        self.join.clicked.connect(self.send)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.join, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Invite code"))
        layout.addWidget(self.code)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        fit_dialog(self, 480)

    def send(self) -> None:
        """Send the join request for the code in the box (the button, or the first run)."""
        text = self.code.toPlainText().strip()
        if not is_invite_code(text):
            show_error(self.error, "This is not a valid invite code. Copy it again, whole.")
            return

        show_error(self.error, None)
        self.join.setEnabled(False)
        self.join.setText("Sending…")
        self._bridge.submit(JoinWithInvite(text), self._sent, self._failed)

    @property
    def waiting(self) -> bool:
        """The request went out and no group has arrived yet."""
        return self._waiting

    def admitted(self, group_name: str) -> None:
        """The welcome arrived: say so instead of "Request sent" (the window calls this)."""
        self._waiting = False
        self.join.setText("Joined")
        self.status.setText(f"You are in {group_name}. It is open in your group list.")

    def _sent(self, _result: object) -> None:
        self._waiting = True
        self.join.setText("Request sent")
        self.status.setText(
            "Request sent. The group appears in your list as soon as an organizer's "
            "Caucus admits you (right away, or after they approve)."
        )
        self.requested.emit()

    def _failed(self, error: Exception) -> None:
        self.join.setEnabled(True)
        self.join.setText("Ask to join")
        show_error(self.error, error)
