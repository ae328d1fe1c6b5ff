"""Compare safety numbers with a member (in person or on a call, or by scanning the QR
code) and mark them verified. A match proves no one — the relay included — swapped keys."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.api import MemberView, safety_number
from app.qt.qr import qr_pixmap
from app.qt.verification import Trust, VerificationStore
from app.qt.widgets import fit_dialog, muted_label, primary_button

__all__ = ["VerifyDialog", "format_safety_number"]


def format_safety_number(digits: str) -> str:
    """60 digits as three lines of four groups of five, the way people read them out."""
    groups = [digits[i : i + 5] for i in range(0, len(digits), 5)]
    lines = [" ".join(groups[i : i + 4]) for i in range(0, len(groups), 4)]
    return "\n".join(lines)


class VerifyDialog(QDialog):
    """Safety number, QR code, fingerprints, and the verified mark for one member."""

    changed = Signal()

    def __init__(
        self,
        member: MemberView,
        my_identity_pk: bytes,
        my_fingerprint: str,
        store: VerificationStore,
        parent: QWidget | None = None,
        *,
        digits: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Verify {member.name}")
        self._member = member
        self._store = store
        # Given: over both members' devices too (docs/protocol.md 8.3).
        if digits is None:
            digits = safety_number(my_identity_pk, member.identity_pk)
        self.digits = digits

        intro = muted_label(
            f"Compare these numbers with {member.name} in person or on a call, or scan "
            "each other's code. If they match, nobody has swapped your keys."
        )
        self.number = QLabel(format_safety_number(digits))
        self.number.setObjectName("safetyNumber")
        self.number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.number.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.number.setAccessibleName("Safety number")
        self.qr = QLabel()
        self.qr.setPixmap(qr_pixmap(f"caucus-safety:{digits}", 200, self.devicePixelRatioF()))
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setAccessibleName("Safety number QR code")
        their = muted_label(f"{member.name}: {_short(member.fingerprint)}")
        mine = muted_label(f"You: {_short(my_fingerprint)}")
        their.setAccessibleName("Member fingerprint")
        mine.setAccessibleName("Your fingerprint")

        self.state = QLabel()
        self.state.setAccessibleName("Verification state")
        self.state.setWordWrap(True)
        self.mark = primary_button("Mark as verified")
        self.mark.clicked.connect(self._mark)
        self.unmark = QPushButton("Clear verification")
        self.unmark.setAccessibleName("Clear verification")
        self.unmark.clicked.connect(self._unmark)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.unmark)
        row.addStretch(1)
        row.addWidget(self.mark)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.number)
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(their)
        layout.addWidget(mine)
        layout.addWidget(self.state)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self._refresh()
        fit_dialog(self, 440)

    def _refresh(self) -> None:
        trust = self._store.trust(self._member)
        if trust is Trust.VERIFIED:
            self.state.setText(f"✔ You have verified {self._member.name}.")
        elif trust is Trust.CHANGED:
            self.state.setText(
                f"⚠ {self._member.name}'s safety number is not the one you verified: "
                "their key or their linked devices changed. "
                "Compare the numbers again before trusting it."
            )
        else:
            self.state.setText(f"{self._member.name} is not verified yet.")
        self.mark.setVisible(trust is not Trust.VERIFIED)  # CHANGED: verify the new number
        self.unmark.setVisible(trust is Trust.VERIFIED)

    def _mark(self) -> None:
        self._store.mark_verified(self._member)
        self._refresh()
        self.changed.emit()

    def _unmark(self) -> None:
        self._store.clear(self._member)
        self._refresh()
        self.changed.emit()


def _short(fingerprint: str) -> str:
    return " ".join(fingerprint[i : i + 4] for i in range(0, 32, 4))
