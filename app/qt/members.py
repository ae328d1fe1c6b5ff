"""The member panel of a group: who is in it, with roles and verified marks; organizers
invite, approve joins, remove and promote from here."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.core.api import (
    ApproveJoin,
    Command,
    GroupView,
    JoinRequestView,
    MemberRole,
    MemberView,
    Queries,
    RejectJoin,
    RemoveMember,
    SetMemberRole,
)
from app.qt.engine_bridge import EngineBridge
from app.qt.theme import colors
from app.qt.verification import Trust, VerificationStore
from app.qt.widgets import error_label, section_title, show_error

__all__ = ["MembersPanel", "member_line"]

Index = QModelIndex | QPersistentModelIndex

_MARK = {Trust.VERIFIED: " ✔", Trust.CHANGED: " ⚠", Trust.UNVERIFIED: ""}


def member_line(member: MemberView, trust: Trust) -> str:
    """How a member reads in the list: name, "(you)", role, verified or changed mark."""
    you = " (you)" if member.is_me else ""
    mark = "" if member.is_me else _MARK[trust]
    return f"{member.name}{you}{mark}\n{member.role}"


class TwoLineDelegate(QStyledItemDelegate):
    """Paints an item's text as a title line and a smaller, muted second line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(option.rect.width(), fm.height() * 2 + 10)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        c = colors()
        rect: QRect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        title, _, detail = str(index.data() or "").partition("\n")
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.accent))
            painter.drawRoundedRect(rect.adjusted(0, 1, 0, -1), 6, 6)
        font = QFont(option.font)
        fm = QFontMetrics(font)
        inner = rect.adjusted(8, 4, -8, -4)
        painter.setFont(font)
        painter.setPen(QColor(c.accent_text if selected else c.text))
        line = QRect(inner.left(), inner.top(), inner.width(), fm.height())
        painter.drawText(
            line,
            int(Qt.AlignmentFlag.AlignLeft),
            fm.elidedText(title, Qt.TextElideMode.ElideRight, inner.width()),
        )
        small = QFont(font)
        small.setPointSizeF(max(font.pointSizeF() * 0.85, 6.0))
        painter.setFont(small)
        painter.setPen(QColor(c.accent_text if selected else c.muted))
        line = QRect(inner.left(), inner.top() + fm.height(), inner.width(), fm.height())
        painter.drawText(
            line,
            int(Qt.AlignmentFlag.AlignLeft),
            QFontMetrics(small).elidedText(detail, Qt.TextElideMode.ElideRight, inner.width()),
        )
        painter.restore()


