"""The progress bar with Cancel for sending files, in the desktop app with a real engine
and a real relay: the bar shows progress, Cancel stops the upload, and nothing reaches
the other member."""

from __future__ import annotations

import os
from pathlib import Path

from app.qt.main_window import MainWindow
from tests.qt.helpers import WAIT_MS, click, send, shown_texts
from tests.qt.pair import organizer_and_member


def _with_files(window: MainWindow) -> int:
    model = window.message_model
    return sum(
        1
        for row in range(model.rowCount())
        if (message := model.message_at(row)) is not None and message.attachments
    )


def test_cancel_a_large_upload_from_the_progress_bar(
    qtbot, relay, make_app, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Bakery")
    for window in (alice, bob):
        window.resize(1000, 700)
        window.show()
    video = tmp_path / "meeting.mp4"
    with video.open("wb") as handle:
        for _ in range(48):
            handle.write(os.urandom(1 << 20))

    bar = alice.transfer_bar
    alice.send_files([video])
    assert bar.isVisible() and bar.label.text() == "Sending meeting.mp4…"
    # The person sees the bar move, then clicks Cancel.
    qtbot.waitUntil(lambda: bar.bar.value() > 0, timeout=WAIT_MS)
    assert "meeting.mp4 ·" in bar.label.text() and "of 50.3 MB" in bar.label.text()
    click(qtbot, bar.cancel_button)
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=WAIT_MS)
    assert alice.statusBar().currentMessage() == "Cancelled; nothing was sent."

    # A message sent afterwards arrives; the cancelled file never does.
    send(qtbot, alice, "sorry, too big")
    qtbot.waitUntil(lambda: "sorry, too big" in shown_texts(bob), timeout=WAIT_MS)
    assert _with_files(bob) == 0 and _with_files(alice) == 0


def test_cancel_publishing_a_large_document_from_its_progress_bar(
    qtbot, relay, make_app, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Documents have the same bar (issue #12): Cancel stops the upload and nothing is
    published; publishing again afterwards works."""
    from app.qt.dialogs.publish import PublishRequest

    _, alice, _, _ = organizer_and_member(qtbot, relay, make_app, "Bakery")
    alice.resize(1000, 700)
    alice.show()
    panel = alice.tabs.documents
    alice.tabs.setCurrentWidget(panel)
    minutes = tmp_path / "minutes.pdf"
    with minutes.open("wb") as handle:
        for _ in range(48):
            handle.write(os.urandom(1 << 20))
    request = PublishRequest(minutes, "Minutes", 1, "", None, minutes.stat().st_size)

    bar = panel.transfer_bar
    panel.publish(request)
    assert bar.isVisible() and bar.label.text() == "Publishing minutes.pdf…"
    qtbot.waitUntil(lambda: bar.bar.value() > 0, timeout=WAIT_MS)
    click(qtbot, bar.cancel_button)
    qtbot.waitUntil(lambda: not bar.isVisible() and not panel.is_busy(), timeout=WAIT_MS)
    assert panel.error.text() == "Cancelled; nothing was sent or written"
    assert panel.list.count() == 0

    small = tmp_path / "agenda.txt"
    small.write_text("1. Rates\n")
    panel.publish(PublishRequest(small, "Agenda", 1, "", None, small.stat().st_size))
    qtbot.waitUntil(lambda: panel.status.text() == "Published “Agenda” v1.", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=WAIT_MS)
