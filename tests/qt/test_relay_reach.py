"""Who can reach a relay address, as the invite dialog says it."""

from __future__ import annotations

import pytest

from app.qt.relay_reach import RelayReach, reach_of, reach_warning


@pytest.mark.parametrize(
    ("url", "reach"),
    [
        ("http://127.0.0.1:8080", RelayReach.LOOPBACK),
        ("http://localhost:8080", RelayReach.LOOPBACK),
        ("http://[::1]:8080", RelayReach.LOOPBACK),
        ("http://192.168.1.20:8080", RelayReach.PRIVATE),
        ("http://10.0.0.5:8080", RelayReach.PRIVATE),
        ("http://printer.local:8080", RelayReach.PRIVATE),
        ("http://relay.example.org", RelayReach.PLAIN_HTTP),
        ("https://relay.example.org", RelayReach.INTERNET),
    ],
)
def test_reach_of(url: str, reach: RelayReach) -> None:
    assert reach_of(url) is reach


def test_warnings_say_who_can_reach_it() -> None:
    assert "only this computer can reach it" in (reach_warning("http://127.0.0.1:1") or "")
    assert "only people on this network" in (reach_warning("http://192.168.1.2:1") or "")
    assert "not encrypted in transit" in (reach_warning("http://relay.example.org") or "")
    assert reach_warning("https://relay.example.org") is None


def test_the_embedded_relay_restarts_where_its_url_says(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.qt.session import EMBEDDED_RELAY_DB, embedded_relay_bind

    assert embedded_relay_bind(tmp_path, "http://127.0.0.1:4000") is None  # not ours
    (tmp_path / EMBEDDED_RELAY_DB).touch()
    assert embedded_relay_bind(tmp_path, "http://127.0.0.1:4000") == ("127.0.0.1", 4000)
    # Opted in to the LAN: listen on every interface, on the same port.
    assert embedded_relay_bind(tmp_path, "http://192.168.1.20:4000") == ("0.0.0.0", 4000)
    assert embedded_relay_bind(tmp_path, "http://relay.example.org:4000") is None
    assert embedded_relay_bind(tmp_path, "https://192.168.1.20:4000") is None
