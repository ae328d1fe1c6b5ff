"""Run one blocking step (Argon2id, creating or re-keying a profile) off the GUI thread.

Key derivation takes about half a second by design; doing it on the GUI thread would
freeze the window, so the unlock and first-run screens hand it to a short-lived thread
and get the outcome back as a queued signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

__all__ = ["BackgroundJob"]


class BackgroundJob(QObject):
    """``succeeded(result)`` or ``failed(exception)`` arrives on the GUI thread."""

    succeeded = Signal(object)
    failed = Signal(object)
    # Emitted on the worker thread; connected to a method of this GUI-thread object, so
    # Qt queues it, and the public signals (which may reach plain callables, which Qt
    # would call on the emitting thread) are emitted on the GUI thread.
    _outcome = Signal(int, object)

    def __init__(self, work: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._thread = threading.Thread(target=self._run, name="caucus-job", daemon=True)
        self._outcome.connect(self._deliver)

    def start(self) -> None:
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            result = self._work()
        except Exception as exc:
            self._outcome.emit(0, exc)
        else:
            self._outcome.emit(1, result)

    def _deliver(self, ok: int, value: Any) -> None:
        if ok:
            self.succeeded.emit(value)
        else:
            self.failed.emit(value)
