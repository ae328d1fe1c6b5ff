"""Profiles written by released versions open and upgrade in this one, keeping
everything a member had: groups, roles, messages, documents, ballots and verified keys.

The fixtures under tests/fixtures/profiles/ were made once by each release and are never
regenerated (their README says how and by which commit)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.core.database import SCHEMA_VERSION
from app.core.engine import Engine
from app.core.profile import open_with_key, unlock_with_key
from app.core.queries import Queries
from app.core.store import ballots as ballot_store
from app.core.verified_keys import VerifiedMark
from crypto.key_schedule import EpochKeys
from tests.core.harness import run

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "profiles"
PASSPHRASE = "frozen profile passphrase"
RELEASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def test_there_is_a_fixture_per_release() -> None:
    assert "v0.1.0" in RELEASES


@pytest.fixture(params=RELEASES)
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    target = tmp_path / request.param
    shutil.copytree(FIXTURES / request.param, target)
    (target / "README.md").unlink()
    return target


def test_an_old_profile_opens_upgraded_with_everything_kept(home: Path) -> None:
    engine = Engine.open(home, PASSPHRASE)
    try:
        (version,) = engine.db.one("PRAGMA user_version")
        assert version == SCHEMA_VERSION
        assert engine.profile().name == "Bob"
        group_id = engine.resolve_group("Couriers' Union")
        group = engine.group(group_id)
        assert group.status == "active" and group.my_role == "member"
        assert [c.name for c in group.channels] == ["general", "announcements"]
        roles = {m.name: m.role for m in engine.members(group_id)}
        assert roles == {"Alice": "organizer", "Bob": "member"}
        texts = [m.text for m in engine.messages(group_id)]
        assert "Welcome, Bob. The rate card is attached below." in texts
        assert "Thanks! Reading it tonight." in texts
        # Indexed by the old trigger, still found after migration 0016 dropped it.
        assert [m.text for m in engine.search("Reading")] == ["Thanks! Reading it tonight."]

        (document,) = engine.documents.list(group_id)
        assert document.title == "Rate card 2026"
        assert document.trusted

        (ballot,) = engine.ballots.ballots(group_id)
        assert ballot.question == "Strike on Friday?"
        results = engine.ballots.results(group_id, ballot.ballot_id)
        assert results["counts"] == {"yes": 1, "no": 1, "abstain": 0}
        # Bob's own vote, as the old ballot outbox held it, is in the one outbox now.
        (vote,) = engine.db.all("SELECT id FROM ballot_outbox")
        row = ballot_store.load_outbox(engine.db, vote[0])
        assert row is not None and (row.status, row.revision, row.relay_seq) == ("sent", 0, 11)
        assert ballot_store.my_votes(engine.db, group_id, ballot.ballot_id).revision == 0
        assert run(engine.flush_outbox()) == 0  # nothing queued, nothing posted again

        alice_pk = next(m.identity_pk for m in engine.members(group_id) if m.name == "Alice")
        assert engine.verified_keys() == {alice_pk: VerifiedMark("Alice", b"")}
    finally:
        run(engine.close())


def test_an_upgraded_profile_opens_again_and_in_the_reader(home: Path) -> None:
    run(Engine.open(home, PASSPHRASE).close())
    db, key = unlock_with_key(home, PASSPHRASE)
    db.close()
    reader = Queries.reader(open_with_key(home, key))
    try:
        assert [g.name for g in reader.groups()] == ["Couriers' Union"]
    finally:
        reader.db.close()


def test_an_old_profile_keeps_no_epoch_secret_and_its_single_key_only_in_its_own_row(
    home: Path,
) -> None:
    """Protocol 3.1-3.2: the bare epoch secret becomes keys and chains; the profile's one
    delivery key, which every group of an older profile lists, moves to its own row (to
    be deleted once the groups rotate) and the profile row gets a fresh, unpublished key."""
    db, _ = unlock_with_key(home, PASSPHRASE)
    try:
        (old_secret,) = db.one("SELECT delivery_secret FROM profile")
        ((legacy_epoch, legacy_secret),) = db.all("SELECT epoch, secret FROM epochs")
    finally:
        db.close()
    engine = Engine.open(home, PASSPHRASE)
    try:
        group_id = engine.resolve_group("Couriers' Union")
        assert engine.db.all("SELECT * FROM epochs") == []
        (stored,) = engine.db.one("SELECT keys FROM epoch_keys WHERE group_id = ?", (group_id,))
        keys = EpochKeys.decode(bytes(stored))
        assert (
            keys == EpochKeys.derive(group_id, legacy_epoch, bytes(legacy_secret)).without_secret()
        )
        chains = engine.db.one("SELECT count(*) FROM recv_chains WHERE group_id = ?", (group_id,))[
            0
        ]
        assert chains == len(engine.members(group_id))
        (profile_secret,) = engine.db.one("SELECT delivery_secret FROM profile")
        assert bytes(profile_secret) != bytes(old_secret)
        kept = engine.db.all("SELECT secret, origin FROM delivery_keys")
        assert [(bytes(s), o) for s, o in kept] == [(bytes(old_secret), "profile")]
        state = engine.session(group_id).state
        listed = state.member(engine.identity.public_key).delivery_cert.delivery_pk
        assert (
            engine.db.one("SELECT count(*) FROM delivery_keys WHERE public_key = ?", (listed,))[0]
            == 1
        )
    finally:
        run(engine.close())
