"""Commits: who can read the entry, who gets the new secret, and what a relay cannot do."""

from __future__ import annotations

import contextlib

import nacl.bindings
import nacl.public
import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.commit import (
    EPOCH_DELIVERY_SIZE,
    MAX_COMMIT_CIPHERTEXT,
    MAX_SEALED_SLOTS,
    SEALED_DELIVERY_SIZE,
    commit_size,
    open_commit,
    open_epoch_delivery,
    seal_commit,
    sealed_slots,
)
from crypto.errors import (
    DecryptionFailed,
    EpochKeyMismatch,
    MalformedData,
    RemoteError,
    UnsupportedVersion,
    UsageError,
)
from crypto.group_log import (
    EntryKind,
    GroupState,
    LogEntry,
    NotAMember,
    author_entry,
    remove_body,
)
from crypto.identity import Identity
from crypto.items import ItemType, peek_item, peek_type
from crypto.key_schedule import EpochKeys
from crypto.sealed import open_sealed, seal
from crypto.wire import Writer
from tests.crypto.group_support import (
    T0,
    Group,
    SeededRng,
    identity,
    libsodium_hash,
    load_vectors,
    receive,
)

ALICE = identity("alice")
BOB = identity("bob")
CAROL = identity("carol")
DAVE = identity("dave")

# Layout of a commit item: header (10), nonce (24), u32 length, ciphertext, u32 count, boxes.
HEADER = 10


def three_member_group() -> tuple[Group, EpochKeys, GroupState]:
    """Alice's group with Bob and Carol, plus the keys and state before the last commit."""
    group = Group.create(ALICE)
    group.add(ALICE, BOB)
    prev_keys, prev_state = group.keys, group.state
    group.add(ALICE, CAROL)
    return group, prev_keys, prev_state


def sealed_offset(item: bytes) -> int:
    """Where the u32 count of sealed boxes starts."""
    length = int.from_bytes(item[HEADER + 24 : HEADER + 28], "big")
    return HEADER + 28 + length


def replace_box(item: bytes, index: int, box: bytes) -> bytes:
    start = sealed_offset(item) + 4 + index * SEALED_DELIVERY_SIZE
    return item[:start] + box + item[start + SEALED_DELIVERY_SIZE :]


def test_every_member_of_the_new_roster_gets_the_new_secret() -> None:
    group, prev_keys, prev_state = three_member_group()
    item = group.commits[-1]
    for member in (ALICE, BOB, CAROL):
        state, secret = receive(prev_keys, prev_state, item, member)
        assert state == group.state
        assert secret == group.secrets[-1]


def test_commit_header_peeks_as_the_epoch_it_ends() -> None:
    group, prev_keys, _ = three_member_group()
    assert peek_item(group.commits[-1]) == (2, ItemType.COMMIT, prev_keys.epoch)
    assert peek_type(group.commits[-1]) == ItemType.COMMIT


def test_one_box_per_member_in_roster_order_then_dummies() -> None:
    group, _, _ = three_member_group()
    item = group.commits[-1]
    start = sealed_offset(item)
    count = int.from_bytes(item[start : start + 4], "big")
    assert len(group.state.roster()) == 3 and count == sealed_slots(3) == 8
    assert len(item) == start + 4 + count * SEALED_DELIVERY_SIZE
    # Box i opens with the delivery key of roster member i and no other; the dummies
    # after the roster open with nobody's.
    people = {p.public_key: p for p in (ALICE, BOB, CAROL)}
    roster = group.state.roster()
    for index in range(count):
        box = item[start + 4 + index * SEALED_DELIVERY_SIZE :][:SEALED_DELIVERY_SIZE]
        owner = roster[index].identity_pk if index < len(roster) else None
        if owner is not None:
            assert len(open_sealed(people[owner].delivery_key, box)) == EPOCH_DELIVERY_SIZE
        for other in people.values():
            if other.public_key != owner:
                with pytest.raises(DecryptionFailed):
                    open_sealed(other.delivery_key, box)


