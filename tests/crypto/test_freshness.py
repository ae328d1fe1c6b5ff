"""Organizer-signed freshness heads (docs/protocol.md section 4.4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    ForkDetected,
    MalformedData,
    NotPermitted,
    RemoteError,
    UnsupportedVersion,
    UsageError,
)
from crypto.freshness import (
    HEAD_SIZE,
    HEAD_VERSION,
    MAX_HEAD_ITEM,
    Head,
    check_head,
    open_head_item,
    seal_head_item,
    sign_head,
)
from crypto.group_log import EntryKind, remove_body
from crypto.items import ITEM_VERSION, ItemType, peek_item
from tests.crypto.group_support import T0, Group, SeededRng, identity

ALICE = identity("alice")
BOB = identity("bob")
CAROL = identity("carol")


def group() -> Group:
    g = Group.create(ALICE)
    g.add(ALICE, BOB)
    g.add(ALICE, CAROL)
    return g


def test_a_head_round_trips_and_counts_for_members_of_its_epoch() -> None:
    g = group()
    head = sign_head(ALICE, g.state, T0 + 5)
    item = seal_head_item(g.keys, head, SeededRng(b"n"))
    assert peek_item(item) == (ITEM_VERSION, ItemType.HEAD, g.state.seq)
    assert len(item) == MAX_HEAD_ITEM == 256  # the size of a short text message
    opened = open_head_item(g.keys, item)
    assert opened == head
    assert (opened.seq, opened.head, opened.issued_at) == (g.state.seq, g.state.head, T0 + 5)
    check_head(opened, g.state)
    assert len(head.encode()) == HEAD_SIZE == 161


def test_only_an_organizer_signs_or_counts() -> None:
    g = group()
    with pytest.raises(UsageError):
        sign_head(BOB, g.state, T0)
    # A member who signs the format herself (any member can seal it) is not counted.
    unsigned = Head(g.state.group_id, g.state.seq, g.state.head, T0, BOB.public_key, b"")
    forged = Head(
        unsigned.group_id,
        unsigned.seq,
        unsigned.head,
        unsigned.issued_at,
        unsigned.author,
        BOB.sign("freshness-head", unsigned.encode()),
    )
    forged.verify()
    item = seal_head_item(g.keys, forged, SeededRng(b"n"))
    with pytest.raises(NotPermitted):
        check_head(open_head_item(g.keys, item), g.state)


def test_a_head_of_another_history_is_a_fork() -> None:
    g = group()
    other = group()
    other.author(ALICE, EntryKind.REMOVE, remove_body(CAROL.public_key))
    g.author(ALICE, EntryKind.REKEY)
    assert g.state.seq == other.state.seq and g.state.head != other.state.head
    head = sign_head(ALICE, other.state, T0)
    with pytest.raises(ForkDetected):
        check_head(head, g.state)


def test_a_member_locked_out_of_the_new_epoch_reads_no_head_of_it() -> None:
    g = group()
    old_keys = g.keys
    g.author(ALICE, EntryKind.REMOVE, remove_body(CAROL.public_key))
    item = seal_head_item(g.keys, sign_head(ALICE, g.state, T0 + 60_000), SeededRng(b"n"))
    with pytest.raises(DecryptionFailed):
        open_head_item(old_keys, item)


def test_the_time_and_every_field_are_signed() -> None:
    g = group()
    head = sign_head(ALICE, g.state, T0)
    raw = bytearray(head.encode())
    raw[1 + 16 + 8 + 32 + 7] ^= 1  # the low byte of issued_at: an old head made new
    with pytest.raises(BadSignature):
        Head.decode(bytes(raw)).verify()


def test_another_version_is_refused_clearly() -> None:
    g = group()
    raw = bytearray(sign_head(ALICE, g.state, T0).encode())
    raw[0] = HEAD_VERSION + 1
    with pytest.raises(UnsupportedVersion, match="freshness head version 3"):
        Head.decode(bytes(raw))
    with pytest.raises(MalformedData):
        Head.decode(bytes(raw[:-1]))


def test_seal_refuses_a_head_of_another_epoch() -> None:
    g = group()
    head = sign_head(ALICE, g.state, T0)
    g.author(ALICE, EntryKind.REKEY)
    with pytest.raises(UsageError):
        seal_head_item(g.keys, head, SeededRng(b"n"))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_tampering_with_an_item_is_rejected(data: st.DataObject) -> None:
    g = group()
    item = bytearray(seal_head_item(g.keys, sign_head(ALICE, g.state, T0), SeededRng(b"n")))
    at = data.draw(st.integers(0, len(item) - 1))
    item[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(RemoteError):
        open_head_item(g.keys, bytes(item))
