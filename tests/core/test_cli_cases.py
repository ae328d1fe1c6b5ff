"""``caucus case ...`` over a real relay process: a member opens a case, the organizer's
client joins it over a few syncs, both change its status, the other member sees nothing
until the opener shares; the output contract (case id last, --json, one-line errors)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.test_cli import RelayProcess, caucus, last_line

pytestmark = pytest.mark.socket

TITLE = "Canary-CLI-Case-51d7"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    process.start()
    yield process
    process.stop()


def cases(home: Path, *extra: str) -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(
        caucus(home, "case", "list", *extra, "--json").stdout
    )
    return data


def test_open_join_status_share(tmp_path: Path, server: RelayProcess) -> None:
    olga, mona, theo = (tmp_path / n for n in ("olga", "mona", "theo"))
    for home, name in ((olga, "Olga"), (mona, "Mona"), (theo, "Theo")):
        caucus(home, "init", "--name", name, "--relay", server.url)
    caucus(olga, "group", "create", "Freelancers")
    for home in (mona, theo):
        caucus(home, "join", last_line(caucus(olga, "invite", "Freelancers")))
        caucus(olga, "sync")
        caucus(home, "sync")
    caucus(mona, "sync")  # the organizer's case inbox

    case_id = last_line(caucus(mona, "case", "open", "Freelancers", TITLE))
    assert re.fullmatch(r"[0-9a-f]{32}", case_id)
    for home in (olga, mona, olga, mona, olga):
        caucus(home, "sync")

    (seen,) = cases(olga, "Freelancers")
    assert (seen["id"], seen["title"], seen["status"], seen["joined"]) == (
        case_id,
        TITLE,
        "open",
        True,
    )
    assert seen["mine"] is False and seen["can_change_status"] is True

    caucus(mona, "send", case_id, "Invoice 17 is unpaid since March")
    changed = caucus(olga, "case", "status", case_id[:10], "negotiating", "--note", "call Friday")
    assert last_line(changed) == "Case is now negotiating"
    bad = caucus(mona, "case", "status", case_id, "pending", check=False)
    assert bad.returncode == 1
    assert bad.stderr == "caucus: a case status is open, negotiating or resolved\n"
    same = caucus(olga, "case", "status", case_id, "negotiating", check=False)
    assert same.stderr == "caucus: a case cannot go from negotiating to negotiating\n"

    caucus(mona, "sync")
    shown = json.loads(caucus(mona, "case", "show", case_id, "--json").stdout)
    assert shown["status"] == "negotiating"
    texts = [item["text"] for item in shown["timeline"]]
    assert "Invoice 17 is unpaid since March" in texts
    assert "Status changed to negotiating: call Friday" in texts

    # The other member: no case, and the case id is no group of theirs.
    caucus(theo, "sync")
    assert cases(theo) == []
    refused = caucus(theo, "case", "show", case_id, check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("caucus: no case")
    assert caucus(theo, "messages", case_id, check=False).returncode == 1

    caucus(mona, "case", "share", case_id)
    caucus(olga, "sync")  # the organizer's client posts the line, not the opener's
    closed = caucus(mona, "case", "close", case_id, "--note", "paid in full")
    assert last_line(closed) == "Case is now resolved"
    for home in (olga, theo):
        caucus(home, "sync")
    lines = [
        m["text"]
        for m in json.loads(caucus(theo, "messages", "Freelancers", "--json").stdout)
        if "case is now" in m["text"]
    ]
    assert lines == ["A case is now negotiating", "A case is now resolved"]

    relay_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("relay.db*"))
    assert TITLE.encode() not in relay_bytes
    assert b"Invoice 17" not in relay_bytes
