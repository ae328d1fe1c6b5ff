"""The outbox: a message written while the relay is down waits, then goes out."""

from __future__ import annotations

from tests.qt.helpers import WAIT_MS, create_group, create_profile, send, status_of


def test_offline_send_goes_out_when_relay_returns(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alice")
    window = create_profile(qtbot, app, "Alice", relay.url)
    create_group(qtbot, window, "Warehouse")
    qtbot.waitUntil(lambda: window.connection_label.text() == "Online", timeout=WAIT_MS)

    relay.stop()
    send(qtbot, window, "Meeting moved to 6pm")
    qtbot.waitUntil(
        lambda: status_of(window, "Meeting moved to 6pm") == "Waiting to send", timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: window.connection_label.text() != "Online", timeout=WAIT_MS)
    assert window.connection_label.text() in {
        "Offline — messages wait in the outbox",
        "Reconnecting…",
    }

    relay.start()  # same port, same database
    qtbot.waitUntil(lambda: status_of(window, "Meeting moved to 6pm") == "Sent", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.connection_label.text() == "Online", timeout=WAIT_MS)
