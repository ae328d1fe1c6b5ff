"""The main window at narrow widths.

Below ``NARROW_PX`` the members column folds away so the conversation keeps a readable
width; the Members button (Ctrl+M) still opens it. Widening the window again brings back
whatever the person had chosen while it was wide. The window never gets smaller than
``MINIMUM``, so the composer's Send button and the header's buttons stay on screen.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize
from PySide6.QtWidgets import QAbstractButton, QWidget

NARROW_PX = 900
MINIMUM = QSize(640, 480)

__all__ = ["MINIMUM", "NARROW_PX", "NarrowLayout"]


class NarrowLayout(QObject):
    """Watches ``window``'s width and folds the column ``toggle`` shows and hides."""

    def __init__(self, window: QWidget, toggle: QAbstractButton) -> None:
        super().__init__(window)
        self._window = window
        self._toggle = toggle
        self._narrow: bool | None = None
        self._wide_choice = toggle.isChecked()
        window.setMinimumSize(MINIMUM)
        window.installEventFilter(self)

    @property
    def narrow(self) -> bool:
        return bool(self._narrow)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Resize:
            self.apply(self._window.width())
        return False

    def apply(self, width: int) -> None:
        narrow = width < NARROW_PX
        if narrow == self._narrow:
            return
        if narrow:
            self._wide_choice = self._toggle.isChecked()
            self._toggle.setChecked(False)
        elif self._narrow is not None:
            self._toggle.setChecked(self._wide_choice)
        self._narrow = narrow
