"""QR codes for invite links and safety numbers, drawn as vector squares with QPainter
(crisp at any screen scale) from a ``segno`` module matrix."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

__all__ = ["qr_pixmap"]

_QUIET = 4  # modules of white border the standard asks for


def qr_pixmap(text: str, size: int, device_pixel_ratio: float = 1.0) -> QPixmap:
    """A ``size`` by ``size`` (logical pixels) black-on-white QR code of ``text``.

    A null pixmap if ``segno`` is missing: the code is still shown as text beside it.
    """
    try:
        import segno
    except ImportError:
        return QPixmap()
    code = segno.make(text, error="m", micro=False)
    matrix = [list(row) for row in code.matrix]
    modules = len(matrix) + 2 * _QUIET
    physical = max(int(size * device_pixel_ratio), modules)
    # Whole device pixels per module: uneven modules are harder for cameras to read.
    step = max(physical // modules, 1)
    offset = (physical - step * modules) // 2 + _QUIET * step
    image = QImage(QSize(physical, physical), QImage.Format.Format_RGB32)
    image.fill(QColor("#ffffff"))
    painter = QPainter(image)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#000000"))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.drawRect(QRect(offset + x * step, offset + y * step, step, step))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(device_pixel_ratio)
    return pixmap
