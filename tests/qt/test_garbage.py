"""The check behind ``no_live_qt_object_left_to_the_collector`` sees what it must."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtCore import QObject, QTimer

from tests.qt.garbage import collector_finds


class _Node:
    timer: QTimer | None = None
    self_ref: _Node | None = None


def _cycle_holding(timer: QTimer) -> None:
    node = _Node()
    node.timer, node.self_ref = timer, node


def test_a_live_timer_in_a_cycle_is_found_and_freed_on_this_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    timer = QTimer()
    timer.start(60_000)
    with collector_finds() as found:
        _cycle_holding(timer)
        watched = timer
        del timer
        # The collector runs on another thread, as it would on the engine's: it must keep
        # the cycle, not destroy the running timer over there.
        worker = threading.Thread(target=__import__("gc").collect)
        worker.start()
        worker.join()
        assert shiboken6.isValid(watched)
        del watched
    assert found == ["PySide6.QtCore.QTimer"]


def test_objects_with_a_parent_or_already_deleted_are_not_reported(qtbot) -> None:  # type: ignore[no-untyped-def]
    parent = QObject()
    with collector_finds() as found:
        _cycle_holding(QTimer(parent))  # Qt owns it: the collector only drops the wrapper
        gone = QTimer()
        shiboken6.delete(gone)
        _cycle_holding(gone)
        del gone
    assert found == []
    shiboken6.delete(parent)
