"""``caucus rates ...`` and ``caucus clients ...`` over a real relay process: three
profiles report, every one reads the same board and client figures; the threshold, CSV
export and one-line errors."""

from __future__ import annotations

import csv
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


@pytest.mark.timeout(900)  # about 30 processes, each unlocking a profile: slow on a busy machine
def test_rates_and_clients_end_to_end(tmp_path: Path, server: RelayProcess) -> None:
    alice, bob, carol = homes = tuple(tmp_path / n for n in ("alice", "bob", "carol"))
    for home, name in zip(homes, ("Alice", "Bob", "Carol"), strict=True):
        caucus(home, "init", "--name", name, "--relay", server.url)
    caucus(alice, "group", "create", "Translators")
    for home in (bob, carol):
        caucus(home, "join", last_line(caucus(alice, "invite", "Translators")))
        caucus(alice, "sync")
        caucus(home, "sync")
    for home in homes:
        caucus(home, "sync")

    refused = caucus(bob, "rates", "threshold", "Translators", "3", check=False)
    assert refused.returncode == 1
    assert refused.stderr == "caucus: only an organizer can set the reports threshold\n"
    caucus(alice, "rates", "threshold", "Translators", "3")

    for home, rate in zip(homes, ("400", "450.50", "520"), strict=True):
        out = caucus(
            home, "rates", "submit", "Translators", "--role", "Literary  Translator",
            "--rate", rate, "--currency", "EUR", "--unit", "day", "--period", "2026-Q4",
        )  # fmt: skip
        assert last_line(out) == "Anonymous rate report posted."
    for home in homes:
        caucus(home, "sync")

    boards = [
        json.loads(caucus(home, "rates", "show", "Translators", "--json").stdout) for home in homes
    ]
    for board in boards:
        (line,) = board["rates"]
        assert line.pop("mine") is True
    assert boards[0] == boards[1] == boards[2]
    (line,) = boards[0]["rates"]
    assert (line["role"], line["currency"], line["unit"]) == ("literary translator", "EUR", "day")
    assert (line["count"], line["q1"], line["median"], line["q3"]) == (
        3,
        "425.25",
        "450.5",
        "485.25",
    )
    assert line["periods"][0]["period"] == "2026-Q4"

    out_file = tmp_path / "rates.csv"
    caucus(alice, "rates", "export", "Translators", "--csv", str(out_file))
    rows = list(csv.DictReader(out_file.open(encoding="utf-8")))
    assert rows == [
        {
            "role": "literary translator",
            "currency": "EUR",
            "unit": "day",
            "period": "2026-Q4",
            "count": "3",
            "q1": "425.25",
            "median": "450.5",
            "q3": "485.25",
        }
    ]

    for home, late, comment in ((alice, "0", "fine"), (bob, "30", "slow payer")):
        caucus(
            home, "clients", "report", "Translators", "ACME  GmbH", "--paid-late-days", late,
            "--scope-creep", "yes", "--again", "no", "--comment", comment,
        )  # fmt: skip
    caucus(alice, "sync")
    below = json.loads(caucus(alice, "clients", "show", "Translators", "--json").stdout)
    assert below["clients"] == [
        {"client": "acme gmbh", "count": None, "note": "fewer than 3 reports", "mine": True}
    ]
    caucus(carol, "clients", "report", "Translators", "acme gmbh", "--paid-late-days", "5",
           "--scope-creep", "no", "--again", "yes")  # fmt: skip
    for home in homes:
        caucus(home, "sync")
    shown = [
        json.loads(caucus(home, "clients", "show", "Translators", "Acme GmbH", "--json").stdout)
        for home in homes
    ]
    assert shown[0] == shown[1] == shown[2]
    (client,) = shown[0]["clients"]
    assert client["count"] == 3 and client["paid_on_time"] == 1 and client["paid_late"] == 2
    assert (client["median_days_late"], client["max_days_late"]) == ("5", 30)
    assert (client["scope_creep"], client["would_work_again"]) == (2, 1)
    assert client["comments"] == ["fine", "slow payer"]

    for args, message in (
        (("--rate", "-5"), "caucus: a rate is a positive decimal such as 450 or 52.50\n"),
        (
            ("--currency", "XYZ"),
            "caucus: unknown currency 'XYZ'; use an ISO 4217 code such as EUR\n",
        ),
    ):
        values = {"--rate": "400", "--currency": "EUR"}
        values[args[0]] = args[1]
        bad = caucus(
            bob, "rates", "submit", "Translators", "--role", "x", "--unit", "day",
            *(part for pair in values.items() for part in pair), check=False,
        )  # fmt: skip
        assert (bad.returncode, bad.stderr) == (1, message)

    relay_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("relay.db*"))
    for secret in (b"Alice", b"Bob", b"Carol", b"literary", b"acme", b"slow payer"):
        assert secret not in relay_bytes
