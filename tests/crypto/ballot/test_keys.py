"""Ballot keys and their proof of possession (rogue-key and replay resistance)."""

from __future__ import annotations

import os

import pytest

from crypto.ballot import group
from crypto.ballot.keys import BallotKeyPair, BallotKeyRecord, make_pop, verify_pop
from crypto.errors import BadSignature, MalformedData, UnsupportedVersion
from tests.crypto.ballot import ref_ed25519 as ref

ALICE = bytes([1]) * 32
BOB = bytes([2]) * 32
GROUP = bytes([7]) * 16
OTHER_GROUP = bytes([8]) * 16


def test_pop_round_trip() -> None:
    keys = BallotKeyPair.generate(os.urandom)
    verify_pop(keys.public, make_pop(keys, ALICE, GROUP, os.urandom), ALICE, GROUP)


def test_pop_is_bound_to_identity_group_and_key() -> None:
    keys, other = BallotKeyPair.generate(os.urandom), BallotKeyPair.generate(os.urandom)
    pop = make_pop(keys, ALICE, GROUP, os.urandom)
    with pytest.raises(BadSignature):
        verify_pop(keys.public, pop, BOB, GROUP)  # Bob re-registers Alice's key
    with pytest.raises(BadSignature):
        verify_pop(keys.public, pop, ALICE, OTHER_GROUP)  # replayed in another group
    with pytest.raises(BadSignature):
        verify_pop(other.public, pop, ALICE, GROUP)


def test_related_key_cannot_be_registered() -> None:
    """Knowing d but not x, nobody can prove possession of P + d*G (rogue key)."""
    victim, attacker = BallotKeyPair.generate(os.urandom), BallotKeyPair.generate(os.urandom)
    related = group.add(victim.public, attacker.public)
    with pytest.raises(BadSignature):
        verify_pop(related, make_pop(attacker, BOB, GROUP, os.urandom), BOB, GROUP)


def test_pop_rejects_bad_encodings() -> None:
    keys = BallotKeyPair.generate(os.urandom)
    pop = make_pop(keys, ALICE, GROUP, os.urandom)
    s_plus_l = (int.from_bytes(pop[32:], "little") + ref.L).to_bytes(32, "little")
    for bad in (pop[:63], pop[:32] + s_plus_l, ref.torsion_points()[1] + pop[32:]):
        with pytest.raises(MalformedData):
            verify_pop(keys.public, bad, ALICE, GROUP)
    with pytest.raises(MalformedData):
        verify_pop(ref.torsion_points()[3], pop, ALICE, GROUP)


def test_keypair_secret_is_hidden_and_restorable() -> None:
    keys = BallotKeyPair.generate(os.urandom)
    assert keys.secret.hex() not in repr(keys)
    assert BallotKeyPair.from_secret(keys.secret_bytes()) == keys
    assert keys.public == ref.compress(ref.mul(int.from_bytes(keys.secret, "little"), ref.G))
    for bad in (bytes(32), ref.L.to_bytes(32, "little"), bytes(31)):
        with pytest.raises(MalformedData):
            BallotKeyPair.from_secret(bad)


def test_record_round_trip_and_strictness() -> None:
    keys = BallotKeyPair.generate(os.urandom)
    body = BallotKeyRecord.create(keys, ALICE, GROUP, os.urandom).encode()
    assert len(body) == 97
    assert BallotKeyRecord.decode(body, ALICE, GROUP).public == keys.public
    with pytest.raises(BadSignature):
        BallotKeyRecord.decode(body, BOB, GROUP)
    with pytest.raises(UnsupportedVersion):
        BallotKeyRecord.decode(b"\x02" + body[1:], ALICE, GROUP)
    with pytest.raises(MalformedData):
        BallotKeyRecord.decode(body + b"\x00", ALICE, GROUP)
    with pytest.raises(MalformedData):
        BallotKeyRecord.decode(body[:-1], ALICE, GROUP)
