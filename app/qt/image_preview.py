"""Thumbnails of attached images in message bubbles (issue #12), decoded as hostile
input: the bytes come from another member (verified as the file they signed, but
anyone can sign a decompression bomb or a broken file).

``decode_thumbnail`` reads only the header first and refuses images over
``MAX_SIDE`` pixels a side or ``MAX_PIXELS`` in all, caps Qt's allocation
(``QImageReader.setAllocationLimit``) and decodes straight to thumbnail size; whatever
fails gives None, and the bubble keeps showing the file's chip ("📎 name · size"), never
an error. ``Thumbnails`` fetches each small image once per session through the engine
(``FetchPreview``), keeps decoded thumbnails in memory only, and tells the message list
when one is ready.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QSize, Signal
from PySide6.QtGui import QImage, QImageReader

from app.core.api import FetchPreview, MessageView, image_kind, previewable
from app.qt.engine_bridge import EngineBridge

__all__ = ["MAX_PIXELS", "MAX_SIDE", "THUMB_SIDE", "Thumbnails", "decode_thumbnail"]

MAX_SIDE = 12_000
MAX_PIXELS = 40_000_000
THUMB_SIDE = 280
_ALLOCATION_MB = 96
_FORMATS = frozenset({b"png", b"jpeg", b"jpg", b"gif", b"webp"})


def decode_thumbnail(data: bytes, side: int = THUMB_SIDE) -> QImage | None:
    """A thumbnail at most ``side`` px a side, or None for anything not a sane image."""
    if image_kind(data) is None:
        return None
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    if not buffer.open(QIODevice.OpenModeFlag.ReadOnly):
        return None
    reader = QImageReader(buffer)
    reader.setDecideFormatFromContent(True)
    reader.setAllocationLimit(_ALLOCATION_MB)
    if bytes(reader.format().data()).lower() not in _FORMATS:
        return None
    size = reader.size()
    width, height = size.width(), size.height()
    if width <= 0 or height <= 0 or width > MAX_SIDE or height > MAX_SIDE:
        return None
    if width * height > MAX_PIXELS:
        return None
    scale = min(1.0, side / max(width, height))
    reader.setScaledSize(QSize(max(1, round(width * scale)), max(1, round(height * scale))))
    image = reader.read()
    buffer.close()
    return None if image.isNull() else image


class Thumbnails(QObject):
    """Decoded thumbnails by message row id; fetched on first sight, once."""

    ready = Signal(int)  # a message row id whose thumbnail (or its absence) is known

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._images: dict[int, QImage | None] = {}

    def image_for(self, message: MessageView) -> QImage | None:
        """The thumbnail if it is here; asks for it the first time (None meanwhile)."""
        if message.row_id in self._images:
            return self._images[message.row_id]
        if message.deleted or message.message_id is None or not message.attachments:
            return None
        first = message.attachments[0]
        if not previewable(first.media_type, first.size):
            return None
        self._images[message.row_id] = None  # asked for: not again

        def done(data: bytes) -> None:
            self._images[message.row_id] = decode_thumbnail(data)
            self.ready.emit(message.row_id)

        self._bridge.submit(
            FetchPreview(message.group_id, message.message_id, 0), done, lambda _e: None
        )
        return None

    def known(self, row_id: int) -> QImage | None:
        return self._images.get(row_id)
