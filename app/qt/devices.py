"""Your devices: list them, link a new computer (a code and a QR code), remove one
(docs/protocol.md section 8). Every action is a typed command run by the engine."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.api import DeviceView, LinkDevice, ListDevices, RemoveDevice
from app.qt.engine_bridge import EngineBridge
from app.qt.qr import qr_pixmap
from app.qt.widgets import error_label, muted_label, primary_button, show_error

__all__ = ["DevicesDialog", "device_label"]

_WIDTH = 480
_QR = 196


def device_label(view: DeviceView) -> str:
    """Two lines of the list: the name, then the id and what it is."""
    notes = [view.device_id]
    if view.is_identity:
        notes.append("holds your identity key")
    if view.is_this_device:
        notes.append("this computer")
    return f"{view.name}\n{' · '.join(notes)}"


class DevicesDialog(QDialog):
    """Lists this member's devices; links a new one; removes a linked one."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Your devices")
        self._bridge = bridge
        self._views: list[DeviceView] = []

        self.list = QListWidget()
        self.list.setAccessibleName("Your devices")
        self.list.setWordWrap(True)
        self.list.setMaximumHeight(150)
        self.list.currentRowChanged.connect(self._selection_changed)
        self.remove_button = QPushButton("Remove device")
        self.remove_button.setAccessibleName("Remove the selected device")
        self.remove_button.setEnabled(False)
        self.remove_button.clicked.connect(self._remove)
        self.link_button = primary_button("Link a new device")
        self.link_button.setAccessibleName("Link a new computer to your profile")
        self.link_button.clicked.connect(self._link)
        self.error = error_label()
        self.status = muted_label("")

        self.code = QLineEdit()
        self.code.setReadOnly(True)
        self.code.setAccessibleName("Link code")
        self.code.setPlaceholderText("The link code appears here")
        self.copy = QPushButton("Copy")
        self.copy.setAccessibleName("Copy link code")
        self.copy.setEnabled(False)
        self.copy.clicked.connect(self._copy)
        self.qr = QLabel()
        self.qr.setAccessibleName("Link QR code")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setFixedSize(_QR, _QR)
        self.qr.setVisible(False)
        self.hint = muted_label(
            "On the new computer, install Caucus, choose “Link to your account on another "
            "computer” and paste this code (or run: caucus device add CODE). The code "
            "works once, for 10 minutes; while Caucus runs here, this computer answers "
            "within a few seconds and gives the new one your groups, history and ballot "
            "key. Anyone holding the code can link a computer: show it only to yourself."
        )

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        actions = QHBoxLayout()
        actions.addWidget(self.remove_button)
        actions.addStretch(1)
        actions.addWidget(self.link_button)
        code_row = QHBoxLayout()
        code_row.addWidget(self.code, 1)
        code_row.addWidget(self.copy)

        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(actions)
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        layout.addLayout(code_row)
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)
        self.resize(_WIDTH, 420)
        self.refresh()

    # -- listing ------------------------------------------------------------------------

    def refresh(self) -> None:
        self._bridge.submit(ListDevices(), self.show_devices, self._failed)

    def show_devices(self, views: list[DeviceView]) -> None:
        """Fill the list (also used by the screenshot tool)."""
        self._views = list(views)
        self.list.clear()
        for view in self._views:
            item = QListWidgetItem(device_label(view))
            item.setData(Qt.ItemDataRole.UserRole, view.device_id)
            self.list.addItem(item)
        self._selection_changed(self.list.currentRow())

    def devices(self) -> list[DeviceView]:
        """The devices listed, in list order."""
        return list(self._views)

    def _selection_changed(self, row: int) -> None:
        view = self._views[row] if 0 <= row < len(self._views) else None
        removable = view is not None and not view.is_identity and not view.is_this_device
        self.remove_button.setEnabled(removable)

    # -- linking ------------------------------------------------------------------------

    def _link(self) -> None:
        self.link_button.setEnabled(False)
        self.link_button.setText("Creating…")
        show_error(self.error, None)
        self._bridge.submit(LinkDevice(), self.show_code, self._link_failed)

    def show_code(self, code: str) -> None:
        """Display a link code and its QR code (also used by the screenshot tool)."""
        self.link_button.setText("Link another")
        self.link_button.setEnabled(True)
        self.code.setText(code)
        self.code.setCursorPosition(0)
        self.copy.setEnabled(True)
        self.qr.setPixmap(qr_pixmap(code, _QR, self.devicePixelRatioF()))
        self.qr.setVisible(True)
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))

    def _link_failed(self, error: Exception) -> None:
        self.link_button.setText("Link a new device")
        self.link_button.setEnabled(True)
        show_error(self.error, error)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code.text())
        self.copy.setText("Copied")

    # -- removing -----------------------------------------------------------------------

    def _remove(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self._views):
            return
        view = self._views[row]
        self.remove_button.setEnabled(False)
        show_error(self.error, None)
        self.status.setText(f"Removing {view.name}…")
        self._bridge.submit(RemoveDevice(view.device_id), self._removed, self._failed)

    def _removed(self, groups: int) -> None:
        where = "1 group" if groups == 1 else f"{groups} groups"
        self.status.setText(f"Removed from {where}: it reads nothing sent from now on.")
        self.refresh()

    def _failed(self, error: Exception) -> None:
        self.status.setText("")
        show_error(self.error, error)
