"""Notifications through the desktop's own service (a real D-Bus session bus with a
freedesktop notification service on it, as on GNOME without a tray): who wrote where,
the text only when the person asked for it, nothing from a muted group, and the window
title's count without it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.qt.helpers import WAIT_MS, send, shown_texts
from tests.qt.notification_service import NotificationService, notification_service
from tests.qt.pair import organizer_and_member


@pytest.fixture
def desktop(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotificationService]:
    with notification_service() as service:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
        yield service


def test_messages_notify_through_the_desktop_service_and_a_mute_silences_them(
    qtbot, relay, make_app, desktop: NotificationService
) -> None:  # type: ignore[no-untyped-def]
    alice_app, alice, _bob_app, bob = organizer_and_member(qtbot, relay, make_app, "Couriers")
    bob.activateWindow()  # Alice's window is in the background
    qtbot.waitUntil(lambda: not alice.isActiveWindow(), timeout=WAIT_MS)
    delivered: list[tuple[str, str]] = []
    alice_app.notifier.delivered.connect(lambda title, via: delivered.append((title, via)))

    send(qtbot, bob, "canary: the pay offer is 14 an hour")
    qtbot.waitUntil(lambda: len(desktop.shown) == 1, timeout=WAIT_MS)
    shown = desktop.shown[0]
    assert (shown.app_name, shown.summary, shown.body) == (
        "Caucus",
        "Bob in Couriers",
        "New message",
    )
    qtbot.waitUntil(lambda: delivered == [("Bob in Couriers", "desktop")], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: alice.windowTitle() == "(1) Caucus", timeout=WAIT_MS)

    # Asked for in Settings: the text, shortened to one line.
    alice.show_message_text = True
    bob.send("second\nline")  # typed with Shift+Enter between the lines
    qtbot.waitUntil(lambda: len(desktop.shown) == 2, timeout=WAIT_MS)
    assert desktop.shown[1].body == "second line"

    # Muted from the Group menu: the message arrives, raises nothing, and the title stops
    # counting the group.
    alice.mute_action.trigger()
    qtbot.waitUntil(lambda: alice.current_group().muted, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: alice.windowTitle() == "Caucus", timeout=WAIT_MS)
    send(qtbot, bob, "while muted")
    qtbot.waitUntil(lambda: "while muted" in shown_texts(alice), timeout=WAIT_MS)

    alice.mute_action.trigger()  # unmuted: the next one notifies again
    qtbot.waitUntil(lambda: not alice.current_group().muted, timeout=WAIT_MS)
    send(qtbot, bob, "after the mute")
    qtbot.waitUntil(lambda: len(desktop.shown) == 3, timeout=WAIT_MS)
    assert [s.body for s in desktop.shown] == ["New message", "second line", "after the mute"]


def test_without_a_desktop_service_the_tray_or_nothing_takes_over(
    qtbot, relay, make_app, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    alice_app, alice, _bob_app, bob = organizer_and_member(qtbot, relay, make_app, "Couriers")
    bob.activateWindow()
    qtbot.waitUntil(lambda: not alice.isActiveWindow(), timeout=WAIT_MS)
    delivered: list[tuple[str, str]] = []
    alice_app.notifier.delivered.connect(lambda title, via: delivered.append((title, via)))
    send(qtbot, bob, "hello")
    qtbot.waitUntil(lambda: len(delivered) == 1, timeout=WAIT_MS)
    # Offscreen Qt has no tray: the failure is noticed, and the app goes on.
    assert delivered[0][0] == "Bob in Couriers"
    assert delivered[0][1] in ("tray", "none")
    qtbot.waitUntil(lambda: alice.windowTitle() == "(1) Caucus", timeout=WAIT_MS)
