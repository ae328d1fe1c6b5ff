"""`caucus --embedded-relay`: a local relay for trying Caucus out, started again on the
same port next time; a caucus:// link opens the join dialog."""

from __future__ import annotations

from app.qt.main import parse_options
from tests.qt.helpers import PASSPHRASE, WAIT_MS, click, create_group, create_profile


def test_embedded_relay_comes_back_on_the_same_port(qtbot, make_app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = make_app("solo", embedded_relay=True)
    assert first.first_run.embedded.isChecked()
    assert not first.first_run.relay_url.isEnabled()
    window = create_profile(qtbot, first, "Sam", embedded=True)
    create_group(qtbot, window, "Try-out")
    qtbot.waitUntil(lambda: window.connection_label.text() == "Online", timeout=WAIT_MS)
    assert (tmp_path / "solo" / "relay.db").exists()
    url = first.relay.url
    first.shutdown()

    link = "caucus://join#AAAA"
    again = make_app("solo", join_code=link)
    screen = again.unlock_screen
    qtbot.keyClicks(screen.passphrase, PASSPHRASE)
    click(qtbot, screen.unlock)
    qtbot.waitUntil(lambda: again.main_window is not None, timeout=WAIT_MS)
    assert again.relay.url == url
    window = again.main_window
    qtbot.waitUntil(lambda: window.connection_label.text() == "Online", timeout=WAIT_MS)
    assert window.group_model.index(0).data() == "Try-out"
    assert window.dialog.code.toPlainText() == link  # the link opened the join dialog


def test_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    options = parse_options(["--embedded-relay", "--home", str(tmp_path)])
    assert options.embedded_relay and options.home == tmp_path and options.join_code is None
    options = parse_options(["--gui", "--home", str(tmp_path), "caucus://join#x"])
    assert options.join_code == "caucus://join#x"
