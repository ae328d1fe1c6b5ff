"""What sits above the chat besides the header (issue #12): the pinned-messages bar and
the "sending is held" banner with its "Send anyway" button, and the glue that keeps
them in step with the open group. ``MainWindow`` creates one ``ChatExtras`` and tells
it when the group changes and which engine events arrive; nothing else here reaches into
the window but its chat, its bridge, its reader and its status bar."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from app.core.api import (
    GroupView,
    MessageView,
    PinMessage,
    PinView,
    Queries,
    SendAnyway,
    SendHeld,
)
from app.core.events import Event, IntegrityWarning, MessageAdded, MessageChanged
from app.qt.chat_view import ChatView
from app.qt.engine_bridge import EngineBridge
from app.qt.widgets import human_error

__all__ = ["ChatExtras", "ElidedLabel", "HeldBanner", "PinsBar", "pin_line"]

_PIN_TEXT_CHARS = 90


def pin_line(pin: PinView) -> str:
    """One line for a pinned message: who wrote it and the start of its text."""
    text = " ".join(pin.text.split()) or "(files)"
    if len(text) > _PIN_TEXT_CHARS:
        text = text[: _PIN_TEXT_CHARS - 1].rstrip() + "…"
    return f"{pin.sender_name}: {text}"


class ElidedLabel(QLabel):
    """One line of plain text that ends in "…" when it does not fit (``text()`` stays
    the full text)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = text
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setMinimumWidth(40)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()

    def text(self) -> str:
        return self._full

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, self.width())
        super().setText(shown)

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        self._elide()


class PinsBar(QFrame):
    """The group's pinned messages, one at a time like Signal and Telegram show them:
    clicking the bar brings the shown one into view and moves on to the next."""

    message_requested = Signal(int)  # the row id of the pinned message to show

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pinsBar")
        self.setAccessibleName("Pinned messages")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 6, 4)
        row.setSpacing(8)
        self.title = QLabel("")
        self.title.setObjectName("pinsTitle")
        self.text = ElidedLabel("")
        self.text.setObjectName("pinsText")
        self.next_button = QToolButton()
        self.next_button.setText("Show")
        self.next_button.setAccessibleName("Show the pinned message")
        self.next_button.clicked.connect(self.show_current)
        row.addWidget(self.title)
        row.addWidget(self.text, 1)
        row.addWidget(self.next_button)
        self.pins: list[PinView] = []
        self.current = 0
        self.hide()

    def set_pins(self, pins: list[PinView]) -> None:
        """Show these pins (newest pinned first); hidden when there are none."""
        shown = self.pins[self.current].message_id if self.pins else None
        self.pins = list(reversed(pins))
        ids = [p.message_id for p in self.pins]
        self.current = ids.index(shown) if shown in ids else 0
        self._update()

    def _update(self) -> None:
        if not self.pins:
            self.hide()
            return
        pin = self.pins[self.current]
        count = len(self.pins)
        self.title.setText("Pinned" if count == 1 else f"Pinned {self.current + 1}/{count}")
        self.text.setText(pin_line(pin))
        self.setToolTip(f"Pinned by {pin.pinned_by}. Click to show the message.")
        self.show()

    def show_current(self) -> None:
        """Bring the shown pin's message into view; the bar moves on to the next pin."""
        if not self.pins:
            return
        self.message_requested.emit(self.pins[self.current].row_id)
        self.current = (self.current + 1) % len(self.pins)
        self._update()

    def mouseReleaseEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.button() == Qt.MouseButton.LeftButton:
            self.show_current()
        super().mouseReleaseEvent(event)


