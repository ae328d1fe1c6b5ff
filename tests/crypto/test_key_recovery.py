"""Help items, key requests, key answers and group moves (docs/protocol.md 4.4): every
check the recipient makes, one failing input each."""

from __future__ import annotations

import pytest
from nacl.signing import VerifyKey

from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    EpochKeyMismatch,
    InvalidLogEntry,
    MalformedData,
    NotPermitted,
    UnsupportedVersion,
    UsageError,
)
from crypto.group_log import EntryKind, GroupState, NotAMember, Role, remove_body, rename_body
from crypto.group_move import open_group_move, seal_group_move
from crypto.help_box import HelpBox, HelpKind, open_help_item, seal_help_item
from crypto.identity import Identity
from crypto.key_request import KeyRequest, RequestReason, open_key_answer, seal_key_answer
from crypto.key_schedule import EpochKeys
from crypto.log_entry import LogEntry
from crypto.padding import bucket_size
from crypto.sealed import seal
from crypto.wire import Writer
from tests.crypto.group_support import T0, Group, SeededRng, hand_frame, identity, libsodium_hash

ALICE, BOB, CAROL = identity("alice"), identity("bob"), identity("carol")


def _group() -> tuple[Group, GroupState]:
    """Alice (organizer), Bob, Carol; then Alice's REKEY. Returns the group after the
    REKEY and the state before it (where Bob is stuck)."""
    group = Group.create(ALICE, seed=b"recovery")
    group.add(ALICE, BOB, name="bob")
    group.add(ALICE, CAROL, name="carol")
    before = group.state
    group.author(ALICE, EntryKind.REKEY)
    return group, before


def _request(group: Group, me: Identity = BOB, request_id: bytes = b"r" * 16) -> KeyRequest:
    entry = group.entries[-1]
    return KeyRequest.sign(
        me,
        group_id=group.state.group_id,
        epoch=entry.seq,
        entry_hash=entry.hash,
        request_id=request_id,
        reason=RequestReason.BOX_DID_NOT_OPEN,
        now=T0,
    )


# -- help items ------------------------------------------------------------------------


def test_help_box_is_derived_from_the_group_id_as_documented() -> None:
    group_id = bytes(range(16))
    box = HelpBox.derive(group_id)
    assert box.mailbox_id == libsodium_hash("help-mailbox", key=group_id, size=16)
    assert box.capability == libsodium_hash("help-cap", key=group_id)
    assert box.key == libsodium_hash("help-key", key=group_id)
    assert HelpBox.derive(bytes(16)).mailbox_id != box.mailbox_id


def test_help_item_round_trip_is_a_bucket_and_refuses_other_groups_and_versions() -> None:
    box = HelpBox.derive(b"g" * 16)
    rng = SeededRng(b"help")
    item = seal_help_item(box, HelpKind.KEY_REQUEST, b"body", rng)
    assert len(item) == bucket_size(len(item)) == 256
    opened = open_help_item(box, item)
    assert (opened.kind, opened.body) == (HelpKind.KEY_REQUEST, b"body")
    with pytest.raises(DecryptionFailed):
        open_help_item(HelpBox.derive(b"h" * 16), item)
    with pytest.raises(UnsupportedVersion, match="speaks 2"):
        open_help_item(box, bytes((1,)) + item[1:])
    with pytest.raises(MalformedData):
        open_help_item(box, item[:2] + bytes((9,)) + item[3:])
    with pytest.raises(DecryptionFailed):  # the kind is in the associated data
        open_help_item(box, item[:2] + bytes((2,)) + item[3:])
    with pytest.raises(MalformedData):
        open_help_item(box, item[:10])


# -- requests --------------------------------------------------------------------------


