"""What the relay sees (docs/threat-model.md): the real clients through the real relay,
then the relay's own database read back.  A vote is not told from a message, commits do
not give away the roster size within a bucket nor the entry's kind, and document blobs
come in Padme buckets.  The scenario is tools/relay_view.py's, which prints the figures
of the table."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.core.engine import Engine
from crypto.commit import commit_size
from crypto.document.stream import ciphertext_size, padded_size
from crypto.padding import padme
from relay.http import RelayApp
from tests.core.harness import run
from tools.relay_view import DOCUMENT_SIZES, MESSAGE_LENGTHS, RelayView, Stored, observe


@dataclass
class Seen:
    view: RelayView
    engines: dict[str, Engine]
    group_id: bytes
    app: RelayApp

    def one(self, step: str) -> Stored:
        (stored,) = self.view.of(step)
        return stored

    def group_items(self) -> list[Stored]:
        return [s for s in self.view.stored if s.place == "group mailbox"]


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seen]:
    workdir: Path = tmp_path_factory.mktemp("relay-view")
    view, engines, group_id, app = run(observe(workdir))
    yield Seen(view, engines, group_id, app)
    for engine in engines.values():
        run(engine.close())
    app.close()


def test_every_group_item_is_version_2_and_a_message_or_a_commit(seen: Seen) -> None:
    """Messages and votes (type 1), commits (2), and organizers' freshness heads (5,
    protocol 4.4): nothing else, and nothing of version 1."""
    headers = {s.first_two for s in seen.group_items()}
    assert headers <= {"v2 type 1", "v2 type 2", "v2 type 5"}
    assert {"v2 type 1", "v2 type 2"} <= headers


def test_a_vote_looks_like_a_short_message(seen: Seen) -> None:
    """Same header bytes, same size as a 100-character message."""
    votes = [seen.one("vote (bob)"), seen.one("vote (carol)")]
    message = seen.one("message of 100 characters")
    for vote in votes:
        # The same version and type bytes (the epoch is whatever the group is in then:
        # commits such as ballot-key registrations may fall between them).
        assert vote.first_two == message.first_two == "v2 type 1"
        assert vote.size == message.size == 512
        assert vote.detail == message.detail == ""


def test_the_votes_still_count_and_the_messages_arrive(seen: Seen) -> None:
    """Only members tell votes from messages, and they do: after decryption."""
    for name in ("alice", "bob", "carol"):
        engine = seen.engines[name]
        assert engine.ballots.ballot(seen.group_id, seen.view.ballot_id).voted == 2
        texts = [m.text for m in engine.messages(seen.group_id)]
        for length in MESSAGE_LENGTHS:
            assert "x" * length in texts


def test_commits_hide_the_roster_size_within_a_bucket_and_the_entry_kind(seen: Seen) -> None:
    three, five = seen.one("REKEY, 3 members"), seen.one("REKEY, 5 members")
    adds = seen.view.of("ADD 4th and 5th member")
    invite = seen.one("admit bob: INVITE")
    for commit in (three, five, invite, *adds):
        assert commit.size == commit_size(8, 0) == 2304
        assert commit.detail == "8 sealed boxes"
    forty, removal = seen.one("REKEY, 40 members"), seen.one("REMOVE, 40 -> 39 members")
    for commit in (forty, removal):
        assert commit.size == commit_size(64, 0) == 10_240
        assert commit.detail == "64 sealed boxes"
    sizes = {s.size for s in seen.group_items() if s.first_two == "v2 type 2"}
    assert sizes == {2304, 3328, 5632, 10_240}


def test_blobs_are_padme_buckets(seen: Seen) -> None:
    blobs = {size: seen.view.of(f"document of {size:,} bytes") for size in DOCUMENT_SIZES}
    for size, stored in blobs.items():
        (blob,) = [s for s in stored if s.place == "blob"]
        assert blob.size == ciphertext_size(size)
        assert padded_size(size) == padme(size)
        assert f"declared size {blob.size:,}" in blob.detail
    small = [s.size for s in blobs[10_000] if s.place == "blob"]
    large = [s.size for s in blobs[10_240] if s.place == "blob"]
    assert small == large == [10_240 + 25 + 17]
    assert [s.size for s in blobs[1_000_000] if s.place == "blob"] == [1_015_808 + 25 + 17]
