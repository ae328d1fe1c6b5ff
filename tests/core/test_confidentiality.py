"""P1 and P8: canary strings planted in every kind of content never reach the relay's
storage or traffic in the clear, and the profile database on disk is unreadable without
its key."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from app.core.database import Database
from app.core.errors import WrongPassphrase
from app.core.profile import DB_NAME, PARAMS_NAME, change_passphrase, unlock
from app.core.profile_lock import LOCK_NAME
from tests.core.harness import (
    Clock,
    RecordingTransport,
    Traffic,
    befriend,
    make_engine,
    make_relay,
    run,
    sync_all,
)

CANARIES = {
    "member name": "Canary-Member-7f3a",
    "group name": "Canary Group 91bc",
    "channel name": "canary-channel-55de",
    "message": "CANARY-MESSAGE-d41d8cd98f",
    "organizer name": "Canary-Organizer-c0ff",
}


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


def _forms(text: str) -> list[bytes]:
    raw = text.encode()
    return [raw, raw.lower(), text.encode("utf-16-le"), raw.hex().encode()]


def test_canaries_never_reach_the_relay(tmp_path: Path) -> None:
    clock = Clock()
    relay_dir = tmp_path / "relay"
    relay_dir.mkdir()
    app = make_relay(relay_dir, clock)
    traffic = Traffic()
    transport = RecordingTransport(httpx.ASGITransport(app=app), traffic)
    alice = make_engine(
        tmp_path, "alice", transport, clock, display_name=CANARIES["organizer name"]
    )
    bob = make_engine(tmp_path, "bob", transport, clock, display_name=CANARIES["member name"])

    async def scenario() -> bytes:
        group_id = await alice.create_group(CANARIES["group name"])
        await befriend(alice, group_id, bob)
        channel = await alice.create_channel(
            group_id, CANARIES["channel name"], announce_only=False
        )
        await sync_all(bob)
        await bob.send_text(group_id, CANARIES["message"], channel)
        await alice.send_text(group_id, CANARIES["message"] + " (reply)")
        await sync_all(alice, bob)
        return group_id

    group_id = run(scenario())
    # The scenario really carried the canaries end to end...
    assert any(CANARIES["message"] in m.text for m in alice.messages(group_id))
    assert {m.name for m in bob.members(group_id)} == {
        CANARIES["organizer name"],
        CANARIES["member name"],
    }
    for engine in (alice, bob):
        run(engine.close())
    app.close()

    # ...and neither the relay's files (database, WAL, anything) nor the traffic hold them.
    stored = b"".join(p.read_bytes() for p in _files(relay_dir))
    assert stored, "the relay stored something"
    wire = traffic.blob()
    assert len(wire) > 10_000
    for kind, canary in CANARIES.items():
        for form in _forms(canary):
            assert form not in stored, f"{kind} found in relay storage"
            assert form not in wire, f"{kind} found in relay traffic"
    # Identity keys and fingerprints do not reach the relay either (P9).
    for engine in (alice, bob):
        pk = engine.identity.public_key
        assert pk not in stored and pk not in wire
        assert engine.fingerprint.encode() not in wire


def test_profile_on_disk_holds_no_canary_and_needs_the_passphrase(tmp_path: Path) -> None:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    alice = make_engine(
        tmp_path, "alice", transport, clock, display_name=CANARIES["organizer name"]
    )
    bob = make_engine(tmp_path, "bob", transport, clock)

    async def scenario() -> bytes:
        group_id = await alice.create_group(CANARIES["group name"])
        await befriend(alice, group_id, bob)
        await bob.send_text(group_id, CANARIES["message"])
        await sync_all(alice)
        return group_id

    group_id = run(scenario())
    assert alice.messages(group_id)[-1].text == CANARIES["message"]
    seed = alice.identity.secret_bytes()[0]
    run(alice.close())
    run(bob.close())
    app.close()

    home = tmp_path / "alice"
    on_disk = b"".join(p.read_bytes() for p in _files(home))
    for canary in CANARIES.values():
        for form in _forms(canary):
            assert form not in on_disk
    assert seed not in on_disk
    assert not (home / DB_NAME).read_bytes().startswith(b"SQLite format 3")
    # Only the database, the (non-secret) Argon2id parameters and the lock file (which
    # holds the pid of the last process that opened the profile) are written.
    others = sorted(p.name for p in _files(home) if not p.name.startswith(DB_NAME))
    assert others == [PARAMS_NAME, LOCK_NAME]
    assert (home / LOCK_NAME).read_text().strip().isdigit()


def test_wrong_passphrase_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    alice = make_engine(tmp_path, "alice", httpx.ASGITransport(app=app), clock)
    run(alice.create_group("Freelancers"))
    run(alice.close())
    app.close()
    home = tmp_path / "alice"
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in _files(home)}
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        unlock(home, "not the passphrase")
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in _files(home)}
    assert after == before
    db = unlock(home, "passphrase of alice")
    assert db.one("SELECT count(*) FROM groups")[0] == 1
    db.close()


def test_passphrase_change_reencrypts_and_old_one_stops_working(tmp_path: Path) -> None:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    alice = make_engine(tmp_path, "alice", httpx.ASGITransport(app=app), clock)
    run(alice.create_group("Freelancers"))
    run(alice.close())
    app.close()
    home = tmp_path / "alice"
    import os

    db = unlock(home, "passphrase of alice")
    change_passphrase(home, db, "a much longer new passphrase", os.urandom, cost="interactive")
    db.close()
    with pytest.raises(WrongPassphrase):
        unlock(home, "passphrase of alice")
    db = unlock(home, "a much longer new passphrase")
    assert db.one("SELECT count(*) FROM groups")[0] == 1
    db.close()


def test_raw_key_guessing_fails_cleanly(tmp_path: Path) -> None:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    alice = make_engine(tmp_path, "alice", httpx.ASGITransport(app=app), clock)
    run(alice.close())
    app.close()
    with pytest.raises(WrongPassphrase):
        Database.open(tmp_path / "alice" / DB_NAME, bytes(32))
