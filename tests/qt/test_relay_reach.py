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
