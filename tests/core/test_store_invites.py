"""The joining store (app/core/store/invites.py) on a real SQLCipher file: rows come back
as they went in, an invite's and a join request's status move only along their tables
guarded by the old value, and admission.py holds no SQL.

The joining flows (tests/core/test_group_flow.py, test_sync_isolation.py, ...) cover every
statement in use; these check what those flows never provoke."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.database import Database
from app.core.status import InviteStatus, JoinStatus
from app.core.store import invites
from app.core.store.invites import (
    InboxRow,
    InviteRow,
    JoinRequestRow,
    PendingJoinRow,
    PendingRequestRow,
)
from crypto.errors import UsageError

RELAY, OTHER_RELAY = "https://relay.example", "https://other.example"
G, H, INV, INV2 = b"g" * 16, b"h" * 16, b"i" * 16, b"j" * 16
SEED, SECRET = b"s" * 32, b"k" * 32
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "profile.db", bytes(range(32)), create=True)
    yield database
    database.close()


def test_an_inbox_comes_back_registered_and_read_up_to_its_cursor(db: Database) -> None:
    assert invites.load_inbox(db, RELAY) is None
    with db.transaction():
        invites.insert_inbox(db, RELAY, b"n" * 16, SEED)
    assert invites.load_inbox(db, RELAY) == InboxRow(RELAY, b"n" * 16, SEED, False, 0)
    with db.transaction():
        invites.mark_inbox_registered(db, RELAY)
        invites.set_inbox_cursor(db, RELAY, 7)
    assert invites.load_inbox(db, RELAY) == InboxRow(RELAY, b"n" * 16, SEED, True, 7)
    assert repr(SEED) not in repr(invites.load_inbox(db, RELAY))


def test_pending_joins_keep_the_order_of_the_latest_ask(db: Database) -> None:
    with db.transaction():
        invites.save_pending_join(db, "code-a", RELAY, 1)
        invites.save_pending_join(db, "code-b", OTHER_RELAY, 2)
        invites.save_pending_join(db, "code-a", RELAY, 3)  # asked again: replaces the first
    assert invites.pending_joins(db) == [
        PendingJoinRow("code-b", OTHER_RELAY, 2),
        PendingJoinRow("code-a", RELAY, 3),
    ]
    with db.transaction():
        invites.delete_pending_join(db, "code-b")
    assert invites.pending_joins(db) == [PendingJoinRow("code-a", RELAY, 3)]


def test_an_invite_is_spent_once_and_never_opens_again(db: Database) -> None:
    with db.transaction():
        invites.insert_invite(db, INV, G, SECRET, "caucus-code")
        invites.insert_invite(db, INV2, H, b"l" * 32, "caucus-code-2")
        invites.set_invite_cursor(db, INV, 4)
    row = InviteRow(INV, G, SECRET, "caucus-code", 4, InviteStatus.OPEN)
    assert invites.load_invite(db, INV) == row
    assert invites.load_invite(db, b"x" * 16) is None
    assert repr(SECRET) not in repr(row) and "caucus-code" not in repr(row)
    assert [r.invite_id for r in invites.open_invites(db)] == [INV, INV2]
    with db.transaction():
        assert invites.set_invite_status(db, INV, InviteStatus.OPEN, InviteStatus.SPENT)
    with db.transaction():  # already spent: the guard leaves it alone
        assert not invites.set_invite_status(db, INV, InviteStatus.OPEN, InviteStatus.SPENT)
    with pytest.raises(UsageError), db.transaction():  # not in INVITE_TRANSITIONS
        invites.set_invite_status(db, INV, InviteStatus.SPENT, InviteStatus.OPEN)
    spent = invites.load_invite(db, INV)
    assert spent is not None and spent.status == InviteStatus.SPENT
    assert [r.invite_id for r in invites.open_invites(db)] == [INV2]


def test_a_join_request_is_decided_once(db: Database) -> None:
    with db.transaction():
        invites.insert_invite(db, INV, G, SECRET, "caucus-code")
        first = invites.insert_join_request(db, INV, G, b"sealed-1", 10, "Ana", bytes(32))
        second = invites.insert_join_request(db, INV, G, b"sealed-2", 11, "Ben", bytes(range(32)))
    assert first != second
    assert invites.pending_join_request(db, first) == PendingRequestRow(first, INV, G, b"sealed-1")
    assert invites.pending_join_request(db, 999) is None
    assert invites.join_requests(db, G) == [
        JoinRequestRow(first, G, b"sealed-1", JoinStatus.PENDING, 10, SECRET),
        JoinRequestRow(second, G, b"sealed-2", JoinStatus.PENDING, 11, SECRET),
    ]
    assert invites.join_requests(db, H) == [] and len(invites.join_requests(db)) == 2
    assert repr(SECRET) not in repr(invites.join_requests(db))

    with db.transaction():
        assert invites.set_join_status(db, first, JoinStatus.PENDING, JoinStatus.ADMITTED)
        assert invites.set_join_status(db, second, JoinStatus.PENDING, JoinStatus.REJECTED)
    with db.transaction():  # decided already: the guard leaves it alone
        assert not invites.set_join_status(db, second, JoinStatus.PENDING, JoinStatus.ADMITTED)
    for old, new in [
        (JoinStatus.REJECTED, JoinStatus.ADMITTED),
        (JoinStatus.ADMITTED, JoinStatus.PENDING),
    ]:
        with pytest.raises(UsageError), db.transaction():  # not in JOIN_TRANSITIONS
            invites.set_join_status(db, second, old, new)
    assert [r.status for r in invites.join_requests(db, G)] == [
        JoinStatus.ADMITTED,
        JoinStatus.REJECTED,
    ]
    assert invites.pending_join_request(db, first) is None


# A string that starts a statement, a call of the connection's statement methods, or a
# positional read of a row.
SQL = re.compile(
    r"[\"']\s*(SELECT|INSERT|UPDATE|DELETE|PRAGMA)\b"
    r"|\.(execute|executemany|one|all)\(|\brow\[\d"
)


def test_admission_writes_no_sql_and_reads_no_positional_rows() -> None:
    source = (ROOT / "app/core/admission.py").read_text(encoding="utf-8")
    assert [line for line in source.splitlines() if SQL.search(line)] == []