def test_key_request_is_signed_by_the_requester() -> None:
    group, _ = _group()
    request = _request(group)
    encoded = request.encode()
    assert KeyRequest.open(encoded) == request
    # Ed25519 over the frame protocol section 0 describes, written out by hand.
    VerifyKey(BOB.public_key).verify(hand_frame("key-request", encoded[:-64]), request.signature)
    tampered = encoded[:20] + bytes((encoded[20] ^ 1,)) + encoded[21:]
    with pytest.raises(BadSignature):
        KeyRequest.open(tampered)
    with pytest.raises(UnsupportedVersion):
        KeyRequest.open(bytes((1,)) + encoded[1:])
    with pytest.raises(MalformedData):
        KeyRequest.open(encoded + b"x")


# -- answers ---------------------------------------------------------------------------


def test_an_honest_answer_gives_the_live_secret_and_the_log() -> None:
    group, before = _group()
    request = _request(group)
    body = seal_key_answer(
        CAROL, request, group.state, group.entries[-1:], group.secrets[-1], group.rng
    )
    verified = open_key_answer(body, BOB, before, request)
    assert verified.state == group.state
    assert verified.epoch_secret == group.secrets[-1]
    assert verified.answerer == CAROL.public_key


def test_an_answer_spanning_several_epochs_ends_at_the_live_one() -> None:
    group, before = _group()
    request = _request(group)
    group.author(CAROL, EntryKind.REKEY)
    group.author(ALICE, EntryKind.REKEY)
    body = seal_key_answer(
        CAROL, request, group.state, group.entries[-3:], group.secrets[-1], group.rng
    )
    verified = open_key_answer(body, BOB, before, request)
    assert verified.state.seq == before.seq + 3
    assert verified.epoch_secret == group.secrets[-1]


def test_the_answerer_refuses_to_seal_what_does_not_match() -> None:
    group, _ = _group()
    request = _request(group)
    with pytest.raises(UsageError):
        seal_key_answer(CAROL, request, group.state, group.entries[-1:], bytes(32), group.rng)
    with pytest.raises(UsageError):
        seal_key_answer(
            CAROL, request, group.state, group.entries[-2:-1], group.secrets[-1], group.rng
        )
    outsider = _request(group, identity("mallory"))
    with pytest.raises(NotAMember):
        seal_key_answer(
            CAROL, outsider, group.state, group.entries[-1:], group.secrets[-1], group.rng
        )


def _forged_answer(
    group: Group,
    request: KeyRequest,
    *,
    entries: list[LogEntry],
    secret: bytes,
    answerer: Identity = CAROL,
    signer: Identity | None = None,
    to: Identity = BOB,
    requester: bytes | None = None,
) -> bytes:
    """An answer built by hand, as a lying member's modified client would."""
    writer = (
        Writer()
        .u8(2)
        .fixed(request.group_id, 16)
        .u64(request.epoch)
        .fixed(request.entry_hash, 32)
        .fixed(request.request_id, 16)
        .fixed(requester or request.requester, 32)
        .u32(len(entries))
    )
    for entry in entries:
        writer.var(entry.encode(), 131072)
    plaintext = bytes(writer.fixed(secret, 32).fixed(answerer.public_key, 32))
    signed = plaintext + (signer or answerer).sign("key-answer", plaintext)
    sealed = seal(to.delivery_cert.delivery_pk, signed, group.rng)
    return bytes(Writer().u8(2).fixed(request.request_id, 16).var(sealed, 262000))


