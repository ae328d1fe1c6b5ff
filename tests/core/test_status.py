"""The stored statuses and their transition tables (app/core/status.py)."""

from __future__ import annotations

import pytest

from app.core.status import (
    MESSAGE_TRANSITIONS,
    OUTBOX_KINDS,
    OUTBOX_TRANSITIONS,
    TABLES,
    VOTE_TRANSITIONS,
    MessageStatus,
    OutboxKind,
    VoteStatus,
    move,
    transition_table_markdown,
)
from crypto.errors import UsageError


def test_allowed_moves_pass_and_others_are_refused() -> None:
    assert move(VOTE_TRANSITIONS, VoteStatus.PENDING, VoteStatus.SENT) is VoteStatus.SENT
    with pytest.raises(UsageError, match="sent cannot become superseded"):
        move(VOTE_TRANSITIONS, VoteStatus.SENT, VoteStatus.SUPERSEDED)
    with pytest.raises(UsageError):
        move(MESSAGE_TRANSITIONS, MessageStatus.SENT, MessageStatus.FAILED)
    with pytest.raises(UsageError):
        move(MESSAGE_TRANSITIONS, MessageStatus.RECEIVED, MessageStatus.SENT)


def test_messages_and_votes_move_along_the_one_outbox_table() -> None:
    assert set(OUTBOX_KINDS) == set(OUTBOX_TRANSITIONS)
    for kind, table in (
        (OutboxKind.MESSAGE, MESSAGE_TRANSITIONS),
        (OutboxKind.VOTE, VOTE_TRANSITIONS),
    ):
        allowed = {pair for pair, kinds in OUTBOX_KINDS.items() if kind in kinds}
        assert {(str(a), str(b)) for a, b in table} == {(str(a), str(b)) for a, b in allowed}
        assert all(table[pair] == OUTBOX_TRANSITIONS[pair] for pair in allowed)  # type: ignore[index]
    # Each kind keeps its own limits within the one table.
    with pytest.raises(UsageError):  # sent is final but for a re-post
        move(MESSAGE_TRANSITIONS, MessageStatus.SENT, MessageStatus.FAILED)
    # Both may be posted again: a vote never delivered, a message a relay rewind lost.
    assert move(MESSAGE_TRANSITIONS, MessageStatus.SENT, MessageStatus.PENDING) is (
        MessageStatus.PENDING
    )
    with pytest.raises(UsageError):
        move(VOTE_TRANSITIONS, VoteStatus.FAILED, VoteStatus.PENDING)
    assert move(VOTE_TRANSITIONS, VoteStatus.SENT, VoteStatus.PENDING) is VoteStatus.PENDING


def test_every_table_is_closed_over_its_own_statuses() -> None:
    for name, table in TABLES.items():
        kinds = {type(state) for pair in table for state in pair}
        assert len(kinds) == 1, name
        assert transition_table_markdown(table).count("\n") == len(table) + 2


def test_protocol_doc_shows_every_table_as_it_is() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    for name, table in TABLES.items():
        assert f"**{name}**\n\n{transition_table_markdown(table)}" in doc, name
