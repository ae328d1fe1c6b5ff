"""Live Qt objects left to Python's cyclic garbage collector.

The collector runs on whichever thread happens to allocate when it is due, often the
engine's. A Qt object it frees is destroyed on that thread, and a widget or a running
timer destroyed off the GUI thread can crash the process. The app therefore never leaves
a live Qt object that Python owns in a reference cycle: windows and dialogs are deleted
with ``deleteLater`` on the GUI thread, and everything else has a Qt parent. The Qt tests
check this around each test (``tests/qt/conftest.py``) instead of switching automatic
collection off for the whole process.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import shiboken6
from PySide6.QtCore import QObject

__all__ = ["collector_finds"]


def _live_and_ours(obj: object) -> bool:
    return isinstance(obj, QObject) and shiboken6.isValid(obj) and shiboken6.ownedByPython(obj)


@contextmanager
def collector_finds() -> Iterator[list[str]]:
    """Inside, the collector keeps what it finds (on any thread) instead of freeing it; on
    exit the list names each live Qt object owned by Python among that, and all of it is
    freed here, on the calling (GUI) thread."""
    gc.collect()
    start = len(gc.garbage)
    flags = gc.get_debug()
    gc.set_debug(flags | gc.DEBUG_SAVEALL)
    found: list[str] = []
    try:
        yield found
        gc.collect()
        kept = gc.garbage[start:]
        # A plain wrapper (a QTimer, not a subclass) is not tracked by the collector
        # itself: it shows up as what a kept object (usually a __dict__) refers to.
        candidates = {id(obj): obj for obj in [*kept, *gc.get_referents(*kept)]}
        found.extend(
            sorted(
                f"{type(obj).__module__}.{type(obj).__qualname__}"
                for obj in candidates.values()
                if _live_and_ours(obj)
            )
        )
        del kept, candidates
    finally:
        del gc.garbage[start:]
        gc.set_debug(flags & ~gc.DEBUG_SAVEALL)
        gc.collect()  # really free it, here
        gc.set_debug(flags)