@pytest.mark.parametrize(
    ("members", "slots"),
    [(0, 8), (1, 8), (3, 8), (5, 8), (8, 8), (9, 16), (40, 64), (1000, 1024), (10_000, 16384)],
)
def test_sealed_slots_are_a_bucket_of_member_counts(members: int, slots: int) -> None:
    assert sealed_slots(members) == slots


def test_commits_for_three_and_five_members_have_one_size() -> None:
    """The relay learns neither the roster size within a bucket nor the entry's kind."""
    group = Group.create(ALICE)
    sizes = set()
    for person in (BOB, CAROL, DAVE):
        group.add(ALICE, person)
        sizes.add(len(group.commits[-1]))
    group.author(ALICE, EntryKind.REMOVE, remove_body(DAVE.public_key))
    sizes.add(len(group.commits[-1]))
    group.author(BOB, EntryKind.REKEY)
    sizes.add(len(group.commits[-1]))
    assert sizes == {commit_size(8, 0)} == {2304}


def test_the_commit_limits_hold_for_10000_members() -> None:
    """The largest entry (a 65,536-byte body) with the largest sealed list stays within the
    ciphertext bound and the relay's 4 MiB commit limit, for every slot bucket."""
    largest_entry = 1 + 16 + 8 + 32 + 32 + 8 + 1 + 4 + 65_536 + 32 + 64
    slots = 8
    while slots <= MAX_SEALED_SLOTS:
        size = commit_size(slots, largest_entry)
        assert size - (10 + 24 + 4 + 4) - slots * SEALED_DELIVERY_SIZE <= MAX_COMMIT_CIPHERTEXT
        slots *= 2
    assert sealed_slots(10_000) == MAX_SEALED_SLOTS
    assert commit_size(MAX_SEALED_SLOTS, largest_entry) == 2_359_296 <= 4 * 1024 * 1024


def test_a_commit_padded_to_another_size_is_refused() -> None:
    """One encoding per content: the entry's padding is checked, inside the AEAD."""
    group, prev_keys, _ = three_member_group()
    item = group.commits[-1]
    entry = open_commit(prev_keys, item)
    header = item[:HEADER]
    nonce = item[HEADER : HEADER + 24]
    boxes = item[sealed_offset(item) :]
    for space, error in ((2000, "bucket"), (1024, "not zero")):
        padded = len(entry.encode()).to_bytes(4, "big") + entry.encode()
        padded += bytes(space - len(padded))
        if error == "not zero":
            padded = padded[:-1] + b"\x01"
        ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            padded, prev_keys.group_id + header, nonce, prev_keys.commit_key
        )
        forged = header + nonce + len(ciphertext).to_bytes(4, "big") + ciphertext + boxes
        with pytest.raises(MalformedData, match=error):
            open_commit(prev_keys, forged)


def test_removed_member_reads_the_removal_but_gets_no_secret() -> None:
    group, _, _ = three_member_group()
    prev_keys, prev_state = group.keys, group.state
    item = group.author(ALICE, EntryKind.REMOVE, remove_body(BOB.public_key))
    entry = open_commit(prev_keys, item)  # Bob still holds the old epoch
    new_state = prev_state.apply(entry)
    assert not new_state.is_member(BOB.public_key)
    with pytest.raises(NotAMember):
        open_epoch_delivery(item, entry, new_state, BOB)
    # None of the boxes opens with Bob's delivery key.
    start = sealed_offset(item) + 4
    boxes = [item[start + i * SEALED_DELIVERY_SIZE :][:SEALED_DELIVERY_SIZE] for i in range(8)]
    assert len(item) == start + 8 * SEALED_DELIVERY_SIZE
    for box in boxes:
        with pytest.raises(DecryptionFailed):
            open_sealed(BOB.delivery_key, box)
    # And the others still get it.
    assert receive(prev_keys, prev_state, item, CAROL)[1] == group.secrets[-1]


def test_member_who_left_gets_no_secret_for_the_leave_epoch() -> None:
    group, _, _ = three_member_group()
    prev_keys, prev_state = group.keys, group.state
    item = group.author(CAROL, EntryKind.LEAVE)
    entry = open_commit(prev_keys, item)
    new_state = prev_state.apply(entry)
    assert new_state.needs_rekey
    with pytest.raises(NotAMember):
        open_epoch_delivery(item, entry, new_state, CAROL)
    assert receive(prev_keys, prev_state, item, BOB)[1] == group.secrets[-1]


