"""A progress bar with Cancel for sending or saving attached files (issue #12): shown
above the chat while a transfer runs. The engine reports progress on its own thread;
the bar's signal carries it to the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.core.api import Transfer, TransferProgress
from app.qt.dialogs.publish import human_size

__all__ = ["TransferBar"]


class TransferBar(QFrame):
    """One transfer at a time: what, how far, and a Cancel button."""

    _progressed = Signal(object)  # TransferProgress, emitted on the engine thread

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transferBar")
        self.setAccessibleName("File transfer")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 6, 4)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.bar.setAccessibleName("Progress")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the transfer")
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.label)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self._progressed.connect(self._show)
        self.transfer: Transfer | None = None
        self._verb = ""
        self.hide()

    def start(self, verb: str, what: str) -> Transfer:
        """Show the bar for a new transfer ("Sending", "rota.pdf"); its ``Transfer``
        goes with the command to the engine."""
        self._verb = verb
        self.transfer = Transfer(self._progressed.emit)
        self.label.setText(f"{verb} {what}…")
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        self.show()
        return self.transfer

    def _show(self, step: TransferProgress) -> None:
        if self.transfer is None or self.transfer.cancelled:
            return
        self.bar.setValue(int(step.fraction * 1000))
        self.label.setText(
            f"{self._verb} {step.name} · {human_size(step.done)} of {human_size(step.total)}"
        )

    def cancel(self) -> None:
        if self.transfer is not None:
            self.transfer.cancel()
            self.label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def finish(self, transfer: Transfer) -> None:
        """The transfer ended (done, failed or cancelled): hide, unless a newer one runs."""
        if transfer is self.transfer:
            self.transfer = None
            self.hide()
