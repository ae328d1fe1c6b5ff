"""The desktop app's own connection (``Queries.reader``) reads what views show and
nothing else: it refuses writes and never selects a secret column, and the typed
commands the views send instead reach the engine and change what the reader sees."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from app.core.api import (
    MarkRead,
    MemberRole,
    SendText,
    SetMemberRole,
    SetVerified,
)
from app.core.engine import Engine
from app.core.profile import open_with_key, unlock_with_key
from app.core.queries import Queries
from app.core.verified_keys import VerifiedMark
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all

# Every column of the profile that holds key material; none may be read by the reader.
SECRET_COLUMNS = re.compile(
    r"signing_seed|delivery_secret|\bsecret\b|chain|ballot_keys|reveal|auth_seed",
    re.IGNORECASE,
)

World = tuple[Path, Engine, Engine, bytes]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    alice = make_engine(tmp_path, "alice", transport, clock)
    bob = make_engine(tmp_path, "bob", transport, clock)

    async def setup() -> bytes:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob)
        await bob.send_text(group_id, "hello from bob")
        await sync_all(alice, bob)
        return group_id

    group_id = run(setup())
    yield tmp_path, alice, bob, group_id
    for engine in (alice, bob):
        run(engine.close())
    app.close()


def _reader(home: Path) -> Queries:
    _db, key = unlock_with_key(home, "passphrase of alice")
    _db.close()
    return Queries.reader(open_with_key(home, key))


def test_reader_selects_no_secret_and_refuses_writes(pair: World) -> None:
    tmp_path, alice, _bob, group_id = pair
    reader = _reader(tmp_path / "alice")
    statements: list[str] = []
    reader.db.trace(statements.append)
    try:
        assert reader.me == alice.identity.public_key
        assert reader.fingerprint == alice.fingerprint
        (group,) = reader.groups()
        assert group.name == "Freelancers" and group.my_role == "organizer"
        assert [m.name for m in reader.members(group_id)] == ["alice", "bob"]
        said = [m.text for m in reader.messages(group_id) if m.kind == "text"]  # not the lines
        assert said == ["hello from bob"]
        assert reader.eligible_voters(group_id) == len(alice.group_state(group_id)[0].roster())
        assert reader.verified_keys() == {}
        assert reader.search("hello") != []
    finally:
        reader.db.trace(None)
    assert statements, "the trace saw no statement: the check would pass vacuously"
    leaked = [s for s in statements if SECRET_COLUMNS.search(s)]
    assert leaked == []
    with pytest.raises(sqlcipher.OperationalError, match="readonly"):
        reader.db.execute("UPDATE groups SET read_upto = 0")
    reader.db.close()


def test_commands_change_what_the_reader_shows(pair: World) -> None:
    tmp_path, alice, bob, group_id = pair
    reader = _reader(tmp_path / "alice")
    bob_fp = bob.fingerprint

    async def scenario(engine: Engine) -> None:
        await SendText(group_id, "sent through a command").run(engine)
        await SetMemberRole(group_id, bob_fp, MemberRole.ORGANIZER).run(engine)
        await SetVerified(bob.identity.public_key, "bob", True).run(engine)
        await MarkRead(group_id).run(engine)

    run(scenario(alice))
    reader.forget()
    said = [m for m in reader.messages(group_id) if m.kind == "text"]  # not the lines
    assert said[-1].text == "sent through a command"
    roles = {m.name: m.role for m in reader.members(group_id)}
    assert roles == {"alice": "organizer", "bob": "organizer"}
    assert reader.verified_keys() == {bob.identity.public_key: VerifiedMark("bob", b"")}
    assert reader.group(group_id).unread == 0
    reader.db.close()


def test_reader_lists_join_requests_without_the_invite_secret(tmp_path: Path) -> None:
    """A request waiting for approval shows who sent it, and the reader never reads the
    invite secret that opens it. A request stored before the sender was recorded (by
    0.1) is named by the engine when it next opens the profile."""
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    alice = make_engine(tmp_path, "alice", transport, clock)
    carol = make_engine(tmp_path, "carol", transport, clock)

    async def ask() -> bytes:
        group_id = await alice.create_group("Freelancers")
        code = await alice.create_invite(group_id, needs_approval=True)
        await carol.join(code)
        await alice.sync()
        return group_id

    group_id = run(ask())
    run(carol.close())
    reader = _reader(tmp_path / "alice")
    statements: list[str] = []
    reader.db.trace(statements.append)
    (request,) = reader.join_requests(group_id)
    reader.db.trace(None)
    assert (request.name, request.fingerprint) == ("carol", carol.fingerprint)
    assert statements and not [s for s in statements if SECRET_COLUMNS.search(s)]
    reader.db.close()

    # As 0.1 stored it: no sender recorded. The reader cannot list it without the
    # secret; the engine names it when the profile opens again.
    alice.db.execute("UPDATE join_requests SET name = NULL, identity_pk = NULL")
    run(alice.close())
    reader = _reader(tmp_path / "alice")
    assert reader.join_requests(group_id) == []
    reader.db.close()
    again = Engine.open(tmp_path / "alice", "passphrase of alice", transport=transport)
    try:
        (named,) = again.join_requests(group_id)
        assert (named.name, named.fingerprint) == ("carol", carol.fingerprint)
    finally:
        run(again.close())
        app.close()
