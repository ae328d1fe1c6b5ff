"""Sealing reads the send chain from the database inside its transaction: two engines on
two connections to one profile (which the profile lock normally prevents) still never seal
two messages with one counter (docs/protocol.md section 7.3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from app.core.database import Database
from app.core.engine import Engine
from app.core.profile import DB_NAME, unlock_with_key
from crypto.items import ItemType, peek_item
from crypto.message import open_sender_data
from tests.core.harness import Clock, befriend, make_engine, make_relay, run


def relay_items(relay_db: Path) -> list[bytes]:
    """Every item the relay stored, read from its own database file."""
    conn = sqlite3.connect(relay_db)
    try:
        return [bytes(row[0]) for row in conn.execute("SELECT data FROM items ORDER BY seq")]
    finally:
        conn.close()


def test_two_connections_sealing_in_turn_never_share_a_counter(tmp_path: Path) -> None:
    clock = Clock()
    app = make_relay(tmp_path)
    transport = httpx.ASGITransport(app=app)
    alice = make_engine(tmp_path, "alice", transport, clock)
    bob = make_engine(tmp_path, "bob", transport, clock)
    group_id = run(alice.create_group("Freelancers"))
    run(befriend(alice, group_id, bob))
    run(alice.sync())  # apply our own ADD commit: no epoch change during the race below

    # A second connection that bypasses the profile lock (no lock share, hence no engine
    # claim): it stands for anything the lock does not cover.
    db, key = unlock_with_key(tmp_path / "alice", "passphrase of alice")
    db.close()
    twin = Engine(Database.open(tmp_path / "alice" / DB_NAME, key), transport=transport)

    async def scenario() -> None:
        # Both engines load the group's session before either sends, then seal in turn:
        # a chain kept in memory would give the twin counter 0 again.
        alice.session(group_id)
        twin.session(group_id)
        for i in range(10):
            await alice.send_text(group_id, f"alice {i}")
            await twin.send_text(group_id, f"twin {i}")
        await bob.sync()

    run(scenario())
    received = bob.messages(group_id)
    expected = [f"{who} {i}" for i in range(10) for who in ("alice", "twin")]
    assert [m.text for m in received][-20:] == expected, "a reused counter is dropped"
    assert all(m.warning is None for m in received)
    assert bob.db.one("SELECT count(*) FROM warnings")[0] == 0

    # The counters themselves, from the relay's copy of every message of this epoch.
    session = bob.session(group_id)
    keys = session.keys
    assert keys is not None
    alice_index = session.state.sender_index(alice.identity.public_key)
    counters = []
    for item in relay_items(tmp_path / "relay.db"):
        _, kind, epoch = peek_item(item)
        if kind == ItemType.MESSAGE and epoch == keys.epoch:
            envelope = open_sender_data(keys, item)
            if envelope.sender_index == alice_index:
                counters.append(envelope.counter)
    assert sorted(counters) == list(range(20))

    for engine in (twin, alice, bob):
        run(engine.close())
    app.close()
