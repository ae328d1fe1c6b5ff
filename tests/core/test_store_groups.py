"""The group, message and profile store on a real SQLCipher file: rows come back as they
went in, statuses move only along their tables guarded by the old value, and the modules
that used to hold this SQL (GroupSession, Queries, verified_keys) hold none.

The group flows (tests/core/test_group_flow.py, test_view_reader.py, ...) cover every
statement in use; these check what those flows never provoke."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.database import Database
from app.core.status import GroupStatus, MessageStatus
from app.core.store import groups, messages, profile, relay_marks
from app.core.store.groups import GroupRow
from crypto.errors import UsageError

G, ME, OTHER = b"g" * 16, b"m" * 32, b"o" * 32
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "profile.db", bytes(range(32)), create=True)
    with database.transaction():
        groups.insert_group(database, G, "https://relay.example", b"x" * 16, 0, 5)
    yield database
    database.close()


def _status(db: Database) -> GroupStatus:
    row = groups.load_group(db, G)
    assert row is not None
    return row.status


def test_group_row_comes_back_and_its_status_moves_only_along_the_table(db: Database) -> None:
    assert groups.load_group(db, G) == GroupRow(
        G, "https://relay.example", b"x" * 16, 0, GroupStatus.ACTIVE, 0, 5
    )
    assert groups.load_group(db, b"n" * 16) is None
    with pytest.raises(UsageError), db.transaction():  # not in GROUP_TRANSITIONS
        groups.set_status(db, G, GroupStatus.REMOVED, GroupStatus.ACTIVE)
    with db.transaction():
        groups.set_status(db, G, GroupStatus.ACTIVE, GroupStatus.REMOVED)
    assert _status(db) == GroupStatus.REMOVED
    with pytest.raises(UsageError, match="not active"), db.transaction():  # stale old status
        groups.set_status(db, G, GroupStatus.ACTIVE, GroupStatus.LEFT)
    assert _status(db) == GroupStatus.REMOVED
    assert groups.active_group_ids(db) == [] and groups.group_ids(db) == [G]


def _own(db: Database, text: str) -> int:
    return messages.queue_message(db, G, bytes(16), ME, "me", 1, 1, b"body", text)


def test_an_echo_marks_only_a_pending_or_sent_message_sent(db: Database) -> None:
    with db.transaction():
        pending, failed = _own(db, "one"), _own(db, "two")
        messages.seal_message(db, pending, b"item1", b"a" * 16, bytes(32))
        messages.seal_message(db, failed, b"item2", b"b" * 16, bytes(32))
        assert messages.set_status(db, failed, MessageStatus.PENDING, MessageStatus.FAILED)
    with db.transaction():
        assert messages.mark_echo_sent(db, b"a" * 16, 7)
        assert messages.mark_echo_sent(db, b"a" * 16, 7)  # echoed twice: still ours
        assert not messages.mark_echo_sent(db, b"b" * 16, 8)  # failed never becomes sent
    row = messages.load_message(db, pending)
    assert row is not None and row.status == MessageStatus.SENT
    outbox = messages.load_outbox(db, pending)
    # The sealed item is kept while its epoch is live (a re-post after a relay rewind)...
    assert outbox is not None and outbox.item == b"item1"
    with db.transaction():
        relay_marks.forget_sent_items(db, G)  # ...and dropped when the group's epoch ends
    outbox = messages.load_outbox(db, pending)
    assert outbox is not None and outbox.item is None
    assert [m.status for m in messages.load_messages(db, G)] == [
        MessageStatus.SENT,
        MessageStatus.FAILED,
    ]
    with pytest.raises(UsageError):  # sent never becomes failed
        messages.set_status(db, pending, MessageStatus.SENT, MessageStatus.FAILED)
    assert not messages.set_status(db, pending, MessageStatus.FAILED, MessageStatus.PENDING)
    assert messages.count_pending(db) == 0


def test_a_received_message_is_stored_once_and_found_by_its_words(db: Database) -> None:
    def receive(message_id: bytes, text: str) -> int | None:
        return messages.insert_message(
            db, G, bytes(16), message_id, OTHER, "bob", 3, 4, 1, b"b", text,
            MessageStatus.RECEIVED, 9, None,
        )  # fmt: skip

    with db.transaction():
        first = receive(b"c" * 16, 'say "hello" OR world')
        assert receive(b"c" * 16, "again") is None  # a duplicate is ignored
        second = receive(b"d" * 16, "unrelated")
        assert first is not None and second is not None
        # The sync indexes a batch's texts in one statement, in the same transaction.
        assert messages.search(db, "unrelated") == []
        messages.index_texts(db, [(first, 'say "hello" OR world'), (second, "unrelated")])
        own = messages.queue_message(db, G, bytes(16), ME, "me", 5, 1, b"t", "queued words")
    assert messages.search(db, "unrelated")[0].row_id == second
    assert [m.row_id for m in messages.search(db, "queued")] == [own]  # indexed at once
    assert [m.row_id for m in messages.search(db, 'OR "hello')] == [first]  # words literally
    assert messages.search(db, "   ") == []
    assert messages.count_unread(db, G, 0, ME) == 2  # ours is not unread
    with db.transaction():
        groups.mark_read(db, G)
    row = groups.load_group(db, G)
    assert row is not None and messages.count_unread(db, G, row.read_upto, ME) == 0
    assert [m.text for m in messages.load_messages(db, G, limit=1)] == ["queued words"]
    assert messages.count_messages(db, G, bytes(16)) == 3


def test_profile_secrets_stay_out_of_their_repr(db: Database) -> None:
    with db.transaction():
        profile.insert_profile(db, "alice", "https://r", b"S" * 32, b"D" * 32, b"cert", 1)
    secrets = profile.profile_secrets(db)
    assert secrets is not None and secrets.signing_seed == b"S" * 32
    assert "SSSS" not in repr(secrets) and "DDDD" not in repr(secrets)
    assert profile.public_profile(db) == profile.ProfileRow("alice", "https://r", b"cert")


# A string that starts a statement, or a call of the connection's statement methods.
SQL = re.compile(
    r"[\"']\s*(SELECT|INSERT|UPDATE|DELETE|PRAGMA)\b"
    r"|\.(execute|executemany|one|all)\("
)


@pytest.mark.parametrize(
    "module", ["app/core/group_session.py", "app/core/queries.py", "app/core/verified_keys.py"]
)
def test_the_sessions_and_queries_write_no_sql(module: str) -> None:
    source = (ROOT / module).read_text(encoding="utf-8")
    assert [line for line in source.splitlines() if SQL.search(line)] == []
