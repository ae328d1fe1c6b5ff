"""Signed documents through the desktop app: an organizer publishes through the dialog,
a member sees the verified badge, opens, exports (file, .minisig, .pub) and
acknowledges; the organizer sees who read it; members get no publish button; locking
removes the copy opened for reading."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.core.document_views import DocumentVersionView, DocumentView
from app.core.documents import verify_file
from app.qt.dialogs.publish import PublishDialog
from app.qt.documents_panel import DocumentsPanel
from app.qt.engine_bridge import EngineBridge
from app.qt.group_tabs import GroupTabs
from app.qt.main_window import MainWindow
from app.qt.theme import colors
from tests.qt.helpers import WAIT_MS, click
from tests.qt.pair import organizer_and_member


def _tabs(window: MainWindow) -> GroupTabs:
    """The Chat / Documents / Ballots tabs above the conversation."""
    return window.tabs


def _publish(qtbot, panel, path: Path, title: str, note: str) -> None:  # type: ignore[no-untyped-def]
    dialog = panel.dialog
    assert isinstance(dialog, PublishDialog)
    dialog.file.setText(str(path))  # what choosing it in the file dialog does
    dialog.title.clear()
    qtbot.keyClicks(dialog.title, title)
    qtbot.keyClicks(dialog.note, note)
    click(qtbot, dialog.publish)
    assert panel.progress.isVisible()  # the busy state shows while the engine works
    assert panel.status.text().startswith(f"Publishing “{title}”")


def test_publish_verify_open_export_and_acknowledge(qtbot, relay, make_app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, alice, bob_app, bob = organizer_and_member(qtbot, relay, make_app, "Warehouse")
    organizer, member = _tabs(alice), _tabs(bob)
    organizer.setCurrentWidget(organizer.documents)
    member.setCurrentWidget(member.documents)
    docs, theirs = organizer.documents, member.documents
    assert docs.publish_button.isVisible()
    assert not theirs.publish_button.isVisible()  # members cannot publish
    assert theirs.open_publish_dialog() is None
    assert "Organizers publish" in theirs.empty.text()

    source = tmp_path / "minutes.txt"
    content = b"Minutes of the March meeting.\n" + bytes(range(256)) * 1200
    source.write_bytes(content)
    click(qtbot, docs.publish_button)
    _publish(qtbot, docs, source, "Minutes, March", "Approved on Thursday")
    qtbot.waitUntil(lambda: theirs.list.count() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not docs.is_busy(), timeout=WAIT_MS)
    assert docs.status.text() == "Published “Minutes, March” v1."

    doc = theirs.selected_document()
    assert doc is not None and doc.title == "Minutes, March"
    assert theirs.badge.text() == "✔ Signed by Alice (organizer), verified"
    assert colors().ok in theirs.badge.styleSheet()
    assert theirs.note.text() == "Approved on Thursday"
    assert not theirs.version_button.isVisible() and not theirs.acks.isVisible()

    # A desktop with no viewer for the file: the panel does not claim it opened it.
    opened: list[QUrl] = []

    def no_viewer(url: QUrl) -> bool:
        opened.append(url)
        return False

    theirs.opener = no_viewer
    click(qtbot, theirs.open_button)
    qtbot.waitUntil(lambda: bool(opened), timeout=WAIT_MS)
    opened_copy = Path(opened[0].toLocalFile())
    assert opened_copy.read_bytes() == content
    assert theirs.status.text().startswith("No program on this computer opens minutes.txt.")

    def viewer(url: QUrl) -> bool:
        opened.append(url)
        return True

    theirs.opener = viewer
    click(qtbot, theirs.open_button)
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: theirs.status.text() == "Opened minutes.txt.", timeout=WAIT_MS)

    out = tmp_path / "exported"
    out.mkdir()
    click(qtbot, theirs.export_button)
    chooser = theirs.dialog
    assert isinstance(chooser, QFileDialog)
    assert chooser.fileMode() == QFileDialog.FileMode.Directory
    # What choosing the folder does; driving the dialog's own file list would make the
    # test wait on its directory model, which loads in a thread of its own.
    chooser.fileSelected.emit(str(out))
    chooser.close()
    qtbot.waitUntil(lambda: theirs.last_export is not None, timeout=WAIT_MS)
    exported = theirs.last_export
    assert exported.path == out / "minutes.txt"
    assert exported.path.read_bytes() == content
    assert exported.signature_path == out / "minutes.txt.minisig"
    assert exported.public_key_path.parent == out and exported.public_key_path.suffix == ".pub"
    assert verify_file(exported.path).title == "Minutes, March"  # minisign -V agrees

    assert theirs.ack_button.text() == "I have read v1"
    click(qtbot, theirs.ack_button)
    qtbot.waitUntil(lambda: docs.acks.count() == 1 and "Bob" in docs.acks.item(0).text(),
                    timeout=WAIT_MS)  # fmt: skip
    assert docs.acks_title.text() == "READ BY 1 OF 2 (v1)"
    qtbot.waitUntil(lambda: theirs.ack_button.text() == "✔ You have read v1", timeout=WAIT_MS)

    # A second version: the history lists both; the member's badge follows the new one.
    source.write_bytes(content + b"Amended.\n")
    click(qtbot, docs.version_button)
    assert docs.dialog.version.value() == 2
    _publish(qtbot, docs, source, "Minutes, March", "Typo fixed")
    qtbot.waitUntil(lambda: theirs.history.count() == 2, timeout=WAIT_MS)
    assert theirs.history.item(0).text().startswith("v2 (current)")
    assert theirs.ack_button.text() == "I have read v2"

    # Locking removes the decrypted copy that was opened for reading.
    bob_app.lock()
    qtbot.waitUntil(lambda: not opened_copy.exists(), timeout=WAIT_MS)


def _version(number: int, *, trusted: bool, trust: str) -> DocumentVersionView:
    return DocumentVersionView(
        version=number, title="Strike fund rules", filename="rules.pdf",
        media_type="application/pdf", note="", size=52_000, published_at=1_790_000_000_000,
        sha256="ab" * 32, signer_name="Bob", signer_fingerprint="cd" * 32, trusted=trusted,
        trust=trust, downloaded=False, acknowledged_by=(), acknowledged_by_me=False,
    )  # fmt: skip


def test_an_untrusted_document_is_red_and_asks_before_export(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No relay needed: the panel shows what it is given, and asks before it would
    export (here: fails, the engine is not running) a document that did not verify."""
    reason = "not trusted: Bob was not an organizer at that point of the group log"
    doc = DocumentView(bytes(16), bytes(range(16)), current := _version(1, trusted=False,
                       trust=reason), (current,))  # fmt: skip
    bridge = EngineBridge()  # never started: every call answers "the profile is locked"
    panel = DocumentsPanel(bridge)
    bridge.setParent(panel)  # goes with the panel, on this thread
    qtbot.addWidget(panel)
    panel.resize(800, 500)
    panel.show()
    panel.show_documents([doc])
    assert panel.badge.text() == f"✖ N{reason[1:]}"
    assert colors().danger in panel.badge.styleSheet()
    assert not panel.ack_button.isEnabled()  # only a trusted document can be acknowledged
    # A newer version that did not verify never becomes the current one.
    newer = _version(2, trusted=False, trust=reason)
    trusted = _version(1, trusted=True, trust="signed by Alice (organizer), verified")
    panel.show_documents([DocumentView(bytes(16), bytes(range(16)), trusted, (newer, trusted))])
    assert panel.badge.text() == "✔ Signed by Alice (organizer), verified"
    panel.history.setCurrentRow(0)
    assert panel.doc_title.text() == "Strike fund rules — not the current version"
    assert panel.badge.text() == f"✖ N{reason[1:]}"
    panel.export_to(tmp_path)
    box = panel.confirmation
    assert isinstance(box, QMessageBox) and "may not be what an organizer" in box.text()
    click(qtbot, next(b for b in box.buttons() if b.text() == "Export anyway"))
    assert panel.error.text() == "The profile is locked"
