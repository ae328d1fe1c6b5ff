"""``caucus ballot ...`` over a real relay process: three profiles create, vote, close and
read identical results; the output contract (ballot id last, --json, one-line errors)."""

from __future__ import annotations

import json
import re
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


def results(home: Path, ballot_id: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        caucus(home, "ballot", "results", ballot_id, "--json").stdout
    )
    return data


def test_create_vote_close_results(tmp_path: Path, server: RelayProcess) -> None:
    alice, bob, carol = (tmp_path / n for n in ("alice", "bob", "carol"))
    for home, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
        caucus(home, "init", "--name", name, "--relay", server.url)
    caucus(alice, "group", "create", "Freelancers")
    for home in (bob, carol):
        caucus(home, "join", last_line(caucus(alice, "invite", "Freelancers")))
        caucus(alice, "sync")  # admits; Alice's client registers her ballot key
        caucus(home, "sync")  # joined; the newcomer registers theirs

    created = caucus(
        alice, "ballot", "create", "Freelancers",
        "--question", "Accept the 2025 rate card?",
        "--option", "Accept", "--option", "Reject", "--option", "Counter-offer",
        "--closes-in", "10m",
    )  # fmt: skip
    ballot_id = last_line(created)
    assert re.fullmatch(r"[0-9a-f]{32}", ballot_id)

    bad = caucus(bob, "ballot", "vote", ballot_id, "Maybe", check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("caucus: no option 'Maybe'")
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr

    for home, choice in ((bob, "Reject"), (carol, "1"), (alice, "reject")):
        out = caucus(home, "ballot", "vote", ballot_id[:12], choice)
        assert last_line(out).startswith("Vote cast (revision 0); ")

    (listed,) = json.loads(caucus(alice, "ballot", "list", "Freelancers", "--json").stdout)
    assert (listed["id"], listed["status"], listed["kind"]) == (ballot_id, "open", "single")
    assert (listed["eligible"], listed["turnout"], listed["voted"]) == (3, 3, "3 of 3 have voted")
    assert listed["options"] == ["Accept", "Reject", "Counter-offer"]
    hidden = results(alice, ballot_id)
    assert (hidden["status"], hidden["eligible"], hidden["turnout"]) == ("open", 3, 3)
    assert "counts" not in hidden

    refused = caucus(bob, "ballot", "close", ballot_id, check=False)
    assert refused.returncode == 1
    assert refused.stderr == "caucus: only the ballot's creator or an organizer can close it\n"
    closed = caucus(alice, "ballot", "close", ballot_id)
    assert last_line(closed) == "Ballot tallied; 3 of 3 have voted"
    caucus(bob, "sync")
    caucus(carol, "sync")

    every = [results(home, ballot_id) for home in (alice, bob, carol)]
    for data, own_choice in zip(every, ("Reject", "Reject", "Accept"), strict=True):
        assert data["status"] == "tallied"
        assert (data["eligible"], data["turnout"]) == (3, 3)
        assert data["counts"] == {"Accept": 1, "Reject": 2, "Counter-offer": 0}
        assert data["winners"] == ["Reject"]
        # Each voter finds their own ballot in the published list, counted as cast.
        assert data.pop("mine") == {"counted": True, "choice": own_choice}
    assert every[0] == every[1] == every[2]
    checked = caucus(bob, "ballot", "verify", ballot_id[:12])
    assert checked.stdout == (
        "Checked 3 stored vote(s): 0 failed\nThe stored result is what a fresh tally gives\n"
    )

    late = caucus(carol, "ballot", "vote", ballot_id, "Accept", check=False)
    assert late.returncode == 1
    assert late.stderr == "caucus: this ballot is closed; votes are no longer accepted\n"

    relay_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("relay.db*"))
    for secret in (b"Alice", b"Bob", b"Carol", b"Counter-offer", b"rate card"):
        assert secret not in relay_bytes


def test_results_say_eligibility_changed_in_plain_words(
    tmp_path: Path, server: RelayProcess
) -> None:
    alice, bob, carol = (tmp_path / n for n in ("alice", "bob", "carol"))
    for home, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
        caucus(home, "init", "--name", name, "--relay", server.url)
    caucus(alice, "group", "create", "Couriers")
    for home in (bob, carol):
        caucus(home, "join", last_line(caucus(alice, "invite", "Couriers")))
        caucus(alice, "sync")
        caucus(home, "sync")
    caucus(bob, "sync")
    ballot_id = last_line(
        caucus(alice, "ballot", "create", "Couriers", "--question", "Strike?",
               "--kind", "yes-no", "--closes-in", "10m")
    )  # fmt: skip
    caucus(carol, "ballot", "vote", ballot_id, "yes")
    carol_fingerprint = last_line(caucus(carol, "fingerprint"))
    caucus(alice, "remove", "Couriers", carol_fingerprint)
    caucus(alice, "ballot", "close", ballot_id)
    caucus(bob, "sync")

    data = results(bob, ballot_id)
    assert data["eligibility_changed"] is True
    assert data["integrity"] is None
    assert data["counts"] == {"yes": 1, "no": 0, "abstain": 0}
    assert data["counted"]["count"] == 1  # type: ignore[index]
    assert data["counted"] == results(alice, ballot_id)["counted"]
    text = caucus(bob, "ballot", "results", ballot_id).stdout
    assert "Warning: eligibility changed: a member of this ballot left or was removed" in text
    (listed,) = json.loads(caucus(bob, "ballot", "list", "Couriers", "--json").stdout)
    assert listed["eligibility_changed"] is True

    refused = caucus(bob, "ballot", "rerun", ballot_id, check=False)
    assert refused.stderr == "caucus: only the ballot's creator or an organizer can run it again\n"
    again = last_line(caucus(alice, "ballot", "rerun", ballot_id[:12]))
    assert re.fullmatch(r"[0-9a-f]{32}", again) and again != ballot_id
    caucus(bob, "sync")
    rerun = next(
        b
        for b in json.loads(caucus(bob, "ballot", "list", "Couriers", "--json").stdout)
        if b["id"] == again
    )
    assert (rerun["question"], rerun["kind"], rerun["eligible"]) == ("Strike?", "yes-no", 2)
    assert rerun["status"] == "open" and rerun["eligibility_changed"] is False