class HeldBanner(QFrame):
    """Shown while sending to the group is held (docs/protocol.md 7.8): what it means in
    plain words, and a "Send anyway" button that asks before overriding."""

    send_anyway = Signal()

    EXPLANATION = (
        "Your messages to this group are waiting. Caucus has not heard from an organizer "
        "recently, so it cannot be sure the server is showing you the group as it is now "
        "(for example, that nobody was removed). They go out by themselves once an "
        "organizer's app is heard from."
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heldBanner")
        self.setAccessibleName("Sending is held")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 8, 6)
        self.text = QLabel(self.EXPLANATION)
        self.text.setWordWrap(True)
        self.button = QPushButton("Send anyway…")
        self.button.setAccessibleName("Send anyway")
        self.button.clicked.connect(self.confirm)
        row.addWidget(self.text, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.dialog: QMessageBox | None = None  # the last confirmation opened (tests look)
        self.hide()

    def confirm(self) -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Send anyway?")
        box.setText("Send the waiting messages without confirmation?")
        box.setInformativeText(
            "If the server is hiding a change to the group from you, someone who was "
            "removed might still read these messages. Send anyway only if you know the "
            "group is as you see it, or the messages are not sensitive."
        )
        send = box.addButton("Send anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def chosen() -> None:
            if box.clickedButton() is send:
                self.send_anyway.emit()

        box.finished.connect(lambda _result: chosen())
        self.dialog = box
        box.open()


class ChatExtras(QObject):
    """Keeps the pins bar, the held banner and the chat's Pin/Unpin menu in step with
    the open group."""

    def __init__(
        self,
        reader: Queries,
        bridge: EngineBridge,
        chat: ChatView,
        show_message: Callable[[int], None],
        report: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._reader = reader
        self._bridge = bridge
        self._chat = chat
        self._show_message = show_message
        self._report = report
        self._group: GroupView | None = None
        self.pins_bar = PinsBar()
        self.pins_bar.message_requested.connect(self._show_message)
        self.held_banner = HeldBanner()
        self.held_banner.send_anyway.connect(self.send_anyway)
        chat.pin_requested.connect(self.pin)

    # -- the open group ---------------------------------------------------------------

    def set_group(self, group: GroupView | None) -> None:
        changed = group is None or self._group is None or group.group_id != self._group.group_id
        self._group = group
        if changed:
            self.held_banner.hide()
        organizer = group is not None and group.my_role == "organizer" and group.status == "active"
        self._chat.can_pin = organizer
        self.refresh_pins()

    def refresh_pins(self) -> None:
        group = self._group
        pins = self._reader.pinned(group.group_id) if group is not None else []
        self._chat.pinned_ids = frozenset(p.message_id for p in pins)
        self.pins_bar.set_pins(pins)

    def on_event(self, event: Event) -> None:
        group = self._group
        if group is None:
            return
        if isinstance(event, MessageChanged | MessageAdded):
            message_group = (
                event.group_id if isinstance(event, MessageChanged) else event.message.group_id
            )
            if message_group == group.group_id:
                self.refresh_pins()
        elif (
            isinstance(event, IntegrityWarning)
            and event.kind == "unconfirmed"
            and event.group_id == group.group_id
        ):
            self.held_banner.show()

    def held(self, error: SendHeld) -> None:
        """A send of ours to the open group was held (``SendHeld``)."""
        self.held_banner.show()

    # -- actions ----------------------------------------------------------------------

    def pin(self, message: MessageView, on: bool) -> None:
        group = self._group
        if group is None or message.message_id is None:
            return
        self._bridge.submit(
            PinMessage(group.group_id, message.message_id, on),
            lambda _none: self.refresh_pins(),
            lambda error: self._report(human_error(error)),
        )

    def send_anyway(self) -> None:
        group = self._group
        if group is None:
            return
        self.held_banner.hide()

        def done(sent: int) -> None:
            self._report(f"Sent {sent} waiting message{'s' if sent != 1 else ''}.")

        def failed(error: Exception) -> None:
            if isinstance(error, SendHeld):
                self.held_banner.show()
            self._report(human_error(error))

        self._bridge.submit(SendAnyway(group.group_id), done, failed)
