"""The desktop app's life cycle: first run or unlock, the unlocked session, locking (on
demand and when idle), changing the passphrase, the tray icon, and quitting.

One ``AppController`` per process. It owns at most one unlocked session at a time: the
GUI's read connection, an ``EngineBridge`` and a ``MainWindow``. Locking tears all three
down, so the database key leaves memory and the next unlock needs the passphrase again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from app.core.api import (
    BackUpIfDue,
    LinkCancelled,
    SyncNow,
    WrongPassphrase,
    change_passphrase,
    open_with_key,
    profile_exists,
    read_recovery_words,
    restore_backup,
    unlock_with_key,
    wall_clock_ms,
)
from app.core.events import DeviceLinked, Event
from app.qt.backups import BackupsDialog, RestoreDialog, RestoreRequest
from app.qt.dialogs.join import JoinDialog
from app.qt.dialogs.passphrase import ChangePassphraseDialog
from app.qt.dialogs.settings import SettingsDialog
from app.qt.engine_bridge import EngineBridge
from app.qt.first_run import FirstRunScreen, NewLinkedDevice, NewProfile, is_link_code
from app.qt.jobs import BackgroundJob
from app.qt.keyring_store import KeyringStore
from app.qt.main_window import MainWindow
from app.qt.notifications import Notifier
from app.qt.session import (
    OpenedProfile,
    create_new_profile,
    kdf_cost,
    link_new_device,
    open_with_stored_key,
    unlock_profile,
)
from app.qt.settings import DesktopSettings
from app.qt.theme import app_icon, apply_theme
from app.qt.unlock import UnlockScreen
from app.qt.verification import VerificationStore
from app.qt.widgets import human_error

__all__ = ["AppController", "LaunchOptions"]

log = logging.getLogger("caucus.qt")

BACKUP_CHECK_MS = 15 * 60 * 1000  # how often the desktop asks whether a backup is due
LINK_CANCELLED = "Linking cancelled. To try again, show a new code on your other computer."
LINK_CODE_HERE = (
    "That is a link code: it links a new computer, in that computer's first run. "
    "This computer already has a profile."
)

_IDLE_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


@dataclass(frozen=True)
class LaunchOptions:
    """What the command line asked for."""

    home: Path
    embedded_relay: bool = False
    join_code: str | None = None
    use_keyring: bool = True


class _IdleWatcher(QObject):
    """Restarts the idle timer on any keyboard or mouse use anywhere in the app."""

    def __init__(self, timer: QTimer, parent: QObject) -> None:
        super().__init__(parent)  # goes with the controller, on the GUI thread
        self._timer = timer

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _IDLE_EVENTS and self._timer.isActive():
            self._timer.start()
        return False


class AppController(QObject):
    """Decides which screen shows and holds the unlocked session."""

    session_opened = Signal()
    locked = Signal()
    # Emitted on the linking job's thread once the request is on the relay; queued here.
    _link_waiting = Signal()

    def __init__(
        self,
        options: LaunchOptions,
        *,
        settings: DesktopSettings | None = None,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.options = options
        self.home = options.home
        self.settings = settings or DesktopSettings()
        self.keyring = KeyringStore(self.home, enabled=options.use_keyring)
        self._engine_options = engine_options or {}
        self.first_run: FirstRunScreen | None = None
        self.unlock_screen: UnlockScreen | None = None
        self.main_window: MainWindow | None = None
        self.profile: OpenedProfile | None = None
        self.bridge: EngineBridge | None = None
        self.relay: Any | None = None  # the embedded relay, kept across lock/unlock
        self.store = VerificationStore()
        self.last_notification: tuple[str, str] | None = None
        self._pending_join = options.join_code
        self._join_after_create: str | None = None
        self._link_cancel: threading.Event | None = None  # set: stop waiting for the link
        self._link_waiting.connect(self._on_link_waiting)
        self._job: BackgroundJob | None = None
        self._retired: list[EngineBridge] = []
        self._buffered: list[Event] = []
        self._passphrase_dialog: ChangePassphraseDialog | None = None
        self._graveyard: list[QWidget] = []
        self.restore_dialog: RestoreDialog | None = None
        self.backups_dialog: BackupsDialog | None = None
        self.backup_timer = QTimer(self)  # periodic backups (docs/protocol.md 9.5)
        self.backup_timer.setInterval(BACKUP_CHECK_MS)
        self.backup_timer.timeout.connect(self._back_up_if_due)
        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.timeout.connect(self._idle)
        self._idle_watcher = _IdleWatcher(self.idle_timer, self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._idle_watcher)
        self.tray = self._make_tray()
        self.notifier = Notifier(self._tray_message, self)

    # -- start ------------------------------------------------------------------------

    def start(self) -> None:
        """Show the first screen: first run, or unlock (or straight in with the keyring)."""
        if not profile_exists(self.home):
            self._show_first_run()
            return
        if not (self.options.use_keyring and self.keyring.available):
            self._show_unlock("")
            return
        start_relay = self.relay is None

        def work() -> OpenedProfile | None:
            # The keyring may wait on the desktop's secret service: not on this thread.
            key = self.keyring.load()
            if key is None:
                return None
            return open_with_stored_key(self.home, key, start_relay=start_relay)

        def done(opened: OpenedProfile | None) -> None:
            if opened is None:
                self._show_unlock("")
            else:
                self._opened(opened)

        self._run_job(work, done, lambda _error: self._show_unlock(""))

    def _show_first_run(self) -> None:
        screen = FirstRunScreen(
            embedded_preselected=self.options.embedded_relay,
            keyring_available=self.keyring.available,
            keyring_reason=self.keyring.reason,
            join_code=self._pending_join,
        )
        self._pending_join = None  # the join door has it now
        screen.create_requested.connect(self._create_profile)
        screen.link_requested.connect(self._link_device)
        screen.link_cancel_requested.connect(self._cancel_link)
        screen.restore_requested.connect(lambda: self.open_restore(replace=False))
        self.first_run = screen
        screen.show()

    def _show_unlock(self, message: str) -> None:
        screen = UnlockScreen(
            self.home,
            keyring_available=self.keyring.available,
            keyring_reason=self.keyring.reason,
            locked_message=message,
        )
        screen.unlock_requested.connect(self._unlock)
        screen.forgot_requested.connect(lambda: self.open_restore(replace=True))
        if self.unlock_screen is not None:
            self._dispose(self.unlock_screen)
        self.unlock_screen = screen
        screen.show()
        screen.activateWindow()

    def _dispose(self, widget: QWidget) -> None:
        """Hide and delete a top-level window later, from the event loop.

        Dropping the last Python reference would delete it at once, possibly while one
        of its own handlers (the Ctrl+L shortcut, a button) is still running.
        """
        widget.hide()
        widget.deleteLater()
        self._graveyard = [w for w in self._graveyard if shiboken6.isValid(w)]
        self._graveyard.append(widget)

    # -- background steps -------------------------------------------------------------

    def _run_job(
        self,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        job = BackgroundJob(work, self)
        job.succeeded.connect(on_done)
        job.failed.connect(on_error)
        job.succeeded.connect(lambda _r: self._job_finished(job))
        job.failed.connect(lambda _e: self._job_finished(job))
        self._job = job
        job.start()

    def _job_finished(self, job: BackgroundJob) -> None:
        if self._job is job:
            self._job = None
        job.deleteLater()

    def busy(self) -> bool:
        """True while a key derivation or profile operation runs (tests wait on it)."""
        return self._job is not None

    def _create_profile(self, request: NewProfile) -> None:
        if self.first_run is not None:
            self.first_run.set_busy(True)
        self._join_after_create = request.join_code

        def work() -> OpenedProfile:
            return create_new_profile(
                self.home,
                name=request.name,
                passphrase=request.passphrase,
                relay_url=request.relay_url,
                embedded_relay=request.embedded_relay,
                embedded_on_lan=request.embedded_on_lan,
            )

        def failed(error: BaseException) -> None:
            self._join_after_create = None
            if self.first_run is not None:
                self.first_run.fail(human_error(error))

        self._run_job(self._remembering(request.remember_key, work), self._opened, failed)

    def _link_device(self, request: NewLinkedDevice) -> None:
        """The link door: create the profile, ask the other computer, wait for its answer
        (all in one job), then open the linked profile like any other (8.4)."""
        if self.first_run is None or self._job is not None:
            return
        cancel = threading.Event()
        self._link_cancel = cancel
        self.first_run.show_link_progress(waiting=False)

        def work() -> OpenedProfile:
            return link_new_device(
                self.home,
                code=request.code,
                device_name=request.device_name,
                passphrase=request.passphrase,
                cancel=cancel,
                on_waiting=self._link_waiting.emit,
                engine_options=self._engine_options,
            )

        def done(opened: OpenedProfile) -> None:
            self._link_cancel = None
            self._opened(opened)

        def failed(error: BaseException) -> None:
            self._link_cancel = None
            if self.first_run is not None:
                self.first_run.link_failed(
                    LINK_CANCELLED if isinstance(error, LinkCancelled) else human_error(error)
                )

        self._run_job(self._remembering(request.remember_key, work), done, failed)

    def _on_link_waiting(self) -> None:
        cancel = self._link_cancel
        if self.first_run is not None and cancel is not None and not cancel.is_set():
            self.first_run.show_link_progress(waiting=True)

    def _cancel_link(self) -> None:
        if self._link_cancel is not None:
            self._link_cancel.set()

    def linking(self) -> bool:
        """True while this computer waits to be linked (tests and the tray ask)."""
        return self._link_cancel is not None

    def _unlock(self, passphrase: str, remember: bool) -> None:
        def failed(error: BaseException) -> None:
            if self.unlock_screen is not None:
                self.unlock_screen.fail(human_error(error))

        start_relay = self.relay is None
        self._run_job(
            self._remembering(
                remember, lambda: unlock_profile(self.home, passphrase, start_relay=start_relay)
            ),
            self._opened,
            failed,
        )

    # -- the unlocked session ---------------------------------------------------------

    def _remembering(
        self, remember: bool, work: Callable[[], OpenedProfile]
    ) -> Callable[[], OpenedProfile]:
        """Wrap a job so it also stores the key in the keyring (off the GUI thread)."""

        def wrapped() -> OpenedProfile:
            opened = work()
            if remember:
                self.keyring.save(opened.key)
            return opened

        return wrapped

    def _opened(self, opened: OpenedProfile) -> None:
        if opened.relay is not None:
            self.relay = opened.relay
        self.profile = opened
        bridge = EngineBridge(self)
        self.store.attach(opened.reader.verified_keys(), bridge.submit)
        bridge.engine_event.connect(self._on_event)
        bridge.start_failed.connect(self._engine_failed)
        self.bridge = bridge
        window = MainWindow(opened.reader, bridge, self.store, opened.name)
        window.lock_requested.connect(self.lock)
        window.quit_requested.connect(self.quit)
        window.change_passphrase_requested.connect(self.open_change_passphrase)
        window.settings_requested.connect(self.open_settings)
        window.backups_requested.connect(self.open_backups)
        window.notify.connect(self._notify)
        window.show_message_text = self.settings.show_message_text
        self.main_window = window
        bridge.start(opened.home, opened.key, **self._engine_options)
        # One quick pass right away: catches up, flushes the outbox and tells the status
        # bar whether the relay answers (Engine.run's long-polls report only when they
        # return, up to 25 s later). A failure here is already a ConnectionChanged.
        bridge.submit(SyncNow(), None, lambda _error: None)
        self._back_up_if_due()
        self.backup_timer.start()
        for event in self._buffered:
            window.on_event(event)
        self._buffered.clear()
        for screen in (self.first_run, self.unlock_screen):
            if screen is not None:
                self._dispose(screen)
        self.first_run = self.unlock_screen = None
        window.show()
        window.activateWindow()
        self._restart_idle_timer()
        if self._join_after_create:
            # Joined through the first run's invite door: send the request right away
            # (it runs once the engine is open) and show its progress in the dialog.
            code, self._join_after_create = self._join_after_create, None
            window.open_join_dialog(code)
            if isinstance(window.dialog, JoinDialog):
                window.dialog.send()
        elif self._pending_join:
            code, self._pending_join = self._pending_join, None
            if is_link_code(code):
                window.statusBar().showMessage(LINK_CODE_HERE, 15000)
            else:
                window.open_join_dialog(code)
        self.session_opened.emit()

    def handle_link(self, link: str) -> None:
        """Another launch handed us its caucus:// link (or just wants the window shown)."""
        self._raise()
        if not link.startswith("caucus://"):
            return  # just "show yourself", or something that is not a link
        if self.first_run is not None:
            self.first_run.open_code(link)  # a link code opens the link door
        elif self.main_window is not None and is_link_code(link):
            self.main_window.statusBar().showMessage(LINK_CODE_HERE, 15000)
        elif self.main_window is not None:
            self.main_window.open_join_dialog(link)
        else:
            self._pending_join = link  # opened after the unlock

    def _on_event(self, event: Event) -> None:
        if isinstance(event, DeviceLinked):
            self._reopen()
        elif self.main_window is not None:
            self.main_window.on_event(event)

    def _reopen(self) -> None:
        """This profile just became a linked device while a session was open (the app
        was restarted while waiting): the engine and the reader still act as the device
        itself, so open them and the window again, once the old engine has ended."""
        profile, bridge = self.profile, self.bridge
        if profile is None or bridge is None:
            return
        home, key = profile.home, profile.key

        def reopen() -> None:
            self._run_job(
                lambda: open_with_stored_key(home, key, start_relay=False),
                self._opened,
                lambda error: self._show_unlock(human_error(error)),
            )

        bridge.stopped.connect(reopen)
        self._teardown()

    def _engine_failed(self, message: str) -> None:
        self._teardown()
        self._show_unlock(f"Caucus could not open the profile: {message}")

    def _teardown(self) -> None:
        """Drop the session: window, engine, reader connection, key."""
        self.backup_timer.stop()
        self.idle_timer.stop()
        window, self.main_window = self.main_window, None
        if window is not None:
            window.discard()
            self._dispose(window)
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            bridge.stop()
            self._retired.append(bridge)
            bridge.stopped.connect(lambda b=bridge: self._retire(b))
        profile, self.profile = self.profile, None
        self.store.attach(None, None)
        if profile is not None:
            profile.close()

    def _retire(self, bridge: EngineBridge) -> None:
        if bridge in self._retired:
            self._retired.remove(bridge)
        bridge.deleteLater()

    def lock(self) -> None:
        """Lock now: the passphrase is needed to continue."""
        if self.main_window is None:
            return
        self._teardown()
        self._show_unlock("Caucus is locked.")
        self.locked.emit()

    def _idle(self) -> None:
        if self.main_window is not None and self._job is None:
            self.lock()

    def _restart_idle_timer(self) -> None:
        minutes = self.settings.idle_lock_minutes
        if minutes > 0 and self.main_window is not None:
            self.idle_timer.start(minutes * 60 * 1000)
        else:
            self.idle_timer.stop()

    # -- settings and passphrase ------------------------------------------------------

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self.main_window)
        dialog.applied.connect(self._settings_applied)
        dialog.open()

    def _settings_applied(self) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self.settings.theme)
        if self.main_window is not None:
            self.main_window.show_message_text = self.settings.show_message_text
            self.main_window.chat._delegate.forget_layouts()
            self.main_window.chat.viewport().update()
        self._restart_idle_timer()

    # -- backups (app/qt/backups.py) ---------------------------------------------------

    def open_backups(self) -> None:
        if self.bridge is None:
            return
        dialog = BackupsDialog(self.bridge.submit, self.main_window)
        self.backups_dialog = dialog
        dialog.open()

    def _back_up_if_due(self) -> None:
        if self.bridge is not None:
            self.bridge.submit(BackUpIfDue(), None, self._backup_failed)

    def _backup_failed(self, error: BaseException) -> None:
        log.warning("periodic backup failed: %s", type(error).__name__)
        if self.main_window is not None:
            self.main_window.statusBar().showMessage(
                f"Periodic backup failed: {human_error(error)}", 15_000
            )

    def open_restore(self, *, replace: bool) -> None:
        """The restore form: from the first run, or "Forgot passphrase?" when unlocking."""
        parent = self.first_run or self.unlock_screen
        dialog = RestoreDialog(replace=replace, parent=parent)
        dialog.restore_requested.connect(self._restore)
        self.restore_dialog = dialog
        dialog.open()

    def _restore(self, request: RestoreRequest) -> None:
        home, dialog = self.home, self.restore_dialog
        start_relay = self.relay is None

        def work() -> OpenedProfile:
            restore_backup(
                request.file,
                read_recovery_words(request.words),
                home,
                request.passphrase,
                rng=os.urandom,
                now=wall_clock_ms(),
                cost=kdf_cost(),
                replace=request.replace,
            )
            return unlock_profile(home, request.passphrase, start_relay=start_relay)

        def done(opened: OpenedProfile) -> None:
            if dialog is not None:
                dialog.accept()
            self.restore_dialog = None
            self._opened(opened)

        def failed(error: BaseException) -> None:
            if dialog is not None:
                dialog.fail(error)

        self._run_job(work, done, failed)

    def open_change_passphrase(self) -> None:
        dialog = ChangePassphraseDialog(self.main_window)
        dialog.requested.connect(self._change_passphrase)
        self._passphrase_dialog = dialog
        dialog.open()

    def _change_passphrase(self, old: str, new: str) -> None:
        profile, dialog = self.profile, self._passphrase_dialog
        if profile is None or dialog is None:
            return
        home, current_key = profile.home, profile.key

        def check() -> bool:
            db, key = unlock_with_key(home, old)
            db.close()
            return key == current_key

        def checked(ok: bool) -> None:
            if not ok:
                dialog.fail("Wrong passphrase.")
                return
            self._rekey_after_stop(new)

        def failed(error: BaseException) -> None:
            dialog.fail(
                "Wrong passphrase." if isinstance(error, WrongPassphrase) else human_error(error)
            )

        self._run_job(check, checked, failed)

    def _rekey_after_stop(self, new: str) -> None:
        """Re-keying needs the only connection: stop the engine, then re-key."""
        profile, bridge = self.profile, self.bridge
        if profile is None or bridge is None:
            return
        home, key = profile.home, profile.key
        keyring = self.keyring
        self._passphrase_dialog = None

        def work() -> OpenedProfile:
            db = open_with_key(home, key)
            try:
                change_passphrase(home, db, new, os.urandom, kdf_cost())
            finally:
                db.close()
            opened = unlock_profile(home, new, start_relay=False)
            if keyring.load() is not None:  # it was remembered: remember the new key
                keyring.save(opened.key)
            return opened

        def done(opened: OpenedProfile) -> None:
            self._opened(opened)
            if self.main_window is not None:
                self.main_window.statusBar().showMessage("Passphrase changed.", 10000)

        def failed(error: BaseException) -> None:
            self._show_unlock(f"Changing the passphrase failed: {human_error(error)}")

        def after_stop() -> None:
            self._run_job(work, done, failed)

        bridge.stopped.connect(after_stop)
        self._teardown()
        self._show_unlock("Changing the passphrase…")
        if self.unlock_screen is not None:
            self.unlock_screen.set_busy(True)

    # -- tray and quitting ------------------------------------------------------------

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(app_icon(), self)
        tray.setToolTip("Caucus")
        menu = QMenu()
        show = QAction("Show Caucus", menu)
        show.triggered.connect(self._raise)
        lock = QAction("Lock", menu)
        lock.triggered.connect(self.lock)
        quit_action = QAction("Quit", menu)
        quit_action.triggered.connect(self.quit)
        for action in (show, lock, quit_action):
            menu.addAction(action)
        tray.setContextMenu(menu)
        tray.activated.connect(lambda _reason: self._raise())
        self._tray_menu = menu
        tray.show()
        return tray

    def _raise(self) -> None:
        window: QWidget | None = self.main_window or self.unlock_screen or self.first_run
        if window is not None:
            window.show()
            window.raise_()
            window.activateWindow()

    def _notify(self, title: str, body: str) -> None:
        self.last_notification = (title, body)
        self.notifier.show(title, body)

    def _tray_message(self, title: str, body: str) -> bool:
        """The fallback where the desktop has no notification service."""
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, body, app_icon(), 8000)
            return True
        return False

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the engine and the embedded relay; wait for them (the app is ending)."""
        bridges = [b for b in [self.bridge, *self._retired] if b is not None]
        self._cancel_link()  # the linking job gives up and removes its new profile
        self._teardown()
        for bridge in bridges:
            bridge.stop()
            bridge.wait(timeout)
        if self._job is not None:
            self._job.wait(timeout)
        relay, self.relay = self.relay, None
        if relay is not None:
            relay.stop()
        for screen in (self.first_run, self.unlock_screen):
            if screen is not None:
                screen.close()
        self.notifier.close()
        if self.tray is not None:
            self.tray.hide()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._idle_watcher)
        # Deliver what the stopped threads queued and run pending deletions now, while
        # every object they refer to still exists.
        QCoreApplication.sendPostedEvents()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    def quit(self) -> None:
        self.shutdown()
        app = QApplication.instance()
        if app is not None:
            app.quit()
