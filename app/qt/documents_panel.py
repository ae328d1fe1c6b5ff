"""A group's signed documents: the list with each one's verification badge, the chosen
document's details and version history, open / export / "I have read it", and for
organizers publishing and who has read what.

Documents are read through ``DocumentService`` on the engine thread (it needs the
engine's live group state; it is quick, a few database reads), and every long step —
publishing 100 MB, downloading before opening — runs there too, with a busy bar here.
The panel re-reads itself on the engine's events for its group, coalesced, and only while
it is visible.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    QStandardPaths,
    Qt,
    QUrl,
)
from PySide6.QtGui import QColor, QDesktopServices, QFont, QFontMetrics, QPainter, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.core.api import (
    AcknowledgeDocument,
    Command,
    DocumentVersionView,
    DocumentView,
    ExportDocument,
    ExportedDocument,
    GroupView,
    ListDocuments,
    PublishDocument,
    Transfer,
)
from app.core.events import Event
from app.qt.dialogs.publish import PublishDialog, PublishRequest, human_size
from app.qt.engine_bridge import EngineBridge
from app.qt.lazy_refresh import LazyRefresh, concerns_documents
from app.qt.theme import colors
from app.qt.transfer_bar import TransferBar
from app.qt.widgets import error_label, muted_label, primary_button, section_title, show_error

__all__ = ["DocumentsPanel", "badge_style", "badge_text"]

Index = QModelIndex | QPersistentModelIndex
_REFRESH_MS = 150
_DOC_ROLE = Qt.ItemDataRole.UserRole
_VERSION_ROLE = Qt.ItemDataRole.UserRole + 1


def badge_text(version: DocumentVersionView) -> str:
    """The verification verdict as people read it, with a mark that is not only colour."""
    if version.trusted:
        return f"✔ {version.trust[:1].upper()}{version.trust[1:]}"
    return f"✖ {version.trust[:1].upper()}{version.trust[1:]}"


def badge_style(trusted: bool) -> str:
    """A tinted pill: green for verified, red for anything that is not."""
    c = colors()
    tone = QColor(c.ok if trusted else c.danger)
    fill = f"rgba({tone.red()}, {tone.green()}, {tone.blue()}, 30)"
    return (
        f"QLabel {{ color: {tone.name()}; background: {fill}; border: 1px solid {tone.name()};"
        " border-radius: 6px; padding: 3px 8px; font-weight: bold; }"
    )


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def _fit_rows(widget: QListWidget, most: int) -> None:
    """Make a short list exactly as tall as its rows (up to ``most``, then it scrolls), so
    two versions do not sit in a box sized for ten."""
    rows = min(widget.count(), most)
    height = sum(max(widget.sizeHintForRow(r), 1) for r in range(rows)) or 24
    widget.setFixedHeight(height + 2 * widget.frameWidth() + 4)


class _DocumentDelegate(QStyledItemDelegate):
    """Title, "v2 · file · size", and the verdict in green or red, for one document."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(option.rect.width(), fm.height() * 3 + 16)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        doc: DocumentView | None = index.data(_DOC_ROLE)
        if doc is None:
            return
        c = colors()
        rect: QRect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(c.accent))
            painter.drawRoundedRect(rect.adjusted(2, 1, -2, -1), 6, 6)
        inner = rect.adjusted(10, 6, -10, -6)
        font = QFont(option.font)
        fm = QFontMetrics(font)
        bold = QFont(font)
        bold.setBold(True)
        small = QFont(font)
        small.setPointSizeF(max(font.pointSizeF() * 0.88, 6.0))
        lines: list[tuple[QFont, str, str]] = [
            (bold, doc.title, c.accent_text if selected else c.text),
            (
                small,
                f"v{doc.version} · {doc.filename} · {human_size(doc.size)}",
                c.accent_text if selected else c.muted,
            ),
            (
                small,
                badge_text(doc.current),
                c.accent_text if selected else (c.ok if doc.trusted else c.danger),
            ),
        ]
        top = inner.top()
        for line_font, text, colour in lines:
            metrics = QFontMetrics(line_font)
            painter.setFont(line_font)
            painter.setPen(QColor(colour))
            painter.drawText(
                QRect(inner.left(), top, inner.width(), fm.height()),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                metrics.elidedText(text, Qt.TextElideMode.ElideRight, inner.width()),
            )
            top += fm.height() + 2
        painter.setPen(QColor(c.separator))
        painter.drawLine(rect.left() + 8, rect.bottom(), rect.right() - 8, rect.bottom())
        painter.restore()


