"""Version 2 reveal: the key plus the counted set, the missing-votes request, and the
comparison every client makes (docs/ballots.md section 13)."""

from __future__ import annotations

import os

import pytest

from crypto.ballot.errors import RevealKeyMismatch
from crypto.ballot.release import (
    MAX_COUNTED,
    CountedCheck,
    MissingVotes,
    RevealRelease,
    compare_counted,
    counted_digest,
    release_ballot_id,
)
from crypto.ballot.reveal import RevealKey
from crypto.errors import MalformedData, TooLarge, UnsupportedVersion, UsageError

BALLOT = bytes(range(16))
KEY = RevealKey.from_secret(bytes(range(32, 64)))
H = [bytes([i]) * 32 for i in range(1, 8)]


def test_release_round_trip_sorts_and_names_the_set() -> None:
    release = RevealRelease.create(BALLOT, KEY, [H[2], H[0], H[1]])
    assert release.counted == (H[0], H[1], H[2])
    body = release.encode()
    assert body[0] == 2
    assert release_ballot_id(body) == BALLOT
    decoded = RevealRelease.decode(body, BALLOT, KEY.public)
    assert decoded == release
    assert decoded.digest == counted_digest(BALLOT, [H[1], H[2], H[0]])


def test_digest_depends_on_every_hash_and_the_ballot() -> None:
    base = counted_digest(BALLOT, H[:3])
    assert counted_digest(BALLOT, H[:2]) != base
    assert counted_digest(BALLOT, [H[0], H[1], H[3]]) != base
    assert counted_digest(bytes(16), H[:3]) != base
    assert counted_digest(BALLOT, []) != counted_digest(bytes(16), [])


def test_release_refuses_a_wrong_key_another_ballot_and_bad_lists() -> None:
    body = RevealRelease.create(BALLOT, KEY, H[:2]).encode()
    with pytest.raises(RevealKeyMismatch):
        RevealRelease.decode(body, BALLOT, RevealKey.generate(os.urandom).public)
    with pytest.raises(MalformedData):
        RevealRelease.decode(body, bytes(16), KEY.public)
    with pytest.raises(MalformedData):
        RevealRelease.decode(body + b"\x00", BALLOT, KEY.public)
    swapped = body[:53] + H[1] + H[0]  # header 1+16+32, count 4, then the hashes
    with pytest.raises(MalformedData, match="ascending"):
        RevealRelease.decode(swapped, BALLOT, KEY.public)
    repeated = body[:53] + H[0] + H[0]
    with pytest.raises(MalformedData, match="ascending"):
        RevealRelease.decode(repeated, BALLOT, KEY.public)
    huge = body[:49] + (MAX_COUNTED + 1).to_bytes(4, "big")
    with pytest.raises(TooLarge):
        RevealRelease.decode(huge, BALLOT, KEY.public)
    with pytest.raises(UsageError):
        RevealRelease.create(BALLOT, KEY, [H[0], H[0]])


def test_a_version_it_does_not_speak_is_named_clearly() -> None:
    old = KEY.encode_release(BALLOT)  # version 1, protocol 1
    with pytest.raises(UnsupportedVersion, match="reveal release version 1; this client speaks"):
        RevealRelease.decode(old, BALLOT, KEY.public)
    with pytest.raises(UnsupportedVersion, match="reveal release version 1"):
        release_ballot_id(old)
    request = MissingVotes.create(BALLOT, [H[0]]).encode()
    with pytest.raises(UnsupportedVersion, match="missing-votes request version 3"):
        MissingVotes.decode(b"\x03" + request[1:])


def test_missing_votes_round_trip_and_rules() -> None:
    request = MissingVotes.create(BALLOT, [H[3], H[1]])
    assert request.hashes == (H[1], H[3])
    assert MissingVotes.decode(request.encode()) == request
    with pytest.raises(UsageError):
        MissingVotes.create(BALLOT, [])
    empty = request.encode()[:17] + bytes(4)
    with pytest.raises(MalformedData):
        MissingVotes.decode(empty)


IMG = [bytes([0x80 + i]) * 32 for i in range(5)]


def test_compare_agrees_when_the_sets_match() -> None:
    held = {H[0]: (IMG[0], 0), H[1]: (IMG[1], 0)}
    latest = {IMG[0]: (H[0], 0), IMG[1]: (H[1], 0)}
    check = compare_counted([H[0], H[1]], held, latest)
    assert check == CountedCheck((), (), 0)
    assert check.agrees


def test_compare_finds_missing_votes_and_waits_before_judging_left_out() -> None:
    held = {H[0]: (IMG[0], 0)}
    latest = {IMG[0]: (H[0], 0), IMG[2]: (H[2], 0)}
    check = compare_counted([H[0], H[1]], held, latest)
    assert check.missing == (H[1],)
    assert check.left_out == ()  # H[1] might be IMG[2]'s newer vote
    assert not check.agrees


def test_compare_finds_a_voter_the_reveal_left_out() -> None:
    held = {H[0]: (IMG[0], 0), H[2]: (IMG[2], 0)}
    latest = {IMG[0]: (H[0], 0), IMG[2]: (H[2], 0)}
    check = compare_counted([H[0]], held, latest)
    assert check.missing == ()
    assert check.left_out == (H[2],)


def test_compare_finds_an_older_revision_counted_and_accepts_a_newer_one() -> None:
    held = {H[0]: (IMG[0], 0), H[1]: (IMG[0], 1)}
    assert compare_counted([H[0]], held, {IMG[0]: (H[1], 1)}).left_out == (H[1],)
    # The reveal counts revision 1 that reached us only after the close: fine.
    assert compare_counted([H[1]], held, {IMG[0]: (H[0], 0)}).agrees


def test_compare_counts_two_named_votes_of_one_voter() -> None:
    held = {H[0]: (IMG[0], 0), H[1]: (IMG[0], 1)}
    check = compare_counted([H[0], H[1]], held, {IMG[0]: (H[1], 1)})
    assert check.duplicate_voters == 1
    assert not check.agrees
