"""Run Python's cyclic garbage collector on the GUI thread only.

Widgets often sit in reference cycles (a window and the lambdas connected to its
signals). If the collector happens to run on the engine's thread, it deletes those Qt
objects there, and Qt crashes. So automatic collection is switched off and a timer on the
GUI thread collects instead, as often as the allocation counters say it is due.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

__all__ = ["install"]

_INTERVAL_MS = 1000
_collector: _Collector | None = None


class _Collector(QObject):
    def __init__(self) -> None:
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setInterval(_INTERVAL_MS)
        self._timer.timeout.connect(self.collect)
        self._timer.start()

    def collect(self) -> None:
        thresholds = gc.get_threshold()
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return


def install() -> None:
    """Idempotent; call on the GUI thread once a QCoreApplication exists."""
    global _collector
    if _collector is None:
        gc.disable()
        _collector = _Collector()
