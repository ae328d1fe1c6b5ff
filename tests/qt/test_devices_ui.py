"""The devices screen: list, link a new computer (code and QR code), remove one. Alice's
desktop app against a real relay; the new computer is a headless engine beside it."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from app.core.api import Engine, SyncNow, create_profile
from tests.qt.helpers import WAIT_MS, click, create_group
from tests.qt.helpers import create_profile as create_app_profile


def _laptop(tmp_path: Path, relay_url: str) -> Engine:
    db = create_profile(
        tmp_path / "laptop",
        name="Laptop",
        relay_url=relay_url,
        passphrase="passphrase of the laptop",
        rng=os.urandom,
        now=int(time.time() * 1000),
        cost="interactive",
    )
    return Engine(db)


def test_link_list_and_remove_a_device(qtbot, relay, make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alice")
    alice = create_app_profile(qtbot, app, "Alice", relay.url)
    create_group(qtbot, alice, "Riders")

    alice.devices_action.trigger()
    dialog = alice.dialog
    qtbot.waitUntil(lambda: dialog.list.count() == 1, timeout=WAIT_MS)
    assert dialog.list.item(0).text().startswith("First device\n")
    assert "holds your identity key" in dialog.list.item(0).text()
    assert "this computer" in dialog.list.item(0).text()
    dialog.list.setCurrentRow(0)
    assert not dialog.remove_button.isEnabled()  # the first device cannot be removed
    assert not dialog.qr.isVisible()

    click(qtbot, dialog.link_button)
    qtbot.waitUntil(lambda: dialog.code.text().startswith("caucus://link#"), timeout=WAIT_MS)
    assert dialog.qr.isVisible() and not dialog.qr.pixmap().isNull()
    code = dialog.code.text()

    laptop = _laptop(tmp_path, relay.url)
    loop = asyncio.new_event_loop()  # one loop for the laptop's relay connections
    try:
        loop.run_until_complete(laptop.devices.add(code))
        synced: list[object] = []
        app.bridge.submit(SyncNow(), synced.append, synced.append)
        qtbot.waitUntil(lambda: bool(synced), timeout=WAIT_MS)
        report = loop.run_until_complete(laptop.sync())
        assert len(report.joined) == 1
    finally:
        loop.run_until_complete(laptop.close())
        loop.close()

    dialog.refresh()
    qtbot.waitUntil(lambda: dialog.list.count() == 2, timeout=WAIT_MS)
    row = next(i for i in range(2) if dialog.list.item(i).text().startswith("Laptop"))
    dialog.list.setCurrentRow(row)
    assert dialog.remove_button.isEnabled()
    click(qtbot, dialog.remove_button)
    qtbot.waitUntil(lambda: "Removed from 1 group:" in dialog.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.list.count() == 1, timeout=WAIT_MS)