def test_every_check_on_an_answer_refuses_a_lie() -> None:
    group, before = _group()
    request = _request(group)
    entries, secret = group.entries[-1:], group.secrets[-1]
    cases: list[tuple[type[Exception], bytes]] = [
        (EpochKeyMismatch, _forged_answer(group, request, entries=entries, secret=bytes(32))),
        (
            DecryptionFailed,
            _forged_answer(group, request, entries=entries, secret=secret, to=CAROL),
        ),
        (
            BadSignature,
            _forged_answer(group, request, entries=entries, secret=secret, signer=ALICE),
        ),
        (
            BadSignature,
            _forged_answer(
                group, request, entries=entries, secret=secret, answerer=identity("mallory")
            ),
        ),
        (
            EpochKeyMismatch,
            _forged_answer(
                group, request, entries=entries, secret=secret, requester=CAROL.public_key
            ),
        ),
        (
            EpochKeyMismatch,
            _forged_answer(group, request, entries=group.entries[-2:-1], secret=secret),
        ),
    ]
    for error, body in cases:
        with pytest.raises(error):
            open_key_answer(body, BOB, before, request)
    other = _request(group, request_id=b"s" * 16)
    honest = seal_key_answer(CAROL, request, group.state, entries, secret, group.rng)
    with pytest.raises(EpochKeyMismatch):
        open_key_answer(honest, BOB, before, other)


def test_an_answer_whose_log_removes_the_requester_is_refused() -> None:
    group, before = _group()
    request = _request(group)
    group.author(ALICE, EntryKind.REMOVE, remove_body(BOB.public_key))
    body = _forged_answer(group, request, entries=group.entries[-2:], secret=group.secrets[-1])
    with pytest.raises(NotAMember):
        open_key_answer(body, BOB, before, request)


# -- moves -----------------------------------------------------------------------------


def _move(
    group: Group, author: Identity, kind: EntryKind, body: bytes = b""
) -> tuple[bytes, EpochKeys, GroupState, bytes]:
    from crypto.group_log import author_entry

    keys, state = group.keys, group.state
    entry, secret, new_state = author_entry(state, author, kind, body, T0 + 10**6, group.rng)
    mailbox_id = b"m" * 16
    moved = seal_group_move(author, keys, entry, new_state, secret, mailbox_id, group.rng)
    return moved, keys, state, secret


def test_a_move_by_an_organizer_opens_for_every_remaining_member() -> None:
    group, _ = _group()
    body, keys, state, secret = _move(group, ALICE, EntryKind.REMOVE, remove_body(CAROL.public_key))
    verified = open_group_move(body, keys, state, BOB)
    assert verified.mailbox_id == b"m" * 16
    assert verified.epoch_secret == secret
    assert not verified.state.is_member(CAROL.public_key)
    removed = open_group_move(body, keys, state, CAROL)
    assert removed.epoch_secret is None


def test_a_move_is_refused_unless_an_organizer_signed_it_for_this_mailbox() -> None:
    group, _ = _group()
    by_member, keys, state, _ = _move(group, BOB, EntryKind.REKEY)
    with pytest.raises(NotPermitted):
        open_group_move(by_member, keys, state, CAROL)
    body, keys, state, _ = _move(group, ALICE, EntryKind.REKEY)
    other_mailbox = body[:1] + b"n" * 16 + body[17:]
    with pytest.raises(BadSignature):
        open_group_move(other_mailbox, keys, state, BOB)
    with pytest.raises(UnsupportedVersion):
        open_group_move(bytes((1,)) + body[1:], keys, state, BOB)
    with pytest.raises(UsageError):
        _move(group, ALICE, EntryKind.RENAME, rename_body("Elsewhere"))


def test_a_move_carrying_another_kind_of_entry_is_refused() -> None:
    from crypto.commit import seal_commit
    from crypto.group_log import author_entry, role_body

    group, _ = _group()
    keys, state = group.keys, group.state
    entry, secret, new_state = author_entry(
        state, ALICE, EntryKind.ROLE, role_body(BOB.public_key, Role.ORGANIZER), T0, group.rng
    )
    commit = seal_commit(keys, entry, new_state, secret, group.rng)
    signature = ALICE.sign("group-move", state.group_id, b"m" * 16, entry.hash)
    body = bytes(Writer().u8(2).fixed(b"m" * 16, 16).var(commit, 262000).fixed(signature, 64))
    with pytest.raises(InvalidLogEntry):
        open_group_move(body, keys, state, BOB)
