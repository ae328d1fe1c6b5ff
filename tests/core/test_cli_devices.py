"""``caucus device ...`` over a real relay process: Alice links a second computer, both of
her profiles read every message, and a removed device reads nothing sent afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.test_cli import RelayProcess, caucus, last_line

# About 20 client processes, each deriving a key: slow on a busy 2-core machine.
pytestmark = [pytest.mark.socket, pytest.mark.timeout(900)]


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    process.start()
    yield process
    process.stop()


def texts(home: Path, group: str) -> list[tuple[str, str]]:
    rows = json.loads(caucus(home, "messages", group, "--json").stdout)
    return [(m["sender"], m["text"]) for m in rows if m["kind"] == "text"]  # not event lines


def test_link_list_and_remove_a_device(tmp_path: Path, relay: RelayProcess) -> None:
    alice, bob, laptop = (tmp_path / n for n in ("alice", "bob", "laptop"))
    for home, name in ((alice, "Alice"), (bob, "Bob")):
        caucus(home, "init", "--name", name, "--relay", relay.url)
    caucus(alice, "group", "create", "Riders")
    code = last_line(caucus(alice, "invite", "Riders"))
    caucus(bob, "join", code)
    caucus(alice, "sync")
    caucus(bob, "sync")
    caucus(alice, "send", "Riders", "before the laptop")

    code = last_line(caucus(alice, "device", "link"))
    assert code.startswith("caucus://link#")
    asked = caucus(laptop, "device", "add", "-", "--name", "Laptop", check=False, stdin=code)
    assert asked.returncode == 3, asked.stderr  # waits for the first device
    caucus(alice, "sync")  # links it: DEVICE_ADD in every group, the bundle
    caucus(laptop, "sync")  # installs the bundle
    assert texts(laptop, "Riders") == [("Alice", "before the laptop")]

    devices = json.loads(caucus(laptop, "device", "list", "--json").stdout)
    assert sorted(d["name"] for d in devices) == ["First device", "Laptop"]
    assert [d["name"] for d in devices if d["this_device"]] == ["Laptop"]

    caucus(bob, "sync")
    caucus(bob, "send", "Riders", "hello both")
    caucus(laptop, "send", "Riders", "typed on the laptop")
    for home in (alice, bob, laptop):
        caucus(home, "sync")
    for home in (alice, bob, laptop):
        assert set(texts(home, "Riders")) == {
            ("Alice", "before the laptop"),
            ("Bob", "hello both"),
            ("Alice", "typed on the laptop"),
        }
    members = json.loads(caucus(bob, "members", "Riders", "--json").stdout)
    assert sorted(m["name"] for m in members) == ["Alice", "Bob"]

    # A group Alice creates after linking reaches the laptop on the next syncs (8.4).
    caucus(alice, "group", "create", "Couriers")
    caucus(alice, "sync")  # adds the laptop with one of the keys it sent
    caucus(laptop, "sync")  # enters the group from its device channel
    caucus(laptop, "send", "Couriers", "later group, from the laptop")
    caucus(alice, "sync")
    assert texts(alice, "Couriers") == [("Alice", "later group, from the laptop")]
    assert len(json.loads(caucus(alice, "device", "list", "--json").stdout)) == 2

    laptop_id = next(d["id"] for d in devices if not d["first_device"])
    caucus(alice, "device", "remove", laptop_id)
    caucus(bob, "sync")
    caucus(bob, "send", "Riders", "CANARY after the removal")
    for home in (alice, bob, laptop):
        caucus(home, "sync")
    assert ("Bob", "CANARY after the removal") in texts(alice, "Riders")
    assert all("CANARY" not in text for _, text in texts(laptop, "Riders"))
    assert len(json.loads(caucus(alice, "device", "list", "--json").stdout)) == 1
    # Nor is it added to a group created after its removal.
    caucus(alice, "group", "create", "After")
    for home in (alice, laptop, alice):
        caucus(home, "sync")
    names = [g["name"] for g in json.loads(caucus(laptop, "group", "list", "--json").stdout)]
    assert "Couriers" in names and "After" not in names

    wrong = caucus(alice, "device", "remove", "00000000", check=False)
    assert wrong.returncode != 0
    assert wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr
