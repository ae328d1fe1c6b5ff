"""The ballot store on a real SQLCipher file: rows come back as they went in, and a
status or ballot state moves only along its table, guarded by the old value.

The ballot flows themselves (tests/core/test_ballots.py) cover every statement in use;
these check what those flows never provoke: an illegal or stale move refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.database import Database
from app.core.status import VoteStatus
from app.core.store import ballots as store
from app.core.store.ballots import BallotRow, ClosedBy, OutboxRow, RevealKeyRow, VoteRow
from crypto.ballot import BallotState
from crypto.errors import UsageError

G, B = b"g" * 16, b"b" * 16


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "profile.db", bytes(range(32)), create=True)
    yield database
    database.close()


def _ballot(state: BallotState = BallotState.OPEN) -> BallotRow:
    return BallotRow(G, B, b"definition", b"creator", "alice", state, 7, 1_000)


def _outbox(revision: int, not_before: int, group_id: bytes = G) -> OutboxRow:
    return OutboxRow(group_id, B, revision, b"vote%d" % revision, b"h%d" % revision, not_before, 0)


def test_rows_come_back_as_they_went_in(db: Database) -> None:
    with db.transaction():
        store.insert_ballot(db, _ballot())
        store.insert_vote(db, VoteRow(G, B, b"hash", b"image", 2, b"choice", 9))
        store.insert_reveal_key(db, RevealKeyRow(G, B, b"reveal", 5))
        row_id = store.insert_outbox(db, _outbox(0, 10))
    assert store.load_ballot(db, G, B) == _ballot()
    assert store.load_votes(db, G, B) == [VoteRow(G, B, b"hash", b"image", 2, b"choice", 9)]
    assert store.load_votes(db, G, B, before=9) == []
    assert store.load_reveal_key(db, G, B) == RevealKeyRow(G, B, b"reveal", 5)
    assert store.load_outbox(db, row_id) == _outbox(0, 10)
    with db.transaction():
        store.mark_reveal_released(db, G, B)
        assert store.mark_outbox_sent(db, row_id, 42)
    assert store.load_reveal_key(db, G, B) == RevealKeyRow(G, B, b"reveal", 5, released=True)
    sent = store.load_outbox(db, row_id)
    assert sent is not None
    assert (sent.status, sent.relay_seq, sent.attempts) == (VoteStatus.SENT, 42, 1)


def test_a_ballot_state_moves_only_forward_and_only_from_the_stored_state(db: Database) -> None:
    with db.transaction():
        store.insert_ballot(db, _ballot())
        store.end_ballot(
            db, G, B, BallotState.OPEN, BallotState.CLOSED, close_seq=8, closed_by=ClosedBy.EARLY
        )
    closed = store.load_ballot(db, G, B)
    assert closed == BallotRow(
        G, B, b"definition", b"creator", "alice", BallotState.CLOSED, 7, 1_000, 8, ClosedBy.EARLY
    )
    for old, new in [
        (BallotState.CLOSED, BallotState.OPEN),  # backwards
        (BallotState.CLOSED, BallotState.CLOSED),  # not a move
        (BallotState.CANCELLED, BallotState.TALLIED),  # cancelled is final
    ]:
        with pytest.raises(UsageError, match="cannot become"):
            store.end_ballot(db, G, B, old, new, close_seq=9, closed_by=ClosedBy.CANCEL)
    with pytest.raises(UsageError, match="no longer open"):  # stale: it is closed already
        store.end_ballot(
            db, G, B, BallotState.OPEN, BallotState.CANCELLED, close_seq=9, closed_by=None
        )
    assert store.load_ballot(db, G, B) == closed
    with db.transaction():
        store.end_ballot(
            db,
            G,
            B,
            BallotState.CLOSED,
            BallotState.TALLIED,
            close_seq=8,
            closed_by=ClosedBy.EARLY,
            reveal_secret=b"key",
            result="{}",
        )
    tallied = store.load_ballot(db, G, B)
    assert tallied is not None
    assert (tallied.state, tallied.reveal_secret, tallied.result) == (
        BallotState.TALLIED,
        b"key",
        "{}",
    )


def test_a_vote_status_moves_only_along_its_table(db: Database) -> None:
    with db.transaction():
        first = store.insert_outbox(db, _outbox(0, 10))
        store.supersede_pending(db, G, B)
        second = store.insert_outbox(db, _outbox(1, 30))
        third = store.insert_outbox(db, _outbox(0, 20, group_id=b"h" * 16))
    first_row = store.load_outbox(db, first)
    assert first_row is not None and first_row.status is VoteStatus.SUPERSEDED
    with pytest.raises(UsageError, match="cannot become"):
        store.set_outbox_status(db, first, VoteStatus.SUPERSEDED, VoteStatus.PENDING)
    assert not store.set_outbox_status(db, first, VoteStatus.SENT, VoteStatus.PENDING)
    assert not store.mark_outbox_sent(db, first, 5)  # not pending: left as it is
    assert store.load_outbox(db, first) == first_row
    assert store.due_votes(db, 25) == [third]
    assert store.due_votes(db, 30) == [second, third]
    assert store.due_votes(db, 30, G) == [second]
    assert store.count_pending_votes(db, G) == 1
    assert store.my_votes(db, G, B) == store.MyVotes(1, True)
    assert store.max_outbox_revision(db, G, B) == 1