def test_relay_substituted_box_is_caught_by_the_commitment() -> None:
    """The relay knows Bob's delivery key and seals its own secret to it."""
    group, prev_keys, prev_state = three_member_group()
    item = group.commits[-1]
    entry = open_commit(prev_keys, item)
    new_state = prev_state.apply(entry)
    index = new_state.sender_index(BOB.public_key)
    forged = (
        Writer()
        .u8(1)
        .fixed(entry.group_id, 16)
        .u64(entry.seq)
        .fixed(entry.hash, 32)
        .fixed(b"\x66" * 32, 32)
    )
    box = seal(BOB.delivery_cert.delivery_pk, bytes(forged), SeededRng(b"relay"))
    with pytest.raises(EpochKeyMismatch, match="commitment"):
        open_epoch_delivery(replace_box(item, index, box), entry, new_state, BOB)


def test_box_from_an_older_commit_is_caught() -> None:
    """Replaying Bob's genuine box from an earlier commit: right key, wrong entry."""
    group, prev_keys, prev_state = three_member_group()
    older = group.commits[0]  # the commit that added Bob
    older_state = GroupState.replay(group.entries[:2])
    old_box_index = older_state.sender_index(BOB.public_key)
    start = sealed_offset(older) + 4 + old_box_index * SEALED_DELIVERY_SIZE
    old_box = older[start : start + SEALED_DELIVERY_SIZE]
    item = group.commits[-1]
    entry = open_commit(prev_keys, item)
    new_state = prev_state.apply(entry)
    spliced = replace_box(item, new_state.sender_index(BOB.public_key), old_box)
    with pytest.raises(EpochKeyMismatch):
        open_epoch_delivery(spliced, entry, new_state, BOB)


def test_swapped_boxes_do_not_open() -> None:
    group, prev_keys, prev_state = three_member_group()
    item = group.commits[-1]
    entry = open_commit(prev_keys, item)
    new_state = prev_state.apply(entry)
    start = sealed_offset(item) + 4
    boxes = [item[start + i * SEALED_DELIVERY_SIZE :][:SEALED_DELIVERY_SIZE] for i in range(3)]
    swapped = item[:start] + boxes[1] + boxes[0] + item[start + 2 * SEALED_DELIVERY_SIZE :]
    people = {p.public_key: p for p in (ALICE, BOB, CAROL)}
    first = people[new_state.member_at(0).identity_pk]
    with pytest.raises(DecryptionFailed):
        open_epoch_delivery(swapped, entry, new_state, first)


def test_dropped_or_extra_boxes_are_rejected() -> None:
    group, prev_keys, prev_state = three_member_group()
    item = group.commits[-1]
    entry = open_commit(prev_keys, item)
    new_state = prev_state.apply(entry)
    start = sealed_offset(item)
    fewer = item[:start] + (7).to_bytes(4, "big") + item[start + 4 : -SEALED_DELIVERY_SIZE]
    more = item[:start] + (9).to_bytes(4, "big") + item[start + 4 :] + item[-SEALED_DELIVERY_SIZE:]
    for bad in (fewer, more):
        with pytest.raises(MalformedData, match="bucket of member counts"):
            open_epoch_delivery(bad, entry, new_state, ALICE)
    # A whole bucket too many: the padding no longer matches, nor the roster size.
    doubled = item[:start] + (16).to_bytes(4, "big") + item[start + 4 :] + item[start + 4 :]
    with pytest.raises(MalformedData, match="padded"):
        open_commit(prev_keys, doubled)
    with pytest.raises(MalformedData, match="roster size"):
        open_epoch_delivery(doubled, entry, new_state, ALICE)


