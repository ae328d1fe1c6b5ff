"""The stored statuses and their transition tables (app/core/status.py)."""

from __future__ import annotations

import pytest

from app.core.status import (
    MESSAGE_TRANSITIONS,
    TABLES,
    VOTE_TRANSITIONS,
    MessageStatus,
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
