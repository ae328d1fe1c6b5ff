"""A private D-Bus session bus (the Debian ``dbus-daemon``) with a freedesktop
notification service on it that records what it is asked to show: the desktop's side of
``app/qt/notifications.py``, which talks to it exactly as to GNOME's or KDE's."""

from __future__ import annotations

# dbus-fast reads D-Bus signatures ("s", "as", "a{sv}") from the method annotations.
# ruff: noqa: F722, F821, UP037
# mypy: disable-error-code="name-defined, valid-type, misc"
import asyncio
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method

from tests.conftest import require_tool


@dataclass(frozen=True)
class Shown:
    app_name: str
    summary: str
    body: str


@dataclass
class NotificationService:
    address: str
    shown: list[Shown] = field(default_factory=list)


class _Notifications(ServiceInterface):
    def __init__(self, record: list[Shown]) -> None:
        super().__init__("org.freedesktop.Notifications")
        self._record = record

    @method()
    def Notify(
        self,
        app_name: "s",
        replaces_id: "u",
        app_icon: "s",
        summary: "s",
        body: "s",
        actions: "as",
        hints: "a{sv}",
        timeout: "i",
    ) -> "u":
        self._record.append(Shown(app_name, summary, body))
        return len(self._record)

    @method()
    def GetCapabilities(self) -> "as":
        return ["body"]

    @method()
    def GetServerInformation(self) -> "ssss":
        return ["caucus-test", "caucus", "1", "1.2"]


@contextmanager
def notification_service() -> Iterator[NotificationService]:
    """Starts the bus and the service; yields once both answer."""
    require_tool("dbus-daemon", "apt-get install dbus")
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        service = NotificationService(address)
        ready = threading.Event()
        stop: list[asyncio.Event] = []
        loop_box: list[asyncio.AbstractEventLoop] = []

        async def serve() -> None:
            connection = await MessageBus(bus_address=address).connect()
            connection.export("/org/freedesktop/Notifications", _Notifications(service.shown))
            await connection.request_name("org.freedesktop.Notifications")
            stop.append(asyncio.Event())
            loop_box.append(asyncio.get_running_loop())
            ready.set()
            await stop[0].wait()
            connection.disconnect()

        thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
        thread.start()
        if not ready.wait(20):
            raise RuntimeError("the test notification service did not start")
        try:
            yield service
        finally:
            loop_box[0].call_soon_threadsafe(stop[0].set)
            thread.join(10)
    finally:
        bus.kill()
        bus.wait()
