"""The message list: a QListView that keeps to the bottom like a chat and reads older
pages when its top comes into sight, keeping the reader's place while rows are added."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QPointF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QMouseEvent, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QMenu,
    QMessageBox,
    QToolButton,
    QWidget,
)

from app.qt.message_delegate import MessageDelegate
from app.qt.message_model import MessageModel
from app.qt.rich_text import SpanKind

__all__ = ["QUICK_REACTIONS", "ChatView"]

_NEAR_BOTTOM_PX = 24
QUICK_REACTIONS = ("👍", "❤️", "😂", "😮", "✊", "🎉")


class ChatView(QListView):
    """Shows a ``MessageModel`` with ``MessageDelegate`` bubbles."""

    retry_requested = Signal(int)
    panel_requested = Signal(str)  # "ballots" or "documents": an event line was clicked
    reply_requested = Signal(object)  # MessageView
    edit_requested = Signal(object)  # MessageView (ours)
    delete_requested = Signal(object)  # MessageView (ours)
    save_requested = Signal(object, int)  # MessageView, which attached file
    react_requested = Signal(object, str)  # MessageView, emoji (a second time takes it back)
    pin_requested = Signal(object, bool)  # MessageView, pin (True) or unpin (organizers)
    frame_painted = Signal()  # after each paint of the viewport (the benchmark listens)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Messages")
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformItemSizes(False)
        self.setWordWrap(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.verticalScrollBar().setSingleStep(24)
        self.clicked.connect(self._clicked)
        self._delegate = MessageDelegate(self)
        self._delegate.retry_requested.connect(self.retry_requested)
        self._delegate.link_clicked.connect(self.confirm_open)
        self.opener: Callable[[QUrl], bool] = QDesktopServices.openUrl  # tests record it
        self.viewport().setMouseTracking(True)  # a pointing hand over links
        self.link_dialog: QMessageBox | None = None  # the last one opened (tests look)
        self.setItemDelegate(self._delegate)
        self._stick_to_bottom = True
        self.context_menu: QMenu | None = None
        self.can_pin = False  # organizers pin (app/qt/chat_extras.py keeps these current)
        self.pinned_ids: frozenset[bytes] = frozenset()
        self._keep_from_bottom: int | None = None
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._range_changed)
        # Shown while the reader is away from the bottom: one click back to the newest
        # message, with the count of those that arrived meanwhile.
        self._unseen = 0
        self.jump_button = QToolButton(self.viewport())
        self.jump_button.setObjectName("jumpToLatest")
        self.jump_button.setAccessibleName("Jump to latest message")
        self.jump_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump_button.clicked.connect(self.follow_latest)
        self._update_jump_button()

    # -- model wiring -----------------------------------------------------------------

    def set_message_model(self, model: MessageModel) -> None:
        self.setModel(model)
        model.set_fetch_gate(self._top_in_sight)
        model.rowsAboutToBeInserted.connect(self._before_insert)
        model.modelReset.connect(self._after_reset)

    def message_model(self) -> MessageModel | None:
        model = self.model()
        return model if isinstance(model, MessageModel) else None

    def _top_in_sight(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.maximum() == 0 or bar.value() <= self.viewport().height()

    def _at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - _NEAR_BOTTOM_PX

    def _before_insert(self, _parent: QModelIndex, first: int, last: int) -> None:
        bar = self.verticalScrollBar()
        if first == 0 and self.model().rowCount() > 0:
            # Older rows go in above: keep the same distance from the bottom.
            self._keep_from_bottom = bar.maximum() - bar.value()
        else:
            self._stick_to_bottom = self._at_bottom()
            if not self._stick_to_bottom:
                self._unseen += last - first + 1
                self._update_jump_button()

    def follow_latest(self) -> None:
        """Scroll to the newest message and keep following new ones (after sending, or
        from the jump button)."""
        self._stick_to_bottom = True
        self._keep_from_bottom = None
        self._unseen = 0
        self.scrollToBottom()
        self._update_jump_button()

    def _update_jump_button(self) -> None:
        away = not self._at_bottom() and self.verticalScrollBar().maximum() > 0
        if not away:
            self._unseen = 0
        self.jump_button.setText(f"↓ {self._unseen} new" if self._unseen else "↓ Latest")
        self.jump_button.adjustSize()
        self._place_jump_button()
        self.jump_button.setVisible(away)

    def _place_jump_button(self) -> None:
        margin = 12
        size = self.jump_button.sizeHint()
        self.jump_button.resize(size)
        self.jump_button.move(
            self.viewport().width() - size.width() - margin,
            self.viewport().height() - size.height() - margin,
        )

    def _after_reset(self) -> None:
        """A channel was opened: at its "New messages" line if it has one (the reader
        starts where they left off), else at the newest message."""
        model = self.message_model()
        divider = model.first_unread() if model is not None else QModelIndex()
        self._stick_to_bottom = not divider.isValid()
        self._keep_from_bottom = None
        self._unseen = 0
        QTimer.singleShot(0, self._show_start)

    def _show_start(self) -> None:
        model = self.message_model()
        divider = model.first_unread() if model is not None else QModelIndex()
        if divider.isValid() and not self._stick_to_bottom:
            self.scrollTo(divider, QAbstractItemView.ScrollHint.PositionAtTop)
            self._update_jump_button()
        else:
            self.scrollToBottom()

    def _range_changed(self, _low: int, high: int) -> None:
        bar = self.verticalScrollBar()
        if self._keep_from_bottom is not None:
            bar.setValue(high - self._keep_from_bottom)
            self._keep_from_bottom = None
        elif self._stick_to_bottom:
            bar.setValue(high)

    def _scrolled(self, value: int) -> None:
        self._stick_to_bottom = self._at_bottom()
        self._update_jump_button()
        model = self.message_model()
        if model is not None and value <= self.viewport().height():
            root = QModelIndex()
            if model.canFetchMore(root):
                QTimer.singleShot(0, lambda: self._fetch_older(model))

    def _fetch_older(self, model: MessageModel) -> None:
        if self.model() is model and model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())

    def scroll_to_row_id(self, row_id: int) -> bool:
        """Bring a message into view (loading older pages if needed) and select it."""
        model = self.message_model()
        if model is None:
            return False
        index = model.ensure_loaded(row_id)
        if not index.isValid():
            return False
        self._stick_to_bottom = False
        self.setCurrentIndex(index)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def _clicked(self, index: QModelIndex) -> None:
        model = self.message_model()
        message = model.message_at(index.row()) if model is not None else None
        if message is not None and message.kind == "event" and message.opens:
            self.panel_requested.emit(message.opens)

    def set_member_names(self, names: list[str]) -> None:
        """Highlight "@Name" for these members."""
        self._delegate.set_names(tuple(names))
        self.viewport().update()
        self.scheduleDelayedItemsLayout()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        pos = event.position().toPoint()
        index = self.indexAt(pos)
        span = (
            self._delegate.span_at(index, QPointF(pos - self.visualRect(index).topLeft()))
            if index.isValid()
            else None
        )
        if span is not None and span.kind is SpanKind.LINK:
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.viewport().unsetCursor()

    def confirm_open(self, url: str) -> None:
        """A link in a message was clicked: show the whole address first, since the text
        around it may claim to be something else; only "Open" hands it to the browser."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Open link",
            f"Open this address?\n\n{url}",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_button = box.addButton("Open", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.opener(QUrl(url)) if button is open_button else None
        )
        self.link_dialog = box
        box.open()

    # -- painting and menus -----------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        self.frame_painted.emit()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._delegate.forget_layouts()
        super().changeEvent(event)

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        at_bottom = self._at_bottom()
        super().resizeEvent(event)
        if at_bottom:
            self._stick_to_bottom = True
        self._place_jump_button()

    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        model = self.message_model()
        if not index.isValid() or model is None:
            return
        message = model.message_at(index.row())
        if message is None:
            return
        menu = QMenu(self)
        if message.kind == "text" and not message.deleted and message.message_id is not None:
            reply = QAction("Reply", menu)
            reply.triggered.connect(lambda: self.reply_requested.emit(message))
            menu.addAction(reply)
            react = menu.addMenu("React")
            for emoji in QUICK_REACTIONS:
                action = QAction(emoji, react)  # the window takes back one already given
                action.triggered.connect(
                    lambda _c=False, e=emoji: self.react_requested.emit(message, e)
                )
                react.addAction(action)
            if self.can_pin:
                pinned = message.message_id in self.pinned_ids
                pin = QAction("Unpin" if pinned else "Pin", menu)
                pin.triggered.connect(lambda: self.pin_requested.emit(message, not pinned))
                menu.addAction(pin)
            if message.is_mine:
                edit = QAction("Edit", menu)
                edit.triggered.connect(lambda: self.edit_requested.emit(message))
                menu.addAction(edit)
                delete = QAction("Delete for everyone…", menu)
                delete.triggered.connect(lambda: self.delete_requested.emit(message))
                menu.addAction(delete)
            menu.addSeparator()
        if not message.deleted and message.message_id is not None:
            for position, attachment in enumerate(message.attachments):
                save = QAction(f"Save “{attachment.name}”…", menu)
                save.triggered.connect(
                    lambda _c=False, i=position: self.save_requested.emit(message, i)
                )
                menu.addAction(save)
        copy = QAction("Copy text", menu)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(message.text))
        menu.addAction(copy)
        if message.is_mine and message.status == "failed":
            retry = QAction("Retry sending", menu)
            retry.triggered.connect(lambda: self.retry_requested.emit(message.row_id))
            menu.addAction(retry)
        self.context_menu = menu  # the last one opened (tests look)
        menu.popup(self.viewport().mapToGlobal(pos))
