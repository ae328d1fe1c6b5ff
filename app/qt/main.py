"""``caucus`` without a subcommand: the desktop app.

``run_desktop(args)`` parses the few desktop options, sets up Qt (high-DPI, theme,
icon) and runs the event loop until the person quits; it returns the exit status.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.qt.controller import AppController, LaunchOptions
from app.qt.settings import DesktopSettings
from app.qt.single_instance import SingleInstance, hand_over, server_name
from app.qt.theme import app_icon, apply_theme

__all__ = ["parse_options", "run_desktop"]

LINK_PREFIX = "caucus://"


def _default_home() -> Path:
    from app.cli import default_home

    return default_home()


def parse_options(args: Sequence[str]) -> LaunchOptions:
    """``--embedded-relay``, ``--home DIR``, ``--gui`` and an optional caucus:// link."""
    parser = argparse.ArgumentParser(prog="caucus", description="Caucus desktop app")
    parser.add_argument("--gui", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--embedded-relay",
        action="store_true",
        help="offer a local relay on 127.0.0.1 for a new profile",
    )
    parser.add_argument("--home", type=Path, default=None, help="profile directory")
    parser.add_argument("--no-keyring", action="store_true", help="never use the OS keyring")
    parser.add_argument(
        "link",
        nargs="?",
        default=None,
        help="a caucus://join#… invite or caucus://link#… link code",
    )
    ns = parser.parse_args(list(args))
    link = ns.link
    if link is not None and not link.startswith(LINK_PREFIX):
        parser.error("the only argument accepted is a caucus:// invite or link code")
    home = ns.home.expanduser() if ns.home else _default_home()
    return LaunchOptions(
        home=home,
        embedded_relay=ns.embedded_relay,
        join_code=link,
        use_keyring=not ns.no_keyring,
    )


def run_desktop(args: Sequence[str]) -> int:
    """Open the desktop app; returns the process exit status."""
    logging.basicConfig(level=logging.WARNING, format="caucus: %(message)s")
    # --smoke-test (hidden, for packaging checks): show the first screen, name it, exit.
    smoke = "--smoke-test" in args or bool(os.environ.get("CAUCUS_QT_SMOKE"))
    args = [arg for arg in args if arg != "--smoke-test"]
    try:
        options = parse_options(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0]])
    app.setApplicationName("Caucus")
    app.setApplicationDisplayName("Caucus")
    app.setOrganizationName("Caucus")
    app.setDesktopFileName("caucus")
    app.setWindowIcon(app_icon())
    name = server_name(options.home)
    if not smoke and hand_over(name, options.join_code or ""):
        # Caucus already runs for this profile: it has the link and shows its window.
        print("caucus: already running; switched to the open window", file=sys.stderr)
        return 0
    instance = SingleInstance(name)
    if not instance.listen():
        logging.getLogger("caucus.qt").warning("cannot listen for a second launch's links")
    settings = DesktopSettings()
    apply_theme(app, settings.theme)
    controller = AppController(options, settings=settings)
    instance.link_received.connect(controller.handle_link)
    app.aboutToQuit.connect(controller.shutdown)
    app.aboutToQuit.connect(instance.close)
    # Ctrl+C in the terminal quits cleanly instead of being swallowed by the Qt loop.
    signal.signal(signal.SIGINT, lambda *_: controller.quit())
    controller.start()
    if smoke:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: _report_first_screen(app, controller))
    return int(app.exec())


def _report_first_screen(app: QApplication, controller: AppController) -> None:
    """Print the visible window's title once the event loop has run; exit 1 if none."""
    shown = [w for w in app.topLevelWidgets() if w.isVisible()]
    if not shown:
        print("caucus: smoke test: no window is shown", file=sys.stderr, flush=True)
        controller.shutdown()
        app.exit(1)
        return
    names = ", ".join(f"{type(w).__name__} ({w.windowTitle()!r})" for w in shown)
    print(f"caucus smoke test: showing {names}", flush=True)
    controller.quit()
