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
