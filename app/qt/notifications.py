"""Desktop notifications through the desktop's own service.

On Linux that is the freedesktop notification service on the session D-Bus (GNOME, KDE,
XFCE all provide it, tray area or not); on macOS the Notification Center and on Windows
toasts, all through ``desktop-notifier``. Where the service is missing or refuses, the
tray icon's balloon is the fallback, and where there is no tray either, nothing is shown
(the window title still counts unread messages).

Sending talks to D-Bus, which can stall when the session bus is unwell, so it happens on
one worker thread of its own, never on the GUI thread; the outcome comes back to the GUI
thread as a signal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)
# desktop-notifier logs a traceback for every failed send; one line from us says it.
logging.getLogger("desktop_notifier").setLevel(logging.CRITICAL)

__all__ = ["Notifier"]

APP_NAME = "Caucus"


class _NotDispatched(Exception):
    """The desktop's notification service did not take the notification."""


class Notifier(QObject):
    """``show(title, body)``; ``delivered(title, via)`` tells where it went ("desktop",
    "tray" or "none"), for tests and for the log."""

    delivered = Signal(str, str)
    _desktop_failed = Signal(str, str)

    def __init__(self, tray: Callable[[str, str], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tray = tray
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caucus-notify")
        self._backend: Any = None  # desktop_notifier.DesktopNotifierSync, made on the worker
        self._desktop_works = True
        self._desktop_failed.connect(self._fall_back)

    def show(self, title: str, body: str) -> None:
        if not self._desktop_works:
            self._fall_back(title, body)
            return
        future = self._pool.submit(self._send, title, body)
        future.add_done_callback(lambda done: self._finished(done, title, body))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the worker thread -------------------------------------------------------------

    def _send(self, title: str, body: str) -> None:
        if self._backend is None:
            from desktop_notifier import DesktopNotifierSync

            self._backend = DesktopNotifierSync(app_name=APP_NAME)
        # It reports failures only to its log: "dispatched" is the proof of delivery.
        dispatched = threading.Event()
        self._backend.send(title=title, message=body, on_dispatched=dispatched.set)
        if not dispatched.is_set():
            raise _NotDispatched

    def _finished(self, done: Future[None], title: str, body: str) -> None:
        error = done.exception() if not done.cancelled() else None
        if done.cancelled():
            return
        if error is None:
            self.delivered.emit(title, "desktop")
            return
        # Queued to the GUI thread (this runs on the worker): the tray is a Qt object.
        log.info("desktop notifications unavailable (%s); using the tray", type(error).__name__)
        self._desktop_failed.emit(title, body)

    # -- the GUI thread ---------------------------------------------------------------

    def _fall_back(self, title: str, body: str) -> None:
        self._desktop_works = False
        self.delivered.emit(title, "tray" if self._tray(title, body) else "none")
