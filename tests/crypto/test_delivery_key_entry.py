"""DELIVERY_KEY log entries (kind 11): a member replaces its own delivery certificate;
commits after it are sealed to the new key, so the old private half can be deleted
(docs/protocol.md 2.2, 3.2). And the stored form of an epoch's keys, which never holds
the epoch secret (protocol 3.1)."""

from __future__ import annotations

import dataclasses
import os

import pytest

from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    InvalidLogEntry,
    MalformedData,
    NotPermitted,
    UnsupportedVersion,
    UsageError,
)
from crypto.group_log import EntryKind, delivery_key_body, remove_body
from crypto.identity import DeliveryCert
from crypto.key_schedule import STORED_KEYS_SIZE, EpochKeys
from crypto.ratchet import ReceiveChain
from tests.crypto.group_support import Group, SeededRng, identity, receive

ALICE = identity("alice")
BOB = identity("bob")
CAROL = identity("carol")


def group_with() -> Group:
    group = Group.create(ALICE)
    for member in (BOB, CAROL):
        group.add(ALICE, member)
    return group


def test_a_rotation_replaces_the_authors_key_and_later_boxes_use_it() -> None:
    group = group_with()
    bob_new = BOB.with_new_delivery_key(SeededRng(b"bob/new"), 5)
    prev_keys, prev_state = group.keys, group.state
    item = group.author(BOB, EntryKind.DELIVERY_KEY, delivery_key_body(bob_new.delivery_cert))
    assert group.state.member(BOB.public_key).delivery_cert == bob_new.delivery_cert
    # The rotation's own box already goes to the new key; the old key opens nothing.
    _, secret = receive(prev_keys, prev_state, item, bob_new)
    assert secret == group.secrets[-1]
    with pytest.raises(DecryptionFailed):
        receive(prev_keys, prev_state, item, BOB)
    # So does every later commit, by anyone.
    prev_keys, prev_state = group.keys, group.state
    item = group.author(ALICE, EntryKind.REKEY)
    assert receive(prev_keys, prev_state, item, bob_new)[1] == group.secrets[-1]
    with pytest.raises(DecryptionFailed):
        receive(prev_keys, prev_state, item, BOB)


def test_a_member_cannot_certify_anothers_key_or_keep_its_own() -> None:
    group = group_with()
    carol_new = CAROL.with_new_delivery_key(SeededRng(b"carol/new"), 5)
    with pytest.raises(InvalidLogEntry, match="another identity"):
        group.author(BOB, EntryKind.DELIVERY_KEY, delivery_key_body(carol_new.delivery_cert))
    same = group.state.member(BOB.public_key).delivery_cert
    with pytest.raises(InvalidLogEntry, match="does not change"):
        group.author(BOB, EntryKind.DELIVERY_KEY, delivery_key_body(same))


def test_a_forged_or_low_order_certificate_is_refused() -> None:
    group = group_with()
    cert = BOB.with_new_delivery_key(SeededRng(b"bob/new"), 5).delivery_cert
    forged = dataclasses.replace(cert, created_at=cert.created_at + 1)
    with pytest.raises(BadSignature):
        group.state.apply(group.sign_next(BOB, EntryKind.DELIVERY_KEY, forged.encode()))
    low_order = bytes(32)  # the identity point: every box to it would fail
    unsigned = DeliveryCert(BOB.public_key, low_order, 5, b"")
    signature = BOB.sign("delivery-cert", unsigned._signed_part())
    bad = DeliveryCert(BOB.public_key, low_order, 5, signature)
    with pytest.raises(InvalidLogEntry):
        group.state.apply(group.sign_next(BOB, EntryKind.DELIVERY_KEY, bad.encode()))


def test_only_members_rotate() -> None:
    group = group_with()
    group.author(ALICE, EntryKind.REMOVE, remove_body(CAROL.public_key))
    cert = CAROL.with_new_delivery_key(SeededRng(b"carol/new"), 5).delivery_cert
    with pytest.raises(NotPermitted):
        group.state.apply(group.sign_next(CAROL, EntryKind.DELIVERY_KEY, cert.encode()))


def test_with_delivery_key_refuses_a_certificate_for_another_key() -> None:
    other = BOB.with_new_delivery_key(SeededRng(b"bob/other"), 5)
    with pytest.raises(UsageError):
        BOB.with_delivery_key(BOB.delivery_key, other.delivery_cert)
    assert BOB.with_delivery_key(other.delivery_key, other.delivery_cert) == other


def test_stored_epoch_keys_round_trip_without_the_secret() -> None:
    secret = os.urandom(32)
    keys = EpochKeys.derive(bytes(range(16)), 7, secret)
    stored = keys.encode()
    assert len(stored) == STORED_KEYS_SIZE == 1 + 16 + 8 + 4 * 32
    assert secret not in stored
    loaded = EpochKeys.decode(stored)
    assert loaded == keys.without_secret() and loaded.secret is None
    assert loaded.vote_key == keys.vote_key
    # Without the secret no chain can be started again from counter 0.
    with pytest.raises(UsageError, match="forgotten"):
        ReceiveChain.start(loaded, 0)
    with pytest.raises(UsageError, match="forgotten"):
        _ = loaded.commitment
    with pytest.raises(UnsupportedVersion):
        EpochKeys.decode(b"\x01" + stored[1:])
    with pytest.raises(MalformedData):
        EpochKeys.decode(stored[:-1])
    with pytest.raises(MalformedData):
        EpochKeys.decode(b"")
