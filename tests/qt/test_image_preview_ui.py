"""Inline image previews in the desktop app: untrusted pictures are decoded safely (a
bomb's header, a broken file or a non-image gives no thumbnail, never a crash), and a
small picture sent by one member shows as a thumbnail in the other's bubble, while a
broken one keeps its file chip."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QStyleOptionViewItem

from app.qt.image_preview import THUMB_SIDE, decode_thumbnail
from app.qt.main_window import MainWindow
from app.qt.message_delegate import shown_text
from app.qt.message_model import Roles
from tests.core.pictures import png, png_claiming
from tests.qt.helpers import WAIT_MS
from tests.qt.pair import organizer_and_member


def test_decoding_untrusted_pictures(qtbot) -> None:  # type: ignore[no-untyped-def]
    image = decode_thumbnail(png(1200, 600))
    assert image is not None and (image.width(), image.height()) == (THUMB_SIDE, THUMB_SIDE // 2)
    small = decode_thumbnail(png(40, 30))
    assert small is not None and (small.width(), small.height()) == (40, 30)
    assert decode_thumbnail(png_claiming(60_000, 60_000)) is None  # refused from the header
    assert decode_thumbnail(png_claiming(5_000, 5_000)) is None  # header fine, data broken
    assert decode_thumbnail(png(50, 50)[:60]) is None  # truncated
    assert decode_thumbnail(b"<svg onload=alert(1)>") is None
    assert decode_thumbnail(b"") is None


def _row(window: MainWindow, text: str) -> int:
    model = window.message_model
    for row in range(model.rowCount()):
        message = model.message_at(row)
        if message is not None and message.text == text:
            return row
    return -1


def test_a_sent_picture_shows_as_a_thumbnail(qtbot, relay, make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Bakery")
    for window in (alice, bob):
        window.resize(1000, 700)
        window.show()
    picture = tmp_path / "picket.png"
    picture.write_bytes(png(640, 480, (30, 120, 200)))
    broken = tmp_path / "broken.png"
    broken.write_bytes(png_claiming(3000, 2000))
    ready: list[int] = []
    bob.thumbnails.ready.connect(ready.append)
    alice.composer.edit.setPlainText("picket line")
    alice.send_files([picture])
    qtbot.waitUntil(lambda: alice.transfer_bar.isHidden(), timeout=WAIT_MS)
    alice.composer.edit.setPlainText("broken one")
    alice.send_files([broken])

    def thumbnail(text: str) -> object:
        row = _row(bob, text)
        return bob.message_model.index(row).data(Roles.THUMBNAIL) if row >= 0 else None

    qtbot.waitUntil(lambda: isinstance(thumbnail("picket line"), QImage), timeout=WAIT_MS)
    image = thumbnail("picket line")
    assert isinstance(image, QImage) and (image.width(), image.height()) == (THUMB_SIDE, 210)
    assert image.pixelColor(5, 5).blue() == 200  # the picture's own pixels
    # The bubble grew to hold the thumbnail above the text and the file chip.
    index = bob.message_model.index(_row(bob, "picket line"))
    hint = bob.chat.itemDelegate().sizeHint(QStyleOptionViewItem(), index)
    assert hint.height() > 210

    qtbot.waitUntil(lambda: _row(bob, "broken one") >= 0, timeout=WAIT_MS)
    message = bob.message_model.message_at(_row(bob, "broken one"))
    assert message is not None
    thumbnail("broken one")  # asks for it, as painting the row does
    qtbot.waitUntil(lambda: message.row_id in ready, timeout=WAIT_MS)
    assert thumbnail("broken one") is None  # fetched, refused by the decoder: the chip stays
    assert message is not None and "📎 broken.png" in shown_text(message)
