"""Engine events say what changed: a ballot (definition, votes, close, reveal) or a
document (a version, an acknowledgement), by id, so a panel re-reads only when its own
things changed; a chat message changes neither."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.core.engine import Engine
from app.core.events import BallotChanged, DocumentChanged, Event
from crypto.ballot import BallotKind
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all

DAY_MS = 86_400_000


def test_ballot_and_document_changes_are_reported_by_id(tmp_path: Path) -> None:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    alice = make_engine(tmp_path, "alice", transport, clock)
    bob = make_engine(tmp_path, "bob", transport, clock)
    seen: list[Event] = []
    bob.subscribe(seen.append)

    def changes() -> list[BallotChanged | DocumentChanged]:
        found: list[BallotChanged | DocumentChanged] = [
            e for e in seen if isinstance(e, BallotChanged | DocumentChanged)
        ]
        seen.clear()
        return found

    async def scenario(engines: tuple[Engine, Engine]) -> None:
        alice, bob = engines
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob)
        await sync_all(alice, bob, alice, bob)  # ballot keys registered and known
        changes()

        await alice.send_text(group_id, "a plain message")
        await bob.sync()
        assert changes() == []

        paper = tmp_path / "rates.md"
        paper.write_text("# Rates\n")
        document_id = await alice.documents.publish(group_id, paper, "Rates")
        await bob.sync()
        assert changes() == [DocumentChanged(group_id, document_id)]

        ballot_id = await alice.ballots.create(
            group_id, "Strike?", closes_at=clock() + DAY_MS, kind=BallotKind.YES_NO_ABSTAIN
        )
        await bob.sync()
        assert changes() == [BallotChanged(group_id, ballot_id)]

        await alice.ballots.vote(ballot_id, "yes", delay_ms=0)
        await bob.sync()
        assert changes() == [BallotChanged(group_id, ballot_id)]  # a vote, anonymous

        await bob.documents.ack(document_id)
        assert DocumentChanged(group_id, document_id) in changes()  # our own, come back

    try:
        run(scenario((alice, bob)))
    finally:
        for engine in (alice, bob):
            run(engine.close())
        app.close()
