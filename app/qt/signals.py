"""``emit(signal, *args)``: emitting a Qt signal without corrupting Python's ``True``.

PySide6 6.12.0's ``SignalInstance.emit()`` returns ``True`` without taking a reference
for it, so every emit from Python code drops one reference to the ``True`` singleton; a
long-running app (or a test run) eventually aborts with "deallocating True or False".
Whether the binding has that fault is measured once at import; only then is the lost
reference given back, so a fixed PySide6 needs no change here.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

__all__ = ["emit"]


class _Probe(QObject):
    ping = Signal()


_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


def _emit_drops_a_reference() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(64):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    for _ in range(max(lost, 0)):  # repair what the probe itself broke
        _incref(True)
    return lost >= 32


_GIVE_BACK = _emit_drops_a_reference()


def emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)``, repairing the reference count PySide6 6.12 gets wrong."""
    result: Any = signal.emit(*args)  # type: ignore[func-returns-value]
    if _GIVE_BACK and isinstance(result, bool):
        _incref(result)
