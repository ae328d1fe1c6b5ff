"""The unlocked workspace: groups and channels on the left, the conversation in the
middle, members on the right; menus, shortcuts and the connection indicator.

It reads through the GUI's own read-only connection and writes only through the engine
bridge; engine events keep it current (coalesced, so a catch-up of thousands of messages
costs a few refreshes, not thousands).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.api import (
    DEFAULT_CHANNEL,
    ChannelView,
    ClientError,
    DeleteMessage,
    EditMessage,
    GroupView,
    LeaveGroup,
    MarkRead,
    MemberView,
    MessageView,
    NotFound,
    Queries,
    React,
    RelayError,
    RelayUnavailable,
    RenameGroup,
    ReplyTo,
    RetryMessage,
    SaveAttachmentTracked,
    SendFilesTracked,
    SendHeld,
    SendText,
    SetMuted,
    TransferCancelled,
)
from app.core.events import (
    ConnectionChanged,
    ConnectionState,
    Event,
    GroupChanged,
    GroupJoined,
    IntegrityWarning,
    JoinRequested,
    MessageAdded,
    MessageChanged,
    MessageStatusChanged,
    RemovedFromGroup,
)
from app.qt.chat_extras import ChatExtras, ElidedLabel
from app.qt.chat_view import ChatView
from app.qt.composer import Composer
from app.qt.devices import DevicesDialog
from app.qt.dialogs.create import NewChannelDialog, NewGroupDialog
from app.qt.dialogs.group_info import GroupInfoDialog
from app.qt.dialogs.invite import InviteDialog
from app.qt.dialogs.join import JoinDialog
from app.qt.dialogs.quick_switcher import QuickSwitcher
from app.qt.dialogs.search import SearchDialog
from app.qt.dialogs.verify import VerifyDialog
from app.qt.engine_bridge import EngineBridge
from app.qt.group_list import GroupDelegate, GroupListModel
from app.qt.group_tabs import GroupTabs
from app.qt.image_preview import Thumbnails
from app.qt.members import MembersPanel
from app.qt.message_model import MessageModel
from app.qt.responsive import NarrowLayout
from app.qt.rich_text import find_mentions
from app.qt.theme import app_icon
from app.qt.transfer_bar import TransferBar
from app.qt.verification import VerificationStore
from app.qt.widgets import human_error, muted_label, section_title

__all__ = ["MainWindow", "connection_text"]

_NOTIFICATION_TEXT = 120  # characters of a message shown in a notification


def _shortened(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _NOTIFICATION_TEXT else line[: _NOTIFICATION_TEXT - 1] + "…"


_STATE_TEXT = {
    ConnectionState.ONLINE: "Online",
    ConnectionState.RECONNECTING: "Reconnecting…",
    ConnectionState.OFFLINE: "Offline — messages wait in the outbox",
}
_NOTIFY_EVERY_S = 5.0


def connection_text(state: ConnectionState | None) -> str:
    return "Connecting…" if state is None else _STATE_TEXT[state]


class MainWindow(QMainWindow):
    """One unlocked session's window; destroyed when the app locks."""

    lock_requested = Signal()
    change_passphrase_requested = Signal()
    settings_requested = Signal()
    backups_requested = Signal()
    quit_requested = Signal()
    notify = Signal(str, str)  # title, body: the controller shows it in the tray

    def __init__(
        self,
        reader: Queries,
        bridge: EngineBridge,
        store: VerificationStore,
        profile_name: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Caucus")
        self.setWindowIcon(app_icon())
        self.reader = reader
        self.bridge = bridge
        self.store = store
        self.profile_name = profile_name
        self._group: GroupView | None = None
        self._channel_id: bytes = DEFAULT_CHANNEL
        self._channel_by_group: dict[bytes, bytes] = {}
        self._connection: dict[str, ConnectionState] = {}
        self._dirty_groups: set[bytes] = set()  # unread counts to re-read
        self._changed_groups: set[bytes] = set()  # roster, roles or channels changed too
        self._incoming: list[MessageView] = []  # for the open channel, added in bursts
        self._groups_reset = False
        self._unnotified = 0
        self._last_notify = 0.0
        self._last_sender: tuple[str, bytes] = ("", b"")
        self._mentioned_by: tuple[str, bytes] | None = None  # since the last notification
        self.dialog: QWidget | None = None  # the dialog most recently opened (tests look)
        self.last_saved: Path | None = None  # the attached file saved last (tests look)
        self._discarded = False
        self._asking_to_join: dict[bytes, bool] = {}  # groups whose request is in the bar
        self._last_text = ""
        self.show_message_text = False  # Settings: message text in notifications

        self._build()
        self._build_menus()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(40)
        self._refresh_timer.timeout.connect(self._apply_refresh)
        self._notify_timer = QTimer(self)
        self._notify_timer.setSingleShot(True)
        self._notify_timer.timeout.connect(self._flush_notification)
        for signal in (
            self.group_model.dataChanged,
            self.group_model.rowsInserted,
            self.group_model.rowsRemoved,
            self.group_model.modelReset,
        ):
            signal.connect(self._update_title)
        self.reload_groups()
        self.resize(1180, 760)

    # -- construction -----------------------------------------------------------------

    def _build(self) -> None:
        self.group_model = GroupListModel(self)
        self.group_list = QListView()
        self.group_list.setModel(self.group_model)
        self.group_list.setItemDelegate(GroupDelegate(self.group_list))
        self.group_list.setAccessibleName("Groups")
        self.group_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.group_list.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self._group_row_selected(current.row())
        )
        self.channel_list = QListWidget()
        self.channel_list.setAccessibleName("Channels")
        self.channel_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.channel_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.channel_list.currentItemChanged.connect(self._channel_item_selected)
        self.new_channel = QPushButton("New channel…")
        self.new_channel.setAccessibleName("New channel")
        self.new_channel.clicked.connect(self.open_new_channel_dialog)
        self.no_groups = muted_label(
            "No groups yet. Create one (Ctrl+N) or join with an invite code (Ctrl+J)."
        )
        self.no_groups.setAccessibleName("No groups")

        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(6, 6, 6, 8)
        side.setSpacing(4)
        side.addWidget(section_title("Groups"))
        side.addWidget(self.group_list, 3)
        side.addWidget(self.no_groups)
        self.new_group_button = QPushButton("New group…")
        self.new_group_button.setAccessibleName("New group")
        self.new_group_button.clicked.connect(self.open_new_group_dialog)
        self.join_button = QPushButton("Join…")
        self.join_button.setAccessibleName("Join a group")
        self.join_button.clicked.connect(lambda: self.open_join_dialog())
        group_buttons = QHBoxLayout()
        group_buttons.setSpacing(4)
        group_buttons.addWidget(self.new_group_button)
        group_buttons.addWidget(self.join_button)
        side.addLayout(group_buttons)
        side.addSpacing(6)
        side.addWidget(section_title("Channels"))
        side.addWidget(self.channel_list, 2)
        side.addWidget(self.new_channel)
        sidebar.setMinimumWidth(170)

        self.title = QLabel("")
        self.title.setObjectName("chatTitle")
        self.title.setAccessibleName("Conversation title")
        self.subtitle = muted_label("")
        self.subtitle.setAccessibleName("Conversation details")
        self.members_toggle = QPushButton("Members")
        self.members_toggle.setCheckable(True)
        self.members_toggle.setChecked(True)
        self.members_toggle.setAccessibleName("Show members")
        header = QWidget()
        header.setObjectName("chatHeader")
        header_row = QHBoxLayout(header)
        header_row.setContentsMargins(14, 8, 10, 8)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        self.description = ElidedLabel("")  # the group's description (organizers set it)
        self.description.setObjectName("muted")
        self.description.setAccessibleName("Group description")
        self.description.hide()
        titles.addWidget(self.description)
        header_row.addLayout(titles, 1)
        header_row.addWidget(self.members_toggle)

        self.banner = QLabel()
        self.banner.setObjectName("warningBanner")
        self.banner.setWordWrap(True)
        self.banner.setAccessibleName("Notice")
        self.banner.hide()

        self.message_model = MessageModel(self)
        self.thumbnails = Thumbnails(self.bridge, self)  # attached pictures, in memory
        self.message_model.thumbnail = self.thumbnails.image_for
        self.thumbnails.ready.connect(self.message_model.thumbnail_ready)
        self.chat = ChatView()
        self.chat.set_message_model(self.message_model)
        self.chat.retry_requested.connect(self.retry)
        self.chat.panel_requested.connect(self._open_panel)
        self.chat.delete_requested.connect(self.confirm_delete)
        self.chat.react_requested.connect(self.react)
        self.chat.save_requested.connect(self.choose_save_path)
        self.composer = Composer()
        self.composer.send_requested.connect(self.send)
        self.chat.reply_requested.connect(self.composer.reply_to)
        self.chat.edit_requested.connect(self.composer.start_edit)

        center = QWidget()
        middle = QVBoxLayout(center)
        middle.setContentsMargins(0, 0, 0, 0)
        middle.setSpacing(0)
        middle.addWidget(header)
        banner_box = QVBoxLayout()
        banner_box.setContentsMargins(10, 6, 10, 0)
        banner_box.addWidget(self.banner)
        self.extras = ChatExtras(
            self.reader, self.bridge, self.chat, self.show_row, self._status_note, self
        )
        banner_box.addWidget(self.extras.held_banner)
        banner_box.addWidget(self.extras.pins_bar)
        self.transfer_bar = TransferBar()  # sending or saving files: progress and Cancel
        banner_box.addWidget(self.transfer_bar)
        middle.addLayout(banner_box)
        self.tabs = GroupTabs(self.reader, self.bridge, self.chat, self.composer)
        self.tabs.open_group.connect(self.select_group)  # a case's own chat
        self.channel_list.itemClicked.connect(lambda _item: self.tabs.show_chat())
        middle.addWidget(self.tabs, 1)

        self.members = MembersPanel(self.reader, self.bridge, self.store)
        self.members.invite_requested.connect(self.open_invite_dialog)
        self.members.verify_requested.connect(self.open_verify_dialog)
        self.members_toggle.toggled.connect(self.members.setVisible)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(sidebar)
        splitter.addWidget(center)
        splitter.addWidget(self.members)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 0)
        splitter.setSizes([230, 700, 260])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)
        self.narrow_layout = NarrowLayout(self, self.members_toggle)

        self.connection_dot = QLabel("●")
        self.connection_dot.setObjectName("statusDot")
        self.connection_dot.setAccessibleName("Connection indicator")
        self.connection_label = QLabel(connection_text(None))
        self.connection_label.setAccessibleName("Connection status")
        self.identity_label = QLabel(f"{self.profile_name} · {self.reader.fingerprint[:16]}")
        self.identity_label.setAccessibleName("Your name and fingerprint")
        bar = self.statusBar()
        bar.addWidget(self.connection_dot)
        bar.addWidget(self.connection_label)
        bar.addPermanentWidget(self.identity_label)
        self._show_connection()

    def _action(self, text: str, shortcut: str | QKeySequence.StandardKey | None, slot) -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&Caucus")
        self.new_group_action = self._action("New group…", "Ctrl+N", self.open_new_group_dialog)
        self.join_action = self._action("Join a group…", "Ctrl+J", lambda: self.open_join_dialog())
        self.switch_action = self._action("Go to…", "Ctrl+K", self.open_quick_switcher)
        self.search_action = self._action("Search messages…", "Ctrl+F", self.open_search)
        self.settings_action = self._action("Settings…", None, self.settings_requested)
        self.backups_action = self._action("Backups…", None, self.backups_requested)
        self.passphrase_action = self._action(
            "Change passphrase…", None, self.change_passphrase_requested
        )
        self.devices_action = self._action("Your devices…", None, self.open_devices_dialog)
        self.lock_action = self._action("Lock", "Ctrl+L", self.lock_requested)
        self.quit_action = self._action("Quit", "Ctrl+Q", self.quit_requested)
        for action in (
            self.new_group_action,
            self.join_action,
            self.switch_action,
            self.search_action,
        ):
            menu.addAction(action)
        menu.addSeparator()
        for action in (
            self.settings_action,
            self.devices_action,
            self.backups_action,
            self.passphrase_action,
            self.lock_action,
        ):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.quit_action)

        group_menu = self.menuBar().addMenu("&Group")
        self.invite_action = self._action("Invite…", "Ctrl+I", self.open_invite_dialog)
        self.channel_action = self._action("New channel…", None, self.open_new_channel_dialog)
        self.members_action = self._action("Members", "Ctrl+M", self.members_toggle.toggle)
        self.mute_action = self._action("Mute notifications", None, self._toggle_mute)
        self.mute_action.setCheckable(True)
        self.rename_action = self._action("Rename group…", None, self.open_rename_dialog)
        self.info_action = self._action("Group info…", None, self.open_group_info)
        self.leave_action = self._action("Leave group…", None, self.confirm_leave)
        self.attach_action = self._action("Send files…", None, self.choose_files)
        for action in (
            self.attach_action,
            self.invite_action,
            self.channel_action,
            self.members_action,
            self.rename_action,
            self.info_action,
        ):
            group_menu.addAction(action)
        group_menu.addSeparator()
        group_menu.addAction(self.mute_action)
        group_menu.addSeparator()
        group_menu.addAction(self.leave_action)

    # -- groups and channels ----------------------------------------------------------

    def reload_groups(self) -> None:
        """Read every group again (after unlocking, or joining one)."""
        current = self._group.group_id if self._group else None
        self.reader.forget()
        groups = self.reader.groups()
        self.group_model.set_groups(groups)
        self.no_groups.setVisible(not groups)
        if groups:
            wanted = (
                current if current is not None and self.group_model.row_of(current) >= 0 else None
            )
            self.select_group(wanted or groups[0].group_id)
        else:
            self._set_group(None)

    def select_group(self, group_id: bytes) -> bool:
        row = self.group_model.row_of(group_id)
        if row < 0:
            return False
        index = self.group_model.index(row)
        self.group_list.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        if self._group is None or self._group.group_id != group_id:
            self._group_row_selected(row)
        return True

    def _group_row_selected(self, row: int) -> None:
        group = self.group_model.group_at(row)
        if group is not None and (self._group is None or self._group.group_id != group.group_id):
            self._set_group(group)

    def _set_group(self, group: GroupView | None) -> None:
        self._group = group
        self.banner.hide()
        self._share_member_names()
        self.members.set_group(group)
        self.tabs.set_group(group)
        self._fill_channels()
        self._update_group_actions()
        self.extras.set_group(group)

    def _share_member_names(self) -> None:
        """Mentions: the chat highlights "@Name" of members, the composer offers them."""
        group = self._group
        members = (
            self.reader.members(group.group_id)
            if group is not None and group.status == "active"
            else []
        )
        self.chat.set_member_names([m.name for m in members])
        self.composer.set_member_names([m.name for m in members if not m.is_me])

    def _fill_channels(self) -> None:
        group = self._group
        self.channel_list.blockSignals(True)
        self.channel_list.clear()
        wanted = (
            self._channel_by_group.get(group.group_id, DEFAULT_CHANNEL)
            if group
            else DEFAULT_CHANNEL
        )
        chosen = DEFAULT_CHANNEL
        if group is not None:
            for channel in group.channels:
                item = QListWidgetItem(_channel_text(channel))
                item.setData(Qt.ItemDataRole.UserRole, channel)
                if channel.announce_only:
                    item.setToolTip("Announcements: only organizers can post here.")
                self.channel_list.addItem(item)
                if channel.channel_id == wanted:
                    self.channel_list.setCurrentItem(item)
                    chosen = wanted
            if self.channel_list.currentItem() is None and self.channel_list.count():
                self.channel_list.setCurrentRow(0)
        self.channel_list.blockSignals(False)
        self._show_channel(chosen)

    def _channel_item_selected(self, item: QListWidgetItem | None, _previous: object) -> None:
        if item is not None:
            channel: ChannelView = item.data(Qt.ItemDataRole.UserRole)
            self._show_channel(channel.channel_id)

    def select_channel(self, channel_id: bytes) -> bool:
        self.tabs.show_chat()
        for row in range(self.channel_list.count()):
            channel: ChannelView = self.channel_list.item(row).data(Qt.ItemDataRole.UserRole)
            if channel.channel_id == channel_id:
                self.channel_list.setCurrentRow(row)
                return True
        return False

    def _show_channel(self, channel_id: bytes) -> None:
        group = self._group
        same = (
            group is not None
            and self.message_model.group_id == group.group_id
            and self.message_model.channel_id == channel_id
        )
        self._channel_id = channel_id
        if group is not None:
            self._channel_by_group[group.group_id] = channel_id
        if not same:
            self.message_model.set_source(
                self.reader,
                group.group_id if group else None,
                channel_id,
                read_upto=group.read_upto if group and group.unread else None,
            )
        self._update_header()
        self._mark_read()

    def _current_channel(self) -> ChannelView | None:
        if self._group is None:
            return None
        for channel in self._group.channels:
            if channel.channel_id == self._channel_id:
                return channel
        return None

    def _update_header(self) -> None:
        group, channel = self._group, self._current_channel()
        if group is None:
            self.title.setText("Caucus")
            self.subtitle.setText("")
            self.description.hide()
            self.composer.set_writable(False, "Create or join a group to start talking.")
            return
        name = channel.name if channel else "general"
        self.title.setText(f"{group.name}  \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}  #{name}")
        details = [f"{group.member_count} member{'s' if group.member_count != 1 else ''}"]
        if channel is not None and channel.announce_only:
            details.append("announcements: only organizers post")
        details.append("end-to-end encrypted")
        self.subtitle.setText(" · ".join(details))
        first_line = group.description.split("\n", 1)[0]
        self.description.setText(first_line)
        self.description.setToolTip(group.description)
        self.description.setVisible(bool(group.description))
        if group.status != "active":
            self.composer.set_writable(False, "You are no longer a member of this group.")
        elif channel is not None and channel.announce_only and group.my_role != "organizer":
            self.composer.set_writable(False, "Only organizers can post in this channel.")
        else:
            self.composer.set_writable(True)

    def _update_group_actions(self) -> None:
        group = self._group
        organizer = group is not None and group.my_role == "organizer" and group.status == "active"
        self.invite_action.setEnabled(organizer)
        self.channel_action.setEnabled(organizer)
        self.new_channel.setVisible(organizer)
        self.mute_action.setEnabled(group is not None)
        self.mute_action.setChecked(group is not None and group.muted)
        self.rename_action.setEnabled(organizer)
        self.info_action.setEnabled(group is not None)
        self.leave_action.setEnabled(group is not None and group.status == "active")

    def open_rename_dialog(self) -> None:
        group = self._group
        if group is None:
            return
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Rename group")
        dialog.setLabelText("New name for the group (every member sees it):")
        dialog.setTextValue(group.name)
        group_id = group.group_id

        def chosen(name: str) -> None:
            if name.strip() and name != group.name:
                self.bridge.submit(
                    RenameGroup(group_id, name.strip()),
                    lambda _r: self._queue_refresh(group_id, changed=True),
                    lambda error: self.show_banner(human_error(error)),
                )

        dialog.textValueSelected.connect(chosen)
        self._open(dialog)

    def confirm_leave(self) -> None:
        group = self._group
        if group is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Leave group",
            f"Leave {group.name}? You will not read anything sent there afterwards, and "
            "only a new invite brings you back. The messages you have stay on this computer.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        leave = box.addButton("Leave", QMessageBox.ButtonRole.DestructiveRole)
        group_id = group.group_id
        box.buttonClicked.connect(
            lambda button: (
                self.bridge.submit(
                    LeaveGroup(group_id),
                    lambda _r: self._queue_refresh(group_id, changed=True),
                    lambda error: self.show_banner(human_error(error)),
                )
                if button is leave
                else None
            )
        )
        self._open(box)

    def _toggle_mute(self) -> None:
        group = self._group
        if group is None:
            return
        muted = self.mute_action.isChecked()
        group_id = group.group_id
        self.bridge.submit(
            SetMuted(group_id, muted),
            lambda _r: self._queue_refresh(group_id, changed=True),
            lambda error: self.statusBar().showMessage(human_error(error), 10000),
        )

    def current_group(self) -> GroupView | None:
        return self._group

    def current_channel_id(self) -> bytes:
        return self._channel_id

    # -- reading state ----------------------------------------------------------------

    def _is_muted(self, group_id: bytes) -> bool:
        group = self.group_model.group_at(self.group_model.row_of(group_id))
        return group is not None and group.muted

    def _update_title(self) -> None:
        """The title is "(5) Caucus" while 5 messages wait unread in groups that are not
        muted: what the taskbar and the window switcher show of a background window."""
        unread = sum(group.unread for group in self.group_model.groups() if not group.muted)
        self.setWindowTitle(f"({unread}) Caucus" if unread else "Caucus")

    def _mark_read(self) -> None:
        group = self._group
        if group is None or not group.unread or (not self.isActiveWindow() and self.isVisible()):
            return
        group_id = group.group_id
        self.bridge.submit(MarkRead(group_id), lambda _r: self._queue_refresh(group_id))

    # -- engine events ----------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Apply one engine event (already on the GUI thread)."""
        if self._discarded:
            return
        self.extras.on_event(event)
        if isinstance(event, MessageAdded):
            self._message_added(event.message)
        elif isinstance(event, MessageChanged):
            self._flush_incoming()
            self.message_model.refresh(event.row_id)
        elif isinstance(event, MessageStatusChanged):
            self._flush_incoming()  # the message itself may still wait in the burst
            self.message_model.set_status(event.row_id, event.status)
        elif isinstance(event, GroupChanged | GroupJoined):
            self._queue_refresh(event.group_id, changed=True)
            if isinstance(event, GroupJoined):
                self.statusBar().showMessage(
                    f"Created {event.name}. Invite people from the Group menu (Ctrl+I)."
                    if event.created
                    else f"You joined {event.name}.",
                    10000,
                )
                if (
                    not event.created
                    and isinstance(self.dialog, JoinDialog)
                    and self.dialog.waiting
                ):
                    self.dialog.admitted(event.name)
            elif self._asking_to_join.get(event.group_id) and not any(
                request.status == "pending" for request in self.reader.join_requests(event.group_id)
            ):
                # Every request shown in the status bar was decided: stop asking.
                self._asking_to_join.pop(event.group_id, None)
                self.statusBar().clearMessage()
        elif isinstance(event, RemovedFromGroup):
            self._queue_refresh(event.group_id, changed=True)
            self.notify.emit("Caucus", "You were removed from a group.")
        elif isinstance(event, JoinRequested):
            self._queue_refresh(event.group_id, changed=True)
            self._asking_to_join[event.group_id] = True
            self.statusBar().showMessage(f"{event.name} asks to join.", 15000)
            if not self.isActiveWindow():
                self.notify.emit("Join request", f"{event.name} asks to join.")
        elif isinstance(event, IntegrityWarning):
            if event.group_id is None or (self._group and event.group_id == self._group.group_id):
                self.show_banner(f"⚠ {event.detail}")
        elif isinstance(event, ConnectionChanged):
            self._connection[event.relay_url] = event.state
            self._show_connection()

    def _message_added(self, message: MessageView) -> None:
        if message.kind == "hidden":  # an edit, deletion or reaction: MessageChanged says
            return
        if message.row_id > 0 and message.group_id == self.message_model.group_id:
            self._incoming.append(message)
        self._queue_refresh(message.group_id)
        if message.is_mine or message.opens == "members":  # a line about the group: no news
            return
        # A mention of us gets through a mute: someone asks this person in particular.
        mentioned = message.kind == "text" and bool(
            find_mentions(message.text, [self.profile_name])
        )
        if self._is_muted(message.group_id) and not mentioned:
            return
        if not self.isActiveWindow():
            self._unnotified += 1
            if mentioned:
                self._mentioned_by = (message.sender_name, message.group_id)
            if not self._notify_timer.isActive():
                wait = max(0.0, _NOTIFY_EVERY_S - (time.monotonic() - self._last_notify))
                self._notify_timer.start(int(wait * 1000))
            self._last_sender = (message.sender_name, message.group_id)
            self._last_text = message.text

    def _group_name(self, group_id: bytes) -> str:
        group = self.group_model.group_at(self.group_model.row_of(group_id))
        return group.name if group else "a group"

    def _flush_notification(self) -> None:
        if not self._unnotified:
            return
        name, group_id = self._last_sender
        where = self._group_name(group_id)
        mentioned, self._mentioned_by = self._mentioned_by, None
        # Who and where; the text only if the person asked for it (Settings), since
        # notifications show on lock screens.
        if self._unnotified == 1:
            text = _shortened(self._last_text) if self.show_message_text else "New message"
            title = f"{name} mentioned you in {where}" if mentioned else f"{name} in {where}"
            self.notify.emit(title, text)
        else:
            body = (
                f"{mentioned[0]} mentioned you in {self._group_name(mentioned[1])}"
                if mentioned
                else f"Latest from {name} in {where}"
            )
            self.notify.emit(f"Caucus: {self._unnotified} new messages", body)
        self._unnotified = 0
        self._last_notify = time.monotonic()

    def _flush_incoming(self) -> None:
        incoming, self._incoming = self._incoming, []
        if incoming:
            self.message_model.add_many(incoming)

    def _queue_refresh(self, group_id: bytes, *, changed: bool = False) -> None:
        """Re-read a group soon (coalesced); ``changed`` for roster/channel changes."""
        self._dirty_groups.add(group_id)
        if changed:
            self._changed_groups.add(group_id)
        self._refresh_timer.start()

    def _apply_refresh(self) -> None:
        if self._discarded:
            return
        self._flush_incoming()
        dirty, self._dirty_groups = self._dirty_groups, set()
        changed, self._changed_groups = self._changed_groups, set()
        current = self._group.group_id if self._group else None
        for group_id in dirty:
            if group_id in changed:
                self.reader.forget(group_id)  # the stored group state moved on
            try:
                group = self.reader.group(group_id)
            except ClientError:  # not (yet) stored: a later event brings it
                continue
            self.group_model.upsert(group)
            if group_id == current:
                self._group = group
                if group_id in changed:
                    self._fill_channels()
                    self._share_member_names()
                    self.members.set_group(group)
                    self.tabs.set_group(group)
                    self._update_group_actions()
                    self.extras.set_group(group)
        self.no_groups.setVisible(self.group_model.rowCount() == 0)
        if current is None and self.group_model.rowCount():
            first = self.group_model.group_at(0)
            if first is not None:
                self.select_group(first.group_id)
        if current is not None and current in dirty and self._group and self._group.unread:
            self._mark_read()

    def _show_connection(self) -> None:
        states = set(self._connection.values())
        state: ConnectionState | None = None
        for candidate in (
            ConnectionState.OFFLINE,
            ConnectionState.RECONNECTING,
            ConnectionState.ONLINE,
        ):
            if candidate in states:
                state = candidate
                break
        self.connection_label.setText(connection_text(state))
        self.connection_dot.setProperty("state", state.value if state else "reconnecting")
        self.connection_dot.style().unpolish(self.connection_dot)
        self.connection_dot.style().polish(self.connection_dot)

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.show()

    # -- sending ----------------------------------------------------------------------

    def send(self, text: str) -> None:
        group = self._group
        if group is None:
            return
        command: SendText | ReplyTo | EditMessage = SendText(group.group_id, text, self._channel_id)
        replying, editing = self.composer.replying_to, self.composer.editing
        if editing is not None and editing.message_id is not None:
            command = EditMessage(group.group_id, editing.message_id, text)
        elif replying is not None and replying.message_id is not None:
            command = ReplyTo(group.group_id, replying.message_id, text)

        def failed(error: Exception) -> None:
            if isinstance(error, SendHeld):
                # Stored and queued, held until an organizer's client confirms the group
                # or the person says "Send anyway" (app/qt/chat_extras.py).
                self.extras.held(error)
                return
            if isinstance(error, RelayError):
                # Stored and queued: it shows "Waiting to send" and goes out later.
                self.statusBar().showMessage(
                    "The server cannot be reached; the message goes out as soon as it can.", 10000
                )
                return
            if not self.composer.edit.toPlainText():
                self.composer.edit.setPlainText(text)
            self.show_banner(human_error(error))

        self.composer.clear()
        self.chat.follow_latest()  # your own message comes into view, as in any chat
        self.bridge.submit(command, None, failed)

    def _report(self, error: Exception) -> None:
        """A failed conversation action: queued ones go out later, others are shown."""
        if not isinstance(error, RelayError):
            self.show_banner(human_error(error))

    def react(self, message: MessageView, emoji: str) -> None:
        """A quick reaction from the menu; choosing one already given takes it back."""
        group = self._group
        if group is None or message.message_id is None:
            return
        mine = any(e == emoji and self.profile_name in names for e, names in message.reactions)
        command = React(group.group_id, message.message_id, emoji, on=not mine)
        self.bridge.submit(command, None, self._report)

    def confirm_delete(self, message: MessageView) -> None:
        group = self._group
        if group is None or message.message_id is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Delete for everyone",
            "Delete this message for everyone? Every member's Caucus removes its text; "
            "they will see that a message was deleted.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        command = DeleteMessage(group.group_id, message.message_id)
        box.buttonClicked.connect(
            lambda button: (
                self.bridge.submit(command, None, self._report) if button is delete else None
            )
        )
        self._open(box)

    def choose_files(self) -> None:
        """Ask for up to 8 files; they go out with the composer's text as one message."""
        if self._group is None:
            return
        dialog = QFileDialog(self, "Send files")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(lambda paths: self.send_files([Path(p) for p in paths]))
        self._open(dialog)

    def send_files(self, paths: list[Path]) -> None:
        group = self._group
        if group is None or not paths:
            return
        text = self.composer.edit.toPlainText()
        what = paths[0].name if len(paths) == 1 else f"{len(paths)} files"
        transfer = self.transfer_bar.start("Sending", what)
        command = SendFilesTracked(
            group.group_id, tuple(paths), text, self._channel_id, transfer=transfer
        )

        def failed(error: Exception) -> None:
            self.transfer_bar.finish(transfer)
            if isinstance(error, TransferCancelled):
                self.statusBar().showMessage("Cancelled; nothing was sent.", 10000)
                return
            if isinstance(error, RelayUnavailable):  # uploaded; the message is queued
                self.statusBar().showMessage(
                    "The server cannot be reached; the message goes out as soon as it can.", 10000
                )
                return
            self.show_banner(human_error(error))

        def sent(_view: object) -> None:
            self.transfer_bar.finish(transfer)
            if self.composer.edit.toPlainText() == text:
                self.composer.clear()
            self.chat.follow_latest()

        self.bridge.submit(command, sent, failed)

    def choose_save_path(self, message: MessageView, index: int) -> None:
        if message.message_id is None or not 0 <= index < len(message.attachments):
            return
        dialog = QFileDialog(self, "Save file")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)  # asks before replacing
        dialog.selectFile(message.attachments[index].name)
        dialog.fileSelected.connect(lambda path: self.save_attachment(message, index, Path(path)))
        self._open(dialog)

    def save_attachment(self, message: MessageView, index: int, out: Path) -> None:
        group = self._group
        if group is None or message.message_id is None:
            return
        transfer = self.transfer_bar.start("Saving", message.attachments[index].name)
        command = SaveAttachmentTracked(
            group.group_id, message.message_id, out, index, transfer=transfer
        )

        def done(path: Path) -> None:
            self.transfer_bar.finish(transfer)
            self.last_saved = path
            self.statusBar().showMessage(f"Saved {path.name} in {path.parent}", 10000)

        def failed(error: Exception) -> None:
            self.transfer_bar.finish(transfer)
            if isinstance(error, TransferCancelled):
                self.statusBar().showMessage("Cancelled; nothing was saved.", 10000)
                return
            self.show_banner(human_error(error))

        self.bridge.submit(command, done, failed)

    def _open_panel(self, name: str) -> None:
        """A ballot or document line in the chat was clicked: show its panel (a line about
        the group shows the members, a pin line the pinned messages)."""
        if name == "members":
            self.members_toggle.setChecked(True)
            return
        if name == "pins":
            self.extras.pins_bar.show_current()
            return
        panel = {"ballots": self.tabs.ballots, "documents": self.tabs.documents}.get(name)
        if panel is not None:
            self.tabs.setCurrentWidget(panel)

    def retry(self, row_id: int) -> None:
        self.bridge.submit(
            RetryMessage(row_id),
            None,
            lambda error: self.statusBar().showMessage(human_error(error), 10000),
        )

    # -- dialogs ----------------------------------------------------------------------

    def _open(self, dialog: QWidget) -> None:
        self.dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()  # type: ignore[attr-defined]

    def open_devices_dialog(self) -> None:
        self._open(DevicesDialog(self.bridge, self))

    def open_new_group_dialog(self) -> None:
        dialog = NewGroupDialog(self.bridge, self)
        self._open(dialog)

    def open_group_info(self) -> None:
        if self._group is not None:
            self._open(GroupInfoDialog(self.bridge, self._group, self))

    def open_new_channel_dialog(self) -> None:
        if self._group is not None:
            self._open(NewChannelDialog(self.bridge, self._group.group_id, self))

    def open_join_dialog(self, code: str = "") -> None:
        self._open(JoinDialog(self.bridge, code, self))

    def open_invite_dialog(self) -> None:
        if self._group is not None and self._group.my_role == "organizer":
            relay_url = self.reader.profile().relay_url
            self._open(
                InviteDialog(
                    self.bridge,
                    self._group,
                    self,
                    relay_url=relay_url,
                    inviter=self.profile_name,
                )
            )

    def open_verify_dialog(self, member: MemberView) -> None:
        digits = None
        if self._group is not None:  # the number covers both members' devices
            digits = self.reader.member_safety_number(self._group.group_id, member.fingerprint)
        dialog = VerifyDialog(
            member, self.reader.me, self.reader.fingerprint, self.store, self, digits=digits
        )
        dialog.changed.connect(self.members.refresh)
        self._open(dialog)

    def open_quick_switcher(self) -> None:
        dialog = QuickSwitcher(self.group_model.groups(), self)
        dialog.chosen.connect(self._go_to)
        self._open(dialog)

    def _go_to(self, group_id: bytes, channel_id: bytes) -> None:
        self.select_group(group_id)
        self.select_channel(channel_id)

    def open_search(self) -> None:
        names = {g.group_id: g.name for g in self.group_model.groups()}
        dialog = SearchDialog(self.reader, names, self)
        dialog.chosen.connect(self.show_message)
        self._open(dialog)

    def show_row(self, row_id: int) -> None:
        """Bring a message of the open group into view (a pinned one, from the bar)."""
        try:
            message = self.reader.message(row_id)
        except NotFound:
            return
        self.show_message(message)

    def _status_note(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    def show_message(self, message: MessageView) -> None:
        self.select_group(message.group_id)
        self.select_channel(message.channel_id)
        self.chat.scroll_to_row_id(message.row_id)

    # -- window -----------------------------------------------------------------------

    def changeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().changeEvent(event)
        if self.isActiveWindow() and not self._discarded:
            self._mark_read()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._discarded:
            self.quit_requested.emit()
        event.accept()

    def discard(self) -> None:
        """Forget the session (locking): no more reads, timers or events."""
        self._discarded = True
        self._refresh_timer.stop()
        self._notify_timer.stop()
        self.message_model.set_source(None, None)


def _channel_text(channel: ChannelView) -> str:
    return f"# {channel.name}"