class MembersPanel(QWidget):
    """Shows one group's roster and pending join requests."""

    invite_requested = Signal()
    verify_requested = Signal(object)  # MemberView

    def __init__(
        self,
        reader: Queries,
        bridge: EngineBridge,
        store: VerificationStore,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("membersPanel")
        self.setAccessibleName("Members")
        self._reader = reader
        self._bridge = bridge
        self._store = store
        self._group: GroupView | None = None
        self._members: list[MemberView] = []

        self.title = section_title("Members")
        self.warning = QLabel()
        self.warning.setObjectName("warningBanner")
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName("Key change warning")
        self.warning.hide()
        self.list = QListWidget()
        self.list.setAccessibleName("Member list")
        self.list.setItemDelegate(TwoLineDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.list.itemActivated.connect(lambda _item: self._verify())

        self.verify = QPushButton("Verify…")
        self.verify.setAccessibleName("Verify member's key")
        self.verify.clicked.connect(self._verify)
        self.promote = QPushButton("Make organizer")
        self.promote.setAccessibleName("Change member's role")
        self.promote.clicked.connect(self._confirm_role)
        self.remove = QPushButton("Remove")
        self.remove.setAccessibleName("Remove member")
        self.remove.clicked.connect(self._confirm_remove)
        self.invite = QPushButton("Invite…")
        self.invite.setAccessibleName("Invite someone")
        self.invite.clicked.connect(self.invite_requested)

        self.requests_title = section_title("Waiting for approval")
        self.requests = QListWidget()
        self.requests.setAccessibleName("Join requests")
        self.requests.setItemDelegate(TwoLineDelegate(self.requests))
        self.requests.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.requests.setMaximumHeight(110)
        self.approve = QPushButton("Approve")
        self.approve.setAccessibleName("Approve join request")
        self.approve.clicked.connect(lambda: self._decide(True))
        self.reject = QPushButton("Reject")
        self.reject.setAccessibleName("Reject join request")
        self.reject.clicked.connect(lambda: self._decide(False))
        self.error = error_label()

        actions = QGridLayout()
        actions.setSpacing(4)
        actions.addWidget(self.verify, 0, 0)
        actions.addWidget(self.remove, 0, 1)
        actions.addWidget(self.promote, 1, 0)
        actions.addWidget(self.invite, 1, 1)
        request_actions = QHBoxLayout()
        request_actions.addWidget(self.approve)
        request_actions.addWidget(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.warning)
        layout.addWidget(self.list, 1)
        layout.addLayout(actions)
        layout.addWidget(self.requests_title)
        layout.addWidget(self.requests)
        layout.addLayout(request_actions)
        layout.addWidget(self.error)
        self.setMinimumWidth(240)
        self.set_group(None)

    # -- content ----------------------------------------------------------------------

    @property
    def is_organizer(self) -> bool:
        return self._group is not None and self._group.my_role == "organizer"

    def set_group(self, group: GroupView | None) -> None:
        self._group = group
        self.refresh()

    def refresh(self) -> None:
        """Re-read roster and requests (after GroupChanged or JoinRequested)."""
        group = self._group
        selected = self._selected()
        self.list.clear()
        self._members = []
        if group is None:
            self.title.setText("MEMBERS")
            self._show_requests([])
            self._update_buttons()
            return
        self._members = self._reader.members(group.group_id) if group.status == "active" else []
        self.title.setText(f"MEMBERS ({len(self._members)})")
        changed = []
        for member in self._members:
            trust = self._store.trust(member)
            if trust is Trust.CHANGED:
                changed.append(member.name)
            item = QListWidgetItem(member_line(member, trust))
            item.setData(Qt.ItemDataRole.UserRole, member)
            item.setData(
                Qt.ItemDataRole.AccessibleTextRole, member_line(member, trust).replace("\n", ", ")
            )
            if trust is Trust.VERIFIED:
                item.setToolTip("You verified this member's safety number.")
            elif trust is Trust.CHANGED:
                item.setToolTip(
                    "This member's safety number changed since you verified them "
                    "(a new key or a linked device)."
                )
            self.list.addItem(item)
            if selected is not None and member.identity_pk == selected.identity_pk:
                self.list.setCurrentItem(item)
        if changed:
            self.warning.setText(
                "⚠ The safety number of " + ", ".join(changed) + " changed since you "
                "verified it (a new key or a linked device). "
                "Compare safety numbers again before sharing anything sensitive."
            )
        self.warning.setVisible(bool(changed))
        pending = []
        if self.is_organizer:
            pending = [
                r for r in self._reader.join_requests(group.group_id) if r.status == "pending"
            ]
        self._show_requests(pending)
        self._update_buttons()

    def _show_requests(self, pending: list[JoinRequestView]) -> None:
        self.requests.clear()
        for request in pending:
            item = QListWidgetItem(f"{request.name}\n{request.fingerprint[:16]}…")
            item.setData(Qt.ItemDataRole.UserRole, request)
            self.requests.addItem(item)
        if pending:
            self.requests.setCurrentRow(0)
        for widget in (self.requests_title, self.requests, self.approve, self.reject):
            widget.setVisible(bool(pending))

    def _selected(self) -> MemberView | None:
        item = self.list.currentItem()
        if item is None:
            return None
        member: MemberView = item.data(Qt.ItemDataRole.UserRole)
        return member

    def select_member(self, name: str) -> bool:
        for row in range(self.list.count()):
            member: MemberView = self.list.item(row).data(Qt.ItemDataRole.UserRole)
            if member.name == name:
                self.list.setCurrentRow(row)
                return True
        return False

    def _update_buttons(self) -> None:
        member = self._selected()
        other = member is not None and not member.is_me
        organizer = self.is_organizer
        self.verify.setEnabled(other)
        self.promote.setVisible(organizer)
        self.remove.setVisible(organizer)
        self.invite.setVisible(organizer)
        self.promote.setEnabled(other)
        self.remove.setEnabled(other)
        if member is not None and member.role == "organizer":
            self.promote.setText("Make member")
        else:
            self.promote.setText("Make organizer")

    # -- actions ----------------------------------------------------------------------

    def _verify(self) -> None:
        member = self._selected()
        if member is not None and not member.is_me:
            self.verify_requested.emit(member)

    def _confirm_role(self) -> None:
        """A role change is asked about first: an organizer can add and remove members,
        change roles and publish documents, and demoting takes all of that away."""
        member, group = self._selected(), self._group
        if member is None or group is None:
            return
        promoting = member.role != "organizer"
        if promoting:
            title, action = "Make organizer", "Make organizer"
            text = (
                f"Make {member.name} an organizer of {group.name}? Organizers can invite, "
                "admit and remove members, change roles and publish documents."
            )
        else:
            title, action = "Make member", "Make member"
            text = (
                f"Make {member.name} a regular member of {group.name}? They will no longer "
                "be able to invite, remove members or change roles."
            )
        box = QMessageBox(
            QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, self
        )
        confirm = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        role = MemberRole.ORGANIZER if promoting else MemberRole.MEMBER
        command = SetMemberRole(group.group_id, member.fingerprint, role)
        box.buttonClicked.connect(lambda button: self._run(command) if button is confirm else None)
        box.open()
        self.confirmation = box

    def _confirm_remove(self) -> None:
        member, group = self._selected(), self._group
        if member is None or group is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Remove member",
            f"Remove {member.name} from {group.name}? They will not be able to read "
            "anything sent afterwards.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        command = RemoveMember(group.group_id, member.fingerprint)
        box.buttonClicked.connect(lambda button: self._run(command) if button is remove else None)
        box.open()
        self.confirmation = box

    def _decide(self, approve: bool) -> None:
        item = self.requests.currentItem()
        if item is None:
            return
        request: JoinRequestView = item.data(Qt.ItemDataRole.UserRole)
        request_id = request.request_id
        self._run(ApproveJoin(request_id) if approve else RejectJoin(request_id))

    def _run(self, command: Command[None]) -> None:
        show_error(self.error, None)
        self.setEnabled(False)

        def done(_result: object) -> None:
            self.setEnabled(True)
            self.refresh()

        def failed(error: Exception) -> None:
            self.setEnabled(True)
            show_error(self.error, error)
            self.refresh()

        self._bridge.submit(command, done, failed)