def test_commit_for_another_epoch_is_refused() -> None:
    group, prev_keys, prev_state = three_member_group()
    item = group.commits[-1]
    entry = open_commit(prev_keys, item)
    new_state = prev_state.apply(entry)
    # The header says a different epoch: open_commit refuses, as does the delivery check.
    shifted = item[:2] + (prev_keys.epoch + 1).to_bytes(8, "big") + item[HEADER:]
    with pytest.raises(DecryptionFailed):
        open_commit(prev_keys, shifted)
    with pytest.raises(EpochKeyMismatch):
        open_epoch_delivery(shifted, entry, new_state, BOB)


def test_wrong_epoch_keys_do_not_decrypt() -> None:
    group, prev_keys, _ = three_member_group()
    wrong = EpochKeys.derive(prev_keys.group_id, prev_keys.epoch, b"\x01" * 32)
    with pytest.raises(DecryptionFailed):
        open_commit(wrong, group.commits[-1])
    other_group = EpochKeys.derive(b"\x09" * 16, prev_keys.epoch, group.secrets[-2])
    with pytest.raises(DecryptionFailed):
        open_commit(other_group, group.commits[-1])


@settings(max_examples=200)
@given(st.data())
def test_tampering_with_the_encrypted_part_fails(data: st.DataObject) -> None:
    """Any flipped byte before the sealed list: framing error or DecryptionFailed."""
    item = bytearray(_ITEM)
    position = data.draw(st.integers(0, sealed_offset(_ITEM) - 1))
    item[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(RemoteError) as caught:
        open_commit(_PREV_KEYS, bytes(item))
    if position >= HEADER + 24 + 4 or HEADER <= position < HEADER + 24:
        assert caught.type is DecryptionFailed  # nonce or ciphertext
    elif position == 0:
        assert caught.type is UnsupportedVersion


@settings(max_examples=200)
@given(st.data())
def test_tampering_with_a_box_is_detected(data: st.DataObject) -> None:
    item = bytearray(_ITEM)
    start = sealed_offset(_ITEM)
    position = data.draw(st.integers(start, len(item) - 1))
    item[position] ^= data.draw(st.integers(1, 255))
    if position < start + 4:  # the count of boxes: the item no longer parses
        with pytest.raises(MalformedData):
            open_commit(_PREV_KEYS, bytes(item))
        return
    assert open_commit(_PREV_KEYS, bytes(item)) == _ENTRY  # the entry is outside the boxes
    opened = []
    for member in (ALICE, BOB, CAROL):
        with contextlib.suppress(RemoteError):
            opened.append(open_epoch_delivery(bytes(item), _ENTRY, _NEW_STATE, member))
    real = position < start + 4 + 3 * SEALED_DELIVERY_SIZE  # else a dummy: nobody's box
    assert len(opened) == (2 if real else 3) and all(secret == _SECRET for secret in opened)


@given(st.binary(max_size=600))
def test_random_items_only_raise_remote_errors(data: bytes) -> None:
    with pytest.raises(RemoteError):
        open_commit(_PREV_KEYS, data)
    with pytest.raises(RemoteError):
        open_epoch_delivery(data, _ENTRY, _NEW_STATE, BOB)


def test_seal_commit_refuses_inconsistent_inputs() -> None:
    group, prev_keys, _prev_state = three_member_group()
    entry, secret, new_state = author_entry(
        group.state, ALICE, EntryKind.REKEY, b"", T0, SeededRng(b"r")
    )
    rng = SeededRng(b"s")
    with pytest.raises(UsageError, match="follow"):
        seal_commit(prev_keys, entry, new_state, secret, rng)  # keys one epoch too old
    with pytest.raises(UsageError, match="commits to"):
        seal_commit(group.keys, entry, new_state, b"\x00" * 32, rng)
    with pytest.raises(UsageError, match="state after"):
        seal_commit(group.keys, entry, group.state, secret, rng)
    seal_commit(group.keys, entry, new_state, secret, rng)


def test_our_sealed_boxes_are_libsodium_sealed_boxes() -> None:
    """Cross-check with PyNaCl's own SealedBox in both directions."""
    recipient = nacl.public.PrivateKey(b"\x11" * 32)
    ours = seal(bytes(recipient.public_key), b"hello", SeededRng(b"b"))
    assert nacl.public.SealedBox(recipient).decrypt(ours) == b"hello"
    theirs = nacl.public.SealedBox(recipient.public_key).encrypt(b"world")
    assert open_sealed(recipient, bytes(theirs)) == b"world"


def test_commits_are_deterministic_given_the_rng() -> None:
    one, _, _ = three_member_group()
    two, _, _ = three_member_group()
    assert one.commits == two.commits


# Module-level fixtures for the property tests (Hypothesis dislikes function fixtures).
_GROUP, _PREV_KEYS, _PREV_STATE = three_member_group()
_ITEM = _GROUP.commits[-1]
_ENTRY = open_commit(_PREV_KEYS, _ITEM)
_NEW_STATE = _PREV_STATE.apply(_ENTRY)
_SECRET = _GROUP.secrets[-1]


# --- known-answer vector ---------------------------------------------------------------------


class _ListRng:
    def __init__(self, values: list[bytes]) -> None:
        self._values = list(values)

    def __call__(self, size: int) -> bytes:
        value = self._values.pop(0)
        assert len(value) == size
        return value


def test_commit_vector() -> None:
    """Re-seal byte for byte, then open it; the commit key through libsodium's BLAKE2b."""
    log = load_vectors()["log"]
    vector = log["commit"]
    group_id = bytes.fromhex(log["group_id"])
    prev_secret = bytes.fromhex(vector["prev_epoch_secret"])
    prev_keys = EpochKeys.derive(group_id, vector["prev_epoch"], prev_secret)
    assert libsodium_hash("commit-key", key=prev_secret).hex() == vector["commit_key"]
    assert prev_keys.commit_key.hex() == vector["commit_key"]
    entries = [LogEntry.decode(bytes.fromhex(e["encoded"])) for e in log["entries"]]
    prev_state = GroupState.replay(entries[:-1])
    new_state = prev_state.apply(entries[-1])
    new_secret = bytes.fromhex(log["entries"][-1]["epoch_secret"])
    randomness = [bytes.fromhex(r) for r in vector["randomness"]]
    item = bytes.fromhex(vector["item"])
    assert seal_commit(prev_keys, entries[-1], new_state, new_secret, _ListRng(randomness)) == item
    assert open_commit(prev_keys, item) == entries[-1]
    for name in ("alice", "bob"):
        ids = log["identities"][name]
        me = Identity.from_keys(
            nacl.signing.SigningKey(bytes.fromhex(ids["identity_seed"])),
            nacl.public.PrivateKey(bytes.fromhex(ids["delivery_seed"])),
            T0,
        )
        assert open_epoch_delivery(item, entries[-1], new_state, me) == new_secret
    # The AEAD nonce sits right after the header, the ephemeral keys open each box, and
    # each dummy is the X25519 public key of its secret and then its random bytes.
    assert item[HEADER : HEADER + 24] == randomness[0]
    start = sealed_offset(item) + 4
    assert int.from_bytes(item[start - 4 : start], "big") == 8
    for index, ephemeral in enumerate(randomness[1:3]):
        box = item[start + index * SEALED_DELIVERY_SIZE :][:32]
        assert box == X25519PrivateKey.from_private_bytes(ephemeral).public_key().public_bytes_raw()
    dummies = randomness[3:]
    for index in range(2, 8):
        box = item[start + index * SEALED_DELIVERY_SIZE :][:SEALED_DELIVERY_SIZE]
        secret, rest = dummies[2 * (index - 2)], dummies[2 * (index - 2) + 1]
        public = X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()
        assert box == public + rest
    # The padded entry, read by hand from the protocol text: u32 len | entry | zeros,
    # and the whole item is the Padme bucket of section 4.2.
    plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        item[HEADER + 28 : start - 4], group_id + item[:HEADER], randomness[0], prev_keys.commit_key
    )
    length = int.from_bytes(plaintext[:4], "big")
    assert plaintext[4 : 4 + length] == entries[-1].encode()
    assert plaintext[4 + length :] == bytes(len(plaintext) - 4 - length)
    assert len(item) == 2304
