"""``caucus send --attach`` and ``caucus attachment get`` over a real relay process: the
file comes out identical at another member, an existing file is kept without --force,
and errors (over the limit, a message without files) are one clean line."""

from __future__ import annotations

import json
import os
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


def test_send_attach_and_get(tmp_path: Path, server: RelayProcess) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    caucus(alice, "init", "--name", "Alice", "--relay", server.url)
    caucus(bob, "init", "--name", "Bob", "--relay", server.url)
    group_id = last_line(caucus(alice, "group", "create", "Couriers"))
    caucus(bob, "join", last_line(caucus(alice, "invite", "Couriers")))
    caucus(alice, "sync")
    caucus(bob, "sync")

    caucus(alice, "send", "Couriers", "hello")
    rota = tmp_path / "rota.csv"
    rota.write_bytes(os.urandom(70_000))
    caucus(alice, "send", "Couriers", "next week's rota", "--attach", str(rota))
    caucus(bob, "sync")
    messages = json.loads(caucus(bob, "messages", group_id, "--json").stdout)
    (message,) = [m for m in messages if m["attachments"]]
    assert message["text"] == "next week's rota"
    assert message["attachments"] == [
        {"name": "rota.csv", "size": 70_000, "media_type": "text/csv"}
    ]

    plain = caucus(bob, "messages", group_id).stdout
    assert "next week's rota  [file rota.csv, 70000 bytes]" in plain

    out = tmp_path / "copy.csv"
    written = caucus(bob, "attachment", "get", "Couriers", message["id"], "--out", str(out))
    assert last_line(written) == str(out) and out.read_bytes() == rota.read_bytes()

    out.write_bytes(b"edited locally")
    again = caucus(
        bob, "attachment", "get", "Couriers", message["id"], "--out", str(out), check=False
    )
    assert again.returncode != 0 and "--force" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr
    assert out.read_bytes() == b"edited locally"
    caucus(bob, "attachment", "get", "Couriers", message["id"], "--out", str(out), "--force")
    assert out.read_bytes() == rota.read_bytes()

    (hello,) = [m for m in messages if m["text"] == "hello"]
    none = caucus(bob, "attachment", "get", group_id, hello["id"], "--out", str(out), check=False)
    assert none.returncode != 0 and "no attached files" in none.stderr

    huge = tmp_path / "huge.iso"
    with huge.open("wb") as handle:
        handle.truncate(100 * (1 << 20) + 1)
    refused = caucus(alice, "send", "Couriers", "--attach", str(huge), check=False)
    assert refused.returncode != 0 and "larger than 100 MiB" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
