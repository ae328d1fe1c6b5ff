"""Publish a signed document (organizers): a file, its title, version and a note.

The dialog only gathers and checks the form; the documents panel runs the publish on the
engine thread and shows its progress, so a 100 MB upload never holds a dialog (or the
window) hostage and the person can keep reading while it goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.api import MAX_DOCUMENT_SIZE, MAX_NOTE_BYTES, MAX_TITLE_BYTES
from app.qt.widgets import error_label, muted_label, primary_button, show_error

__all__ = ["PublishDialog", "PublishRequest", "check_publish", "human_size"]


@dataclass(frozen=True)
class PublishRequest:
    """A checked form: publish ``path`` as ``version`` of ``document_id`` (None: new)."""

    path: Path
    title: str
    version: int
    note: str
    document_id: bytes | None
    size: int


def human_size(size: int) -> str:
    """``"1.4 MB"``: decimal units, as file managers show them."""
    if size < 1000:
        return f"{size} bytes"
    value = size / 1000
    for unit in ("KB", "MB"):
        if value < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def check_publish(path_text: str, title: str, note: str) -> tuple[Path | None, int, str | None]:
    """``(path, size, problem)``: the file to publish and its size, or why not.

    Mirrors the limits the signed announcement enforces, so the person learns about a
    too-long title before the upload rather than after it.
    """
    if not path_text.strip():
        return None, 0, "Choose the file to publish."
    path = Path(path_text.strip()).expanduser()
    try:
        size = path.stat().st_size if path.is_file() else -1
    except OSError:
        size = -1
    if size < 0:
        return None, 0, "That file does not exist or cannot be read."
    if size > MAX_DOCUMENT_SIZE:
        return None, 0, f"The file is larger than {human_size(MAX_DOCUMENT_SIZE)}."
    if not title.strip():
        return None, 0, "Give the document a title."
    if len(title.strip().encode()) > MAX_TITLE_BYTES:
        return None, 0, f"The title is too long (at most {MAX_TITLE_BYTES} bytes)."
    if len(note.encode()) > MAX_NOTE_BYTES:
        return None, 0, f"The note is too long (at most {MAX_NOTE_BYTES} bytes)."
    return path, size, None


class PublishDialog(QDialog):
    """``requested(PublishRequest)`` once the form is consistent; then it closes.

    For a new version of an existing document pass ``document_id``, its ``title`` and
    the ``next_version``.
    """

    requested = Signal(object)

    def __init__(
        self,
        *,
        document_id: bytes | None = None,
        title: str = "",
        next_version: int = 1,
        start_dir: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._document_id = document_id
        self._start_dir = start_dir
        new = document_id is None
        self.setWindowTitle("Publish a document" if new else f"New version of “{title}”")

        self.file = QLineEdit()
        self.file.setAccessibleName("File to publish")
        self.file.setPlaceholderText("Choose a file…")
        self.browse = QPushButton("Choose…")
        self.browse.setAccessibleName("Choose the file")
        self.browse.clicked.connect(self._choose)
        self.file_dialog: QFileDialog | None = None
        self.size_note = muted_label("")
        self.size_note.setAccessibleName("File size")
        self.file.textChanged.connect(self._file_changed)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file, 1)
        file_row.addWidget(self.browse)

        self.title = QLineEdit(title)
        self.title.setAccessibleName("Title")
        self.title.setPlaceholderText("Collective agreement 2026")
        self.version = QSpinBox()
        self.version.setRange(1, 1_000_000)
        self.version.setValue(max(1, next_version))
        self.version.setPrefix("v")
        self.version.setAccessibleName("Version number")
        self.note = QPlainTextEdit()
        self.note.setAccessibleName("Note for members")
        self.note.setPlaceholderText("What changed, or what members should do with it")
        self.note.setFixedHeight(72)
        self.note.setTabChangesFocus(True)

        form = QFormLayout()
        form.addRow("File", file_row)
        form.addRow("", self.size_note)
        form.addRow("Title", self.title)
        form.addRow("Version", self.version)
        form.addRow("Note", self.note)

        self.hint = muted_label(
            "The file is encrypted for the group and signed with your key. Members see "
            "“signed by you (organizer), verified” and can check the signature with "
            "minisign, outside Caucus."
        )
        self.error = error_label()
        self.publish = primary_button("Publish")
        self.publish.clicked.connect(self._submit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.publish, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        # The minimum height leaves out wrapped text; the size hint counts it.
        self.resize(520, self.sizeHint().height())

    def _choose(self) -> None:
        """A file dialog that does not block (tests and the event loop keep running)."""
        dialog = QFileDialog(self, "Choose the file to publish", self._start_dir)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.file.setText)
        self.file_dialog = dialog
        dialog.open()

    def _file_changed(self, text: str) -> None:
        path = Path(text.strip()).expanduser() if text.strip() else None
        if path is None or not path.is_file():
            self.size_note.setText("")
            return
        self.size_note.setText(f"{path.name}, {human_size(path.stat().st_size)}")
        if not self.title.text().strip():
            self.title.setText(path.stem.replace("_", " ").replace("-", " "))

    def _submit(self) -> None:
        path, size, problem = check_publish(
            self.file.text(), self.title.text(), self.note.toPlainText()
        )
        if problem is not None or path is None:
            show_error(self.error, problem or "Choose the file to publish.")
            return
        show_error(self.error, None)
        self.requested.emit(
            PublishRequest(
                path=path,
                title=self.title.text().strip(),
                version=self.version.value(),
                note=self.note.toPlainText().strip(),
                document_id=self._document_id,
                size=size,
            )
        )
        self.accept()
