"""Progress and cancellation of a long upload or download (an attached file), shared
between the engine thread, which reports and checks, and a view, which shows and cancels.

The engine checks ``Transfer.check`` before each chunk; a cancel raises
``TransferCancelled`` there, and the operation cleans up what it started: an upload
deletes its partial blob and sends no message, a download removes its temporary file
and leaves the destination as it was. Once every file is uploaded the message is queued
and a cancel comes too late: it goes out like any other (nothing is ever half-sent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from app.core.errors import ClientError

__all__ = ["Transfer", "TransferCancelled", "TransferProgress"]


class TransferCancelled(ClientError):
    """The person cancelled the transfer; nothing was sent or written."""


@dataclass(frozen=True)
class TransferProgress:
    """How far a transfer is: ``done`` of ``total`` bytes, now at file ``name``."""

    name: str
    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


class Transfer:
    """One transfer's progress callback and cancel flag (thread-safe)."""

    def __init__(self, on_progress: Callable[[TransferProgress], None] | None = None) -> None:
        self._on_progress = on_progress
        self._cancelled = threading.Event()
        self._total = 0
        self._done = 0

    def cancel(self) -> None:
        """Ask the engine to stop at the next chunk (any thread)."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """``TransferCancelled`` once ``cancel`` was called (the engine thread)."""
        if self._cancelled.is_set():
            raise TransferCancelled("cancelled; nothing was sent or written")

    def start(self, total: int) -> None:
        self._total, self._done = total, 0

    def advance(self, name: str, size: int) -> None:
        """``size`` more bytes of file ``name`` went through."""
        self._done += size
        if self._on_progress is not None:
            self._on_progress(TransferProgress(name, self._done, self._total))
