"""``caucus pin``, ``unpin``, ``pins``, ``group describe`` and the chat lines for group
changes, over a real relay process: what an organizer does shows at every member's
``messages --json``, ``pins --json`` and ``group list --json``; a member is refused
with one clear line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.test_cli import RelayProcess, caucus, last_line

pytestmark = pytest.mark.socket


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    process.start()
    yield process
    process.stop()


def test_pins_description_and_group_lines(tmp_path: Path, server: RelayProcess) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    caucus(alice, "init", "--name", "Alice", "--relay", server.url)
    caucus(bob, "init", "--name", "Bob", "--relay", server.url)
    group_id = last_line(caucus(alice, "group", "create", "Couriers"))
    caucus(bob, "join", last_line(caucus(alice, "invite", "Couriers")))
    caucus(alice, "sync")
    caucus(bob, "sync")

    caucus(bob, "send", "Couriers", "Strike vote on Friday")
    caucus(alice, "sync")
    messages = json.loads(caucus(alice, "messages", group_id, "--json").stdout)
    (vote,) = [m for m in messages if m["text"] == "Strike vote on Friday"]
    caucus(alice, "pin", "Couriers", vote["id"])
    caucus(alice, "group", "describe", "Couriers", "Rates, routes and rights")

    refused = caucus(bob, "unpin", "Couriers", vote["id"], check=False)
    assert refused.returncode != 0 and "only organizers" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr

    caucus(bob, "sync")
    pins = json.loads(caucus(bob, "pins", "Couriers", "--json").stdout)
    assert [(p["id"], p["text"], p["pinned_by"]) for p in pins] == [
        (vote["id"], "Strike vote on Friday", "Alice")
    ]
    assert "Strike vote on Friday  (pinned by Alice)" in caucus(bob, "pins", "Couriers").stdout
    (group,) = json.loads(caucus(bob, "group", "list", "--json").stdout)
    assert group["description"] == "Rates, routes and rights"

    seen = [
        (m["kind"], m["text"])
        for m in json.loads(caucus(bob, "messages", group_id, "--json").stdout)
    ]
    assert seen == [
        ("event", "Bob joined with Alice's invite"),
        ("text", "Strike vote on Friday"),
        ("event", "pinned a message"),
        ("event", "Alice changed the group description"),
    ]

    caucus(alice, "unpin", "Couriers", vote["id"])
    caucus(bob, "sync")
    assert json.loads(caucus(bob, "pins", "Couriers", "--json").stdout) == []
