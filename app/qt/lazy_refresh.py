"""Re-reading a group panel after engine events, but only while a person can see it.

Events mark the panel stale; a short single-shot timer folds a burst of events (a sync
of many messages) into one read; a hidden panel reads when it is shown again.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from app.core.events import (
    BallotChanged,
    DocumentChanged,
    Event,
    GroupChanged,
)

__all__ = ["LazyRefresh", "concerns_ballots", "concerns_documents"]


def concerns_ballots(event: Event, group_id: bytes) -> bool:
    """Whether ``event`` may have changed the ballots of ``group_id``: one of its ballots
    changed, or its roster (who may create and vote); messages alone do not."""
    if isinstance(event, BallotChanged | GroupChanged):
        return event.group_id == group_id
    return False


def concerns_documents(event: Event, group_id: bytes) -> bool:
    """Whether ``event`` may have changed the documents of ``group_id``: a version or an
    acknowledgement arrived, or its roster changed (who is an organizer decides trust)."""
    if isinstance(event, DocumentChanged | GroupChanged):
        return event.group_id == group_id
    return False


class LazyRefresh(QObject):
    """Calls ``refresh`` once after ``schedule()`` bursts, while ``widget`` is visible."""

    def __init__(self, widget: QWidget, refresh: Callable[[], None], interval_ms: int) -> None:
        super().__init__(widget)
        self._widget = widget
        self.stale = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(refresh)

    def schedule(self) -> None:
        self.stale = True
        if self._widget.isVisible():
            self._timer.start()

    def shown(self) -> None:
        """Call from the widget's ``showEvent``."""
        if self.stale:
            self._timer.start()

    def done(self) -> None:
        """Call when the refresh starts reading."""
        self.stale = False
