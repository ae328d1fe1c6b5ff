"""Keep ``None``, ``True`` and ``False`` alive under PySide6 builds that assume Python
3.12's immortal singletons.

PySide6-Essentials 6.12.0 returns ``None`` from every void method, and ``True`` from
``Signal.emit()``, without taking a reference. On Python 3.12+ those objects are immortal
and nothing happens; on 3.11 each call drops one reference, and a desktop session that
makes millions of such calls aborts with "deallocating None". ``protect()`` measures the
fault once and, only where it exists on a mortal-singleton Python, adds 2**40 references
to the three singletons (they are static objects that are never freed, so the extra count
only keeps it from reaching zero).
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["protect"]

_SINGLETONS = (None, True, False)
_MARGIN = 1 << 40
_done = False


def _drops_references() -> bool:
    from PySide6.QtCore import QObject, QTimer, Signal

    class _Probe(QObject):
        ping = Signal()

    timer, probe = QTimer(), _Probe()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(64):
        timer.stop()
        probe.ping.emit()
    after = sys.getrefcount(None), sys.getrefcount(True)
    return before[0] - after[0] >= 32 or before[1] - after[1] >= 32


def protect() -> bool:
    """Apply the guard if this interpreter and binding need it; True if applied."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    _done = True
    if not _drops_references():
        return False
    for obj in _SINGLETONS:
        # CPython 3.11 layout: ob_refcnt is the first field of every object.
        ctypes.c_ssize_t.from_address(id(obj)).value += _MARGIN
    return True
