"""BALLOT_KEY log entries (kind 10): a member registers its own ballot key with a proof
of possession bound to its identity and the group; every client applies the same rules
(docs/ballots.md section 2, protocol 2.2)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.ballot import BallotKeyPair, BallotKeyRecord
from crypto.ballot.group import IDENTITY, ZERO_SCALAR
from crypto.errors import (
    BadSignature,
    InvalidLogEntry,
    NotPermitted,
    RemoteError,
    UsageError,
)
from crypto.group_log import EntryKind, GroupState, Role, remove_body
from crypto.identity import Identity
from crypto.log_entry import decode_body
from tests.crypto.group_support import Group, SeededRng, identity

ALICE = identity("alice")
BOB = identity("bob")
CAROL = identity("carol")
MALLORY = identity("mallory")


def keypair(name: str) -> BallotKeyPair:
    return BallotKeyPair.generate(SeededRng(b"ballot-key/" + name.encode()))


def group_with(*members: Identity) -> Group:
    group = Group.create(ALICE)
    for member in members:
        group.add(ALICE, member)
    return group


def body_for(who: Identity, pair: BallotKeyPair, group: Group) -> bytes:
    return BallotKeyRecord.create(pair, who.public_key, group.state.group_id, group.rng).encode()


def register(group: Group, who: Identity, pair: BallotKeyPair) -> None:
    group.author(who, EntryKind.BALLOT_KEY, body_for(who, pair, group))


def test_members_register_their_own_keys_in_roster_order() -> None:
    group = group_with(BOB, CAROL)
    pairs = {who.public_key: keypair(name) for who, name in ((BOB, "b"), (CAROL, "c"))}
    register(group, CAROL, pairs[CAROL.public_key])
    register(group, BOB, pairs[BOB.public_key])
    state = group.state
    assert state.ballot_keys[BOB.public_key] == pairs[BOB.public_key].public
    # The ballot roster follows the roster (identity-key order), not registration order;
    # Alice registered none and is not eligible.
    expected = tuple(pairs[m.identity_pk].public for m in state.roster() if m.identity_pk in pairs)
    assert state.ballot_roster() == expected
    assert len(expected) == 2
    # A client replaying the whole log (a newcomer's welcome) reaches the same state.
    assert GroupState.replay(group.entries) == state


def test_a_member_may_replace_its_key_but_not_register_it_twice() -> None:
    group = group_with(BOB)
    first, second = keypair("b1"), keypair("b2")
    register(group, BOB, first)
    before = group.state
    with pytest.raises(InvalidLogEntry, match="already registered"):
        before.apply(group.sign_next(BOB, EntryKind.BALLOT_KEY, body_for(BOB, first, group)))
    register(group, BOB, second)
    assert group.state.ballot_roster() == (second.public,)


def test_nobody_registers_a_key_for_someone_else() -> None:
    """The proof is bound to its author: Bob's record posted by Mallory fails."""
    group = group_with(BOB, MALLORY)
    stolen = body_for(BOB, keypair("b"), group)
    with pytest.raises(BadSignature):
        group.state.apply(group.sign_next(MALLORY, EntryKind.BALLOT_KEY, stolen))


def test_a_proof_from_another_group_is_refused() -> None:
    group = group_with(BOB)
    other = Group.create(ALICE, seed=b"other")
    other.add(ALICE, BOB)
    replayed = body_for(BOB, keypair("b"), other)
    with pytest.raises(BadSignature):
        group.state.apply(group.sign_next(BOB, EntryKind.BALLOT_KEY, replayed))


def test_a_key_another_member_registered_is_refused() -> None:
    """Even with the secret (and so a valid proof), a key sits in a ring only once."""
    group = group_with(BOB, CAROL)
    shared = keypair("shared")
    register(group, BOB, shared)
    before = group.state
    with pytest.raises(InvalidLogEntry, match="another member"):
        before.apply(group.sign_next(CAROL, EntryKind.BALLOT_KEY, body_for(CAROL, shared, group)))
    assert group.state is before  # nothing half-applied


def test_outsiders_cannot_register() -> None:
    group = group_with(BOB)
    with pytest.raises(NotPermitted):
        group.state.apply(
            group.sign_next(MALLORY, EntryKind.BALLOT_KEY, body_for(MALLORY, keypair("m"), group))
        )


def test_removed_and_departed_members_leave_the_ballot_roster() -> None:
    group = group_with(BOB, CAROL)
    register(group, BOB, keypair("b"))
    register(group, CAROL, keypair("c"))
    group.author(ALICE, EntryKind.REMOVE, remove_body(BOB.public_key))
    assert BOB.public_key not in group.state.ballot_keys
    group.author(CAROL, EntryKind.LEAVE)
    assert group.state.ballot_roster() == ()
    # Back in the group, Bob registers again (his old key was dropped with him).
    group.add(ALICE, BOB)
    register(group, BOB, keypair("b"))
    assert group.state.ballot_roster() == (keypair("b").public,)
    assert GroupState.replay(group.entries) == group.state


def test_malformed_bodies_are_invalid_entries() -> None:
    group = group_with(BOB)
    good = body_for(BOB, keypair("b"), group)
    for body in (b"", good[:-1], good + b"\x00", b"\x02" + good[1:]):
        with pytest.raises(InvalidLogEntry):
            group.state.apply(group.sign_next(BOB, EntryKind.BALLOT_KEY, body))
    # A small-order point as the key: refused as malformed before any proof is checked.
    with pytest.raises(InvalidLogEntry):
        group.state.apply(
            group.sign_next(BOB, EntryKind.BALLOT_KEY, b"\x01" + IDENTITY + good[33:])
        )


def test_organizers_and_members_alike_may_register() -> None:
    group = group_with(BOB)
    group.add(ALICE, CAROL, Role.ORGANIZER)
    register(group, ALICE, keypair("a"))
    register(group, CAROL, keypair("c"))
    register(group, BOB, keypair("b"))
    assert len(group.state.ballot_roster()) == 3


def test_decode_body_points_to_the_record_decoder() -> None:
    with pytest.raises(UsageError):
        decode_body(EntryKind.BALLOT_KEY, b"\x01" + bytes(96))


def test_zero_secret_is_not_a_key() -> None:
    with pytest.raises(RemoteError):
        BallotKeyPair.from_secret(ZERO_SCALAR)


_GROUP = group_with(BOB)


@settings(max_examples=100)
@given(st.binary(max_size=200))
def test_random_bodies_only_raise_remote_errors(body: bytes) -> None:
    with contextlib.suppress(RemoteError):
        _GROUP.state.apply(_GROUP.sign_next(BOB, EntryKind.BALLOT_KEY, body))
