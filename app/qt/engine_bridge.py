"""The engine in its own thread, with its own asyncio loop, seen from the GUI as signals.

The GUI thread never awaits anything and never touches the engine: it submits a typed
command (``app.core.commands``), which runs on the engine loop through
``asyncio.run_coroutine_threadsafe``; its result (or error) comes back as a queued Qt
signal, and engine events are forwarded the same way. So a slow relay or a long commit
never freezes a window, and the engine keeps its "one loop, one thread" rule.

The rules, checked by tests/qt: a result or error callback runs on the GUI thread, once,
and only while the bridge still runs (``stop`` drops pending callbacks); a command
submitted while the engine is still opening runs as soon as it is open; after a stop, a
submitted command fails at once with "the profile is locked".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.core.api import CaucusError, ClientError, Command
from app.core.engine import Engine
from app.core.events import Event
from app.core.profile import open_with_key

__all__ = ["EngineBridge"]

log = logging.getLogger("caucus.qt")

R = TypeVar("R")
OnDone = Callable[[Any], None]
OnError = Callable[[Exception], None]

_RESTART_PAUSE_S = 5.0


class EngineBridge(QObject):
    """Owns one unlocked engine running ``Engine.run`` in a worker thread."""

    engine_event = Signal(object)  # an app.core.events value, delivered on the GUI thread
    started = Signal(str, str)  # profile name, relay URL
    start_failed = Signal(str)  # a message safe to show
    stopped = Signal()
    _finished = Signal(int, object, object)  # call id, result, exception
    _thread_done = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self._want_stop = threading.Event()
        # Calls made while the engine is still opening wait here (guarded by the lock).
        self._early: list[tuple[int, Command[Any]]] = []
        self._early_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[OnDone | None, OnError | None]] = {}
        # Both are emitted on the engine thread and connected to methods of this
        # GUI-thread object, so Qt queues them onto the GUI thread.
        self._finished.connect(self._dispatch)
        self._thread_done.connect(self._on_thread_done)

    # -- life cycle (GUI thread) ------------------------------------------------------

    def start(self, home: Path, key: bytes, **engine_options: Any) -> None:
        """Open a second connection with ``key`` and run the engine until ``stop``.

        ``engine_options`` go to ``Engine`` (tests pass a clock or an rng).
        """
        if self._thread is not None:
            raise RuntimeError("the engine bridge is already running")
        self._thread = threading.Thread(
            target=self._thread_main,
            args=(home, key, engine_options),
            name="caucus-engine",
            daemon=True,
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._engine is not None

    def stop(self) -> None:
        """Ask the engine to finish; ``stopped`` is emitted when its thread has ended.

        Pending calls never report back: their callers are being torn down too.
        """
        self._callbacks.clear()
        self._want_stop.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until the worker thread ended (for quitting the app); True if it did."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- calls (GUI thread) -----------------------------------------------------------

    def submit(
        self,
        command: Command[R],
        on_done: Callable[[R], None] | None = None,
        on_error: OnError | None = None,
    ) -> None:
        """Run ``command`` on the engine loop; report its result on the GUI thread.

        Commands submitted while the engine is still opening run as soon as it is ready.
        """
        with self._early_lock:
            loop, ready = self._loop, self._engine is not None
            starting = not ready and self._thread is not None and not self._want_stop.is_set()
            if ready or starting:
                call_id = next(self._ids)
                self._callbacks[call_id] = (on_done, on_error)
            if starting:
                self._early.append((call_id, command))
                return
        if not ready or loop is None:
            if on_error is not None:
                on_error(ClientError("the profile is locked"))
            return
        future = asyncio.run_coroutine_threadsafe(self._invoke(command), loop)
        future.add_done_callback(functools.partial(self._report, call_id))

    async def _invoke(self, command: Command[Any]) -> Any:
        engine = self._engine
        if engine is None:
            raise ClientError("the profile is locked")
        return await command.run(engine)

    def _report(self, call_id: int, future: Future[Any] | asyncio.Future[Any]) -> None:
        # Runs on the engine thread: hand the outcome to the GUI thread.
        if future.cancelled():
            self._finished.emit(call_id, None, ClientError("cancelled while locking"))
            return
        error = future.exception()
        if error is not None:
            self._finished.emit(call_id, None, error)
        else:
            self._finished.emit(call_id, future.result(), None)

    def _dispatch(self, call_id: int, result: Any, error: Any) -> None:
        callbacks = self._callbacks.pop(call_id, None)
        if callbacks is None:
            return
        on_done, on_error = callbacks
        if error is None:
            if on_done is not None:
                on_done(result)
        elif on_error is not None:
            on_error(error)
        elif isinstance(error, CaucusError):
            log.warning("engine call failed: %s", type(error).__name__)
        else:
            log.error("engine call raised %s", type(error).__name__)

    # -- the worker thread ------------------------------------------------------------

    def _thread_main(self, home: Path, key: bytes, options: dict[str, Any]) -> None:
        try:
            asyncio.run(self._main(home, key, options))
        finally:
            self._loop = None
            self._stop = None
            self._thread_done.emit()

    def _forward_event(self, event: Event) -> None:
        # Engine thread: the signal queues the event onto the GUI thread.
        self.engine_event.emit(event)

    def _on_thread_done(self) -> None:
        self.stopped.emit()

    async def _main(self, home: Path, key: bytes, options: dict[str, Any]) -> None:
        try:
            engine = Engine(open_with_key(home, key), **options)
        except CaucusError as exc:
            self.start_failed.emit(str(exc))
            return
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._want_stop.is_set():  # stop() came while the database was opening
            self._stop.set()
        unsubscribe = engine.subscribe(self._forward_event)
        with self._early_lock:
            self._engine = engine
            early, self._early = self._early, []
        for call_id, command in early:
            task = asyncio.ensure_future(self._invoke(command))
            task.add_done_callback(functools.partial(self._report, call_id))
        self.started.emit(engine.name, engine.relay_url)
        try:
            await self._run_until_stopped(engine, self._stop)
        finally:
            self._engine = None
            unsubscribe()
            await _cancel_other_tasks()
            await engine.close()

    @staticmethod
    async def _run_until_stopped(engine: Engine, stop: asyncio.Event) -> None:
        """``Engine.run`` until asked to stop; a bug in one pass must not end syncing."""
        while not stop.is_set():
            try:
                await engine.run(stop)
            except Exception as exc:
                log.error("sync loop failed with %s; restarting", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=_RESTART_PAUSE_S)


async def _cancel_other_tasks() -> None:
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
