"""Invite someone: choose role, expiry, uses and approval; get a code, a QR code and a
copy button. The invite is a signed entry in the group log, created by the engine."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.api import CreateInvite, GroupView, MemberRole, invite_relay_url
from app.qt.engine_bridge import EngineBridge
from app.qt.qr import qr_pixmap
from app.qt.relay_reach import reach_warning
from app.qt.widgets import error_label, muted_label, primary_button, show_error

__all__ = ["DEFAULT_USES", "InviteDialog", "invitation_text"]

HOUR_MS = 3600 * 1000
_EXPIRY = (("1 hour", 1), ("1 day", 24), ("7 days", 24 * 7), ("30 days", 24 * 30))


DEFAULT_USES = 25
_WIDTH = 480


def invitation_text(
    inviter: str, group: str, code: str, expires_at_s: float, approval: bool
) -> str:
    """The message an organizer pastes into an email or a chat."""
    who = inviter or "An organizer"
    until = time.strftime("%d %B %Y, %H:%M", time.localtime(expires_at_s))
    lines = [
        f"{who} invites you to join {group} on Caucus, our private, end-to-end "
        "encrypted space for discussions, ballots and documents.",
        "",
        "Open this link on a computer with Caucus installed (or paste it into Caucus, "
        '"Join with an invite"):',
        "",
        code,
        "",
        f"The link is valid until {until}.",
        "An organizer approves each person who asks to join with it."
        if approval
        else "Anyone holding this link can join until then: pass it only to people you trust.",
    ]
    return "\n".join(lines)


class InviteDialog(QDialog):
    """Organizers create an invite code for one group."""

    def __init__(
        self,
        bridge: EngineBridge,
        group: GroupView,
        parent: QWidget | None = None,
        *,
        relay_url: str = "",
        inviter: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Invite to {group.name}")
        self._bridge = bridge
        self._group = group
        self._inviter = inviter
        self._letter = ""
        self._pending: tuple[int, bool] = (0, False)  # the invite being created: ttl, approval

        self.role = QComboBox()
        self.role.addItem("Member", MemberRole.MEMBER)
        self.role.addItem("Organizer", MemberRole.ORGANIZER)
        self.role.setAccessibleName("Role of the new member")
        self.expiry = QComboBox()
        for label, hours in _EXPIRY:
            self.expiry.addItem(label, hours)
        self.expiry.setCurrentIndex(2)
        self.expiry.setAccessibleName("Invite expires after")
        # The defaults suit a meeting or a group chat: one code for many people, and an
        # organizer checks each request, so a forwarded code admits nobody unseen.
        self.uses = QSpinBox()
        self.uses.setRange(1, 1000)
        self.uses.setValue(DEFAULT_USES)
        self.uses.setAccessibleName("How many people can use this invite")
        self.approval = QCheckBox("An organizer approves each join")
        self.approval.setChecked(True)
        self.approval.setAccessibleName("Require organizer approval")

        self.create_button = primary_button("Create invite")
        self.create_button.clicked.connect(self._create)
        self.error = error_label()

        self.code = QLineEdit()
        self.code.setReadOnly(True)
        self.code.setAccessibleName("Invite code")
        self.code.setPlaceholderText("The code appears here")
        self.copy = QPushButton("Copy")
        self.copy.setAccessibleName("Copy invite code")
        self.copy.setEnabled(False)
        self.copy.clicked.connect(self._copy)
        self.copy_text = QPushButton("Copy invitation")
        self.copy_text.setAccessibleName("Copy a ready-to-send invitation")
        self.copy_text.setToolTip("A short message with the link, to paste into an email or chat")
        self.copy_text.setEnabled(False)
        self.copy_text.clicked.connect(self._copy_letter)
        self.qr = QLabel()
        self.qr.setAccessibleName("Invite QR code")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setFixedSize(196, 196)
        self.hint = muted_label(
            "Send the code through a channel you trust (in person, a call, a letter). "
            "Anyone holding it can ask to join until it expires."
        )

        # Every invite carries the relay's address: say who can actually reach it.
        self.reach = QLabel()
        self.reach.setObjectName("warningBanner")
        self.reach.setWordWrap(True)
        self.reach.setAccessibleName("Who can use this invite")
        self._show_reach(relay_url)

        form = QFormLayout()
        form.addRow("Role", self.role)
        form.addRow("Expires after", self.expiry)
        form.addRow("Uses", self.uses)
        form.addRow("", self.approval)

        code_row = QHBoxLayout()
        code_row.addWidget(self.code, 1)
        code_row.addWidget(self.copy)
        code_row.addWidget(self.copy_text)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.reach)
        layout.addLayout(form)
        create_row = QHBoxLayout()
        create_row.addStretch(1)
        create_row.addWidget(self.create_button)
        layout.addLayout(create_row)
        layout.addWidget(self.error)
        layout.addLayout(code_row)
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)
        self.resize(_WIDTH, 0)
        self._fit()

    def _create(self) -> None:
        group_id = self._group.group_id
        role: MemberRole = self.role.currentData()
        ttl = int(self.expiry.currentData()) * HOUR_MS
        uses = self.uses.value()
        approval = self.approval.isChecked()

        command = CreateInvite(group_id, role, ttl, uses, approval)
        self._pending = (ttl, approval)

        self.create_button.setEnabled(False)
        self.create_button.setText("Creating…")
        show_error(self.error, None)
        self._bridge.submit(command, self.show_code, self._failed)

    def show_code(self, code: str) -> None:
        """Display a created code (also used by the screenshot tool)."""
        self.create_button.setText("Create another")
        self.create_button.setEnabled(True)
        self.code.setText(code)
        self.code.setCursorPosition(0)
        self.copy.setEnabled(True)
        ttl, approval = self._pending
        self._letter = invitation_text(
            self._inviter, self._group.name, code, time.time() + ttl / 1000, approval
        )
        self.copy_text.setEnabled(True)
        self.qr.setPixmap(qr_pixmap(code, 196, self.devicePixelRatioF()))
        self._show_reach(invite_relay_url(code) or "")
        self._fit()  # the QR code and the buttons need room the empty dialog lacked

    def _fit(self) -> None:
        """Tall enough for everything at this width: the wrapped notices' height depends
        on the width, which a dialog's minimum size does not follow by itself."""
        layout = self.layout()
        if layout is None:
            return
        width = max(self.width(), _WIDTH)
        height = layout.heightForWidth(width) if layout.hasHeightForWidth() else -1
        self.resize(width, max(height, layout.minimumSize().height()))

    def _show_reach(self, relay_url: str) -> None:
        warning = reach_warning(relay_url) if relay_url else None
        self.reach.setText(warning or "")
        self.reach.setVisible(warning is not None)

    def _failed(self, error: Exception) -> None:
        self.create_button.setText("Create invite")
        self.create_button.setEnabled(True)
        show_error(self.error, error)

    def _copy_letter(self) -> None:
        QGuiApplication.clipboard().setText(self._letter)
        self.copy_text.setText("Copied")

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code.text())
        self.copy.setText("Copied")