class DocumentsPanel(QWidget):
    """One group's documents; ``set_group`` switches the group."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentsPanel")
        self.setAccessibleName("Documents")
        self._bridge = bridge
        self._group: GroupView | None = None
        self._documents: list[DocumentView] = []
        self._busy: dict[int, str] = {}
        self._next_job = 0
        self._open_dir = tempfile.TemporaryDirectory(prefix="caucus-open-")
        # Decrypted copies opened for reading go with the panel (locking, quitting).
        self.destroyed.connect(lambda _obj=None, folder=self._open_dir: folder.cleanup())
        self.opener: Callable[[QUrl], bool] = QDesktopServices.openUrl
        self.dialog: QWidget | None = None  # the last dialog opened (tests look)
        self.confirmation: QMessageBox | None = None
        self.last_export: ExportedDocument | None = None
        self.last_opened: Path | None = None

        self._lazy = LazyRefresh(self, self.refresh, _REFRESH_MS)
        bridge.engine_event.connect(self.on_event)
        self._build()
        self.set_group(None)

    # -- construction -----------------------------------------------------------------

    def _build(self) -> None:
        self.title = section_title("Documents")
        self.publish_button = primary_button("Publish…")
        self.publish_button.setAccessibleName("Publish a document")
        self.publish_button.clicked.connect(lambda: self.open_publish_dialog())
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.publish_button)

        self.list = QListWidget()
        self.list.setAccessibleName("Document list")
        self.list.setItemDelegate(_DocumentDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentRowChanged.connect(lambda _row: self._show_selected())
        self.empty = muted_label("")
        self.empty.setAccessibleName("No documents")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        left = QWidget()
        left.setMinimumWidth(180)
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addWidget(self.list, 1)
        left_box.addWidget(self.empty)

        self.doc_title = QLabel()
        self.doc_title.setObjectName("chatTitle")
        self.doc_title.setWordWrap(True)
        self.doc_title.setAccessibleName("Document title")
        self.badge = QLabel()
        self.badge.setWordWrap(True)
        self.badge.setAccessibleName("Verification")
        self.meta = muted_label("")
        self.meta.setAccessibleName("Document details")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Publisher's note")
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.digest = muted_label("")
        self.digest.setAccessibleName("SHA-256 of the file")
        self.digest.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.open_button = QPushButton("Open")
        self.open_button.setAccessibleName("Open the document")
        self.open_button.clicked.connect(self.open_selected)
        self.export_button = QPushButton("Export…")
        self.export_button.setAccessibleName("Export the file with its signature")
        self.export_button.setToolTip(
            "Saves the file, its minisign signature (.minisig) and the signer's public "
            "key (.pub), so anyone can check it with minisign."
        )
        self.export_button.clicked.connect(self.choose_export_folder)
        self.ack_button = QPushButton("I have read it")
        self.ack_button.setAccessibleName("Acknowledge: I have read this version")
        self.ack_button.clicked.connect(self.acknowledge)
        self.version_button = QPushButton("New version…")
        self.version_button.setAccessibleName("Publish a new version")
        self.version_button.clicked.connect(self._publish_new_version)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        for button in (self.open_button, self.export_button, self.ack_button):
            actions.addWidget(button)
        actions.addStretch(1)

        self.history_title = section_title("Version history")
        self.history = QListWidget()
        self.history.setAccessibleName("Version history")
        self.history.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history.currentRowChanged.connect(lambda _row: self._show_version())
        self.acks_title = section_title("Read by")
        self.acks = QListWidget()
        self.acks.setAccessibleName("Members who have read this version")

        self.details = QWidget()
        self.details.setObjectName("documentDetails")
        right = QVBoxLayout(self.details)
        right.setContentsMargins(14, 4, 6, 4)
        right.setSpacing(6)
        right.addWidget(self.doc_title)
        right.addWidget(self.badge)
        right.addWidget(self.meta)
        right.addWidget(self.note)
        right.addWidget(self.digest)
        right.addLayout(actions)
        history_row = QHBoxLayout()
        history_row.addWidget(self.history_title, 1)
        history_row.addWidget(self.version_button)
        right.addLayout(history_row)
        right.addWidget(self.history)
        right.addWidget(self.acks_title)
        right.addWidget(self.acks)
        right.addStretch(1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([260, 440])
        splitter.setChildrenCollapsible(False)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # the engine reports no fraction: a moving bar
        self.progress.setMaximumHeight(6)
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Working")
        self.status = muted_label("")
        self.status.setAccessibleName("Document status")
        self.error = error_label()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.progress)
        # Publishing, opening or exporting a large file: how far, and Cancel (#12).
        self.transfer_bar = TransferBar()
        layout.addWidget(self.transfer_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        self.progress.hide()

    # -- group and events -------------------------------------------------------------

    @property
    def is_organizer(self) -> bool:
        group = self._group
        return group is not None and group.my_role == "organizer" and group.status == "active"

    def set_group(self, group: GroupView | None) -> None:
        """Show another group (or the same one with a new role or roster)."""
        changed = (group.group_id if group else None) != (
            self._group.group_id if self._group else None
        )
        self._group = group
        self.publish_button.setVisible(self.is_organizer)
        if changed:
            self._documents = []
            self.list.clear()
            show_error(self.error, None)
            self.status.setText("")
            self._show_selected()
        self._update_empty()
        self._schedule()

    def on_event(self, event: Event) -> None:
        """Re-read after a new version or acknowledgement, or a change of roster."""
        group = self._group
        if group is not None and concerns_documents(event, group.group_id):
            self._lazy.schedule()

    def _schedule(self) -> None:
        self._lazy.schedule()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._lazy.shown()

    def refresh(self) -> None:
        """Read the group's documents on the engine thread; the list updates when done."""
        group = self._group
        if group is None or not shiboken6.isValid(self):
            return
        self._lazy.done()
        group_id = group.group_id

        def done(views: list[DocumentView]) -> None:
            if shiboken6.isValid(self) and self._group and self._group.group_id == group_id:
                self.show_documents(views)

        self._bridge.submit(ListDocuments(group_id), done, lambda _error: None)

    # -- showing ----------------------------------------------------------------------

    def show_documents(self, views: list[DocumentView]) -> None:
        """Replace the list, keeping the selected document (and version) selected."""
        selected = self.selected_document()
        version = self._selected_version()
        keep = selected.document_id if selected else None
        self._documents = list(views)
        self.list.blockSignals(True)
        self.list.clear()
        row_to_select = 0
        for row, view in enumerate(views):
            item = QListWidgetItem(view.title)
            item.setData(_DOC_ROLE, view)
            item.setData(
                Qt.ItemDataRole.AccessibleTextRole,
                f"{view.title}, version {view.version}, {view.trust}",
            )
            item.setToolTip(view.trust)
            self.list.addItem(item)
            if view.document_id == keep:
                row_to_select = row
        if views:
            self.list.setCurrentRow(row_to_select)
        self.list.blockSignals(False)
        same = keep is not None and views and views[row_to_select].document_id == keep
        # An older version someone picked stays picked; otherwise follow the current one.
        older = (
            selected is not None and version is not None and version.version != (selected.version)
        )
        self._show_selected(version.version if same and older and version else None)
        self._update_empty()

    def _update_empty(self) -> None:
        empty = not self._documents
        if self._group is None:
            text = "Choose a group to see its documents."
        elif self.is_organizer:
            text = (
                "No documents yet. Publish minutes, agreements or leaflets with "
                "Publish…: members see that you signed them."
            )
        else:
            text = "No documents yet. Organizers publish signed documents here."
        self.empty.setText(text)
        self.empty.setVisible(empty)
        self.list.setVisible(not empty)

    def selected_document(self) -> DocumentView | None:
        item = self.list.currentItem()
        if item is None:
            return None
        view: DocumentView = item.data(_DOC_ROLE)
        return view

    def select_document(self, title: str) -> bool:
        for row in range(self.list.count()):
            if self.list.item(row).data(_DOC_ROLE).title == title:
                self.list.setCurrentRow(row)
                return True
        return False

    def _selected_version(self) -> DocumentVersionView | None:
        item = self.history.currentItem()
        if item is not None:
            version: DocumentVersionView = item.data(_VERSION_ROLE)
            return version
        doc = self.selected_document()
        return doc.current if doc else None

    def _show_selected(self, version: int | None = None) -> None:
        doc = self.selected_document()
        self.details.setVisible(doc is not None)
        self.history.blockSignals(True)
        self.history.clear()
        if doc is not None:
            for entry in doc.history:
                current = " (current)" if entry.version == doc.version else ""
                mark = "✔" if entry.trusted else "✖"
                item = QListWidgetItem(
                    f"v{entry.version}{current} · {_when(entry.published_at)} · {mark} "
                    f"{entry.signer_name}"
                )
                item.setData(_VERSION_ROLE, entry)
                item.setData(
                    Qt.ItemDataRole.AccessibleTextRole,
                    f"Version {entry.version}{current}, {entry.trust}",
                )
                item.setForeground(QColor(colors().ok if entry.trusted else colors().danger))
                item.setToolTip("\n".join(t for t in (entry.trust, entry.note) if t))
                self.history.addItem(item)
                if entry.version == (version if version is not None else doc.version):
                    self.history.setCurrentItem(item)
        self.history.blockSignals(False)
        _fit_rows(self.history, 5)
        self._show_version()

    def _show_version(self) -> None:
        doc, version = self.selected_document(), self._selected_version()
        if doc is None or version is None:
            return
        if version.version == doc.version:
            which = ""
        elif version.version < doc.version:
            which = " — an older version"
        else:  # newer, but it did not verify, so it is not the current one
            which = " — not the current version"
        self.doc_title.setText(f"{version.title}{which}")
        self.badge.setText(badge_text(version))
        self.badge.setStyleSheet(badge_style(version.trusted))
        self.meta.setText(
            f"v{version.version} · {version.filename} · {human_size(version.size)} · "
            f"{_when(version.published_at)}"
        )
        self.note.setText(version.note)
        self.note.setVisible(bool(version.note))
        # In blocks, so the 64 digits can wrap instead of widening the whole window.
        blocks = " ".join(version.sha256[i : i + 16] for i in range(0, len(version.sha256), 16))
        self.digest.setText(f"SHA-256 {blocks}")
        self.history_title.setVisible(len(doc.history) > 1 or self.is_organizer)
        self.history.setVisible(len(doc.history) > 1)
        if version.acknowledged_by_me:
            self.ack_button.setText(f"✔ You have read v{version.version}")
            self.ack_button.setEnabled(False)
        else:
            self.ack_button.setText(f"I have read v{version.version}")
            self.ack_button.setEnabled(version.trusted and self._group_active())
        self.version_button.setVisible(self.is_organizer)
        self.acks_title.setVisible(self.is_organizer)
        self.acks.setVisible(self.is_organizer)
        self.acks.clear()
        if self.is_organizer and self._group is not None:
            count = len(version.acknowledged_by)
            self.acks_title.setText(
                f"READ BY {count} OF {self._group.member_count} (v{version.version})"
            )
            for ack in version.acknowledged_by:
                item = QListWidgetItem(f"{ack.name} · {_when(ack.acked_at)}")
                item.setToolTip(f"Fingerprint {ack.fingerprint[:16]}…")
                self.acks.addItem(item)
            if not count:
                self.acks.addItem("Nobody has said they read it yet.")
            _fit_rows(self.acks, 6)

    def _group_active(self) -> bool:
        return self._group is not None and self._group.status == "active"

    # -- long operations --------------------------------------------------------------

    def _run(
        self,
        text: str,
        command: Command[Any],
        on_done: Callable[[Any], None],
        transfer: Transfer | None = None,
    ) -> None:
        """Run one engine step with the busy bar showing ``text`` until it ends; a file
        transfer's own bar (with Cancel) is hidden again when it ends."""
        job = self._next_job
        self._next_job += 1
        self._busy[job] = text
        self._show_busy()
        show_error(self.error, None)

        def finished() -> bool:
            if not shiboken6.isValid(self):
                return False
            self._busy.pop(job, None)
            self._show_busy()
            if transfer is not None:
                self.transfer_bar.finish(transfer)
            return True

        def done(result: Any) -> None:
            if finished():
                on_done(result)
                self._schedule()

        def failed(error: Exception) -> None:
            if finished():
                show_error(self.error, error)
                self._schedule()

        self._bridge.submit(command, done, failed)

    def _show_busy(self) -> None:
        busy = list(self._busy.values())
        self.progress.setVisible(bool(busy))
        if busy:
            self.status.setText(" · ".join(busy))

    def is_busy(self) -> bool:
        return bool(self._busy)

    # -- publishing -------------------------------------------------------------------

    def open_publish_dialog(self, document: DocumentView | None = None) -> PublishDialog | None:
        """The publish form (organizers); ``document`` for its next version."""
        if not self.is_organizer:
            return None
        dialog = PublishDialog(
            document_id=document.document_id if document else None,
            title=document.title if document else "",
            next_version=max((v.version for v in document.history), default=0) + 1
            if document
            else 1,
            start_dir=QStandardPaths.writableLocation(
                QStandardPaths.StandardLocation.DocumentsLocation
            ),
            parent=self,
        )
        dialog.requested.connect(self.publish)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _publish_new_version(self) -> None:
        doc = self.selected_document()
        if doc is not None:
            self.open_publish_dialog(doc)

    def publish(self, request: PublishRequest) -> None:
        """Encrypt, upload and announce on the engine thread, with the busy bar."""
        group = self._group
        if group is None:
            return
        transfer = self.transfer_bar.start("Publishing", request.path.name)
        command = PublishDocument(
            group.group_id,
            request.path,
            request.title,
            version=request.version,
            note=request.note,
            document_id=request.document_id,
            transfer=transfer,
        )

        def done(_document_id: bytes) -> None:
            self.status.setText(f"Published “{request.title}” v{request.version}.")

        self._run(
            f"Publishing “{request.title}” ({human_size(request.size)})…", command, done, transfer
        )

    # -- opening and exporting --------------------------------------------------------

    def _confirm_untrusted(self, verb: str, then: Callable[[], None]) -> bool:
        """Ask before opening or exporting a document that did not verify; True if asked."""
        version = self._selected_version()
        if version is None or version.trusted:
            return False
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            f"{verb} an untrusted document",
            f"This document is {version.trust}.\n\nIt may not be what an organizer "
            f"published. {verb} it anyway?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        go = box.addButton(f"{verb} anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.buttonClicked.connect(lambda button: then() if button is go else None)
        self.confirmation = box
        box.open()
        return True

    def open_selected(self, *, confirmed: bool = False) -> None:
        """Download if needed, decrypt to a private temporary folder, open it with the
        desktop's viewer. The folder goes when the panel does (on lock or quit)."""
        doc, version = self.selected_document(), self._selected_version()
        if doc is None or version is None:
            return
        if not confirmed and self._confirm_untrusted(
            "Open", lambda: self.open_selected(confirmed=True)
        ):
            return
        folder = Path(self._open_dir.name) / f"{doc.id_hex[:12]}-v{version.version}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / version.filename
        transfer = self.transfer_bar.start("Downloading", version.filename)
        command = ExportDocument(
            doc.document_id,
            target,
            version=version.version,
            force=not version.trusted,
            transfer=transfer,
        )

        def done(exported: ExportedDocument) -> None:
            self.last_opened = exported.path
            # QDesktopServices.openUrl says whether a viewer was started; only then is the
            # file "opened". Otherwise say where the decrypted copy is.
            if self.opener(QUrl.fromLocalFile(str(exported.path))):
                self.status.setText(f"Opened {exported.path.name}.")
            else:
                self.status.setText(
                    f"No program on this computer opens {exported.path.name}. Use Export to "
                    "save a copy where you can reach it."
                )

        self._run(f"Downloading and opening {version.filename}…", command, done, transfer)

    def choose_export_folder(self) -> None:
        """Ask for a folder without blocking; ``export_to`` runs when one is chosen."""
        if self.selected_document() is None:
            return
        start = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        dialog = QFileDialog(self, "Export to folder", start)
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(lambda folder: self.export_to(Path(folder)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()

    def export_to(self, folder: Path, *, confirmed: bool = False) -> None:
        """Write FILE, FILE.minisig and the signer's .pub into ``folder``."""
        doc, version = self.selected_document(), self._selected_version()
        if doc is None or version is None:
            return
        if not confirmed and self._confirm_untrusted(
            "Export", lambda: self.export_to(folder, confirmed=True)
        ):
            return
        transfer = self.transfer_bar.start("Exporting", version.filename)
        command = ExportDocument(
            doc.document_id,
            folder,
            version=version.version,
            force=not version.trusted,
            transfer=transfer,
        )

        def done(exported: ExportedDocument) -> None:
            self.last_export = exported
            self.status.setText(
                f"Saved {exported.path.name}, {exported.signature_path.name} and "
                f"{exported.public_key_path.name} in {exported.path.parent}. Check it with: "
                f"minisign -Vm {exported.path.name} -p {exported.public_key_path.name}"
            )

        self._run(f"Exporting {version.filename}…", command, done, transfer)

    # -- acknowledging ----------------------------------------------------------------

    def acknowledge(self) -> None:
        """Tell the group "I have read this version" (a signed message)."""
        doc, version = self.selected_document(), self._selected_version()
        if doc is None or version is None or not version.trusted:
            return
        number = version.version
        command = AcknowledgeDocument(doc.document_id, number)

        def done(_result: object) -> None:
            self.status.setText(f"You told the group you have read v{number}.")

        self.ack_button.setEnabled(False)
        self._run(f"Sending “I have read v{number}”…", command, done)
