"""Vote items: cast and verify, double voting, anonymity of the bytes, tampering."""

from __future__ import annotations

import os

import pytest

from crypto.ballot import (
    Answer,
    BallotKeyPair,
    BallotKind,
    SingleChoice,
    YesNoChoice,
    cast_vote,
    verify_vote,
)
from crypto.ballot.vote import VOTE_VERSION
from crypto.errors import BadSignature, MalformedData, RemoteError, UnsupportedVersion, UsageError
from crypto.identity import Identity
from tests.crypto.ballot.support import make_ballot, members

KEYS = members(5, os.urandom)
CREATOR = Identity.generate(os.urandom, 0)
DEFINITION, REVEAL = make_ballot(BallotKind.YES_NO_ABSTAIN, KEYS, os.urandom, creator=CREATOR)
YES = YesNoChoice(Answer.YES)


def vote(index: int, choice: YesNoChoice = YES, revision: int = 0) -> bytes:
    return cast_vote(DEFINITION, KEYS[index], index, choice, os.urandom, revision=revision)


def test_cast_and_verify() -> None:
    item = vote(2, revision=3)
    verified = verify_vote(DEFINITION, item)
    assert verified.ballot_id == DEFINITION.ballot_id
    assert verified.revision == 3
    assert item[0] == VOTE_VERSION


def test_double_vote_has_the_same_key_image() -> None:
    first = verify_vote(DEFINITION, vote(1, YES))
    second = verify_vote(DEFINITION, vote(1, YesNoChoice(Answer.NO), revision=1))
    others = {verify_vote(DEFINITION, vote(i)).key_image for i in (0, 2, 3, 4)}
    assert first.key_image == second.key_image
    assert first.key_image not in others
    assert len(others) == 4


def test_key_images_differ_across_ballots() -> None:
    other, _ = make_ballot(BallotKind.YES_NO_ABSTAIN, KEYS, os.urandom, creator=CREATOR)
    here = verify_vote(DEFINITION, vote(0)).key_image
    there = verify_vote(other, cast_vote(other, KEYS[0], 0, YES, os.urandom)).key_image
    assert here != there


def test_item_names_no_member() -> None:
    """Nothing in a vote names its author: no ring key, no identity key, and the same
    length whoever votes and whatever the answer."""
    lengths = set()
    for index in range(len(KEYS)):
        for answer in Answer:
            item = vote(index, YesNoChoice(answer))
            lengths.add(len(item))
            for key in KEYS:
                assert key.public not in item
            assert CREATOR.public_key not in item
    assert len(lengths) == 1


def test_vote_for_another_ballot_is_rejected() -> None:
    other, _ = make_ballot(BallotKind.YES_NO_ABSTAIN, KEYS, os.urandom, creator=CREATOR)
    with pytest.raises(MalformedData):
        verify_vote(other, vote(0))


def test_outsider_cannot_vote() -> None:
    outsider = BallotKeyPair.generate(os.urandom)
    with pytest.raises(UsageError):
        cast_vote(DEFINITION, outsider, 0, YES, os.urandom)
    # Signing over a ring where the outsider replaced a member does not verify here.
    keys = [outsider, *KEYS[1:]]
    fake, _ = make_ballot(BallotKind.YES_NO_ABSTAIN, keys, os.urandom, creator=CREATOR)
    forged = cast_vote(fake, outsider, 0, YES, os.urandom)
    forged = forged[:1] + DEFINITION.ballot_id + forged[17:]
    with pytest.raises(RemoteError):
        verify_vote(DEFINITION, forged)


def test_every_flipped_byte_is_rejected() -> None:
    item = vote(3)
    for position in range(len(item)):
        tampered = bytearray(item)
        tampered[position] ^= 0x01
        with pytest.raises(RemoteError):
            verify_vote(DEFINITION, bytes(tampered))


def test_changing_revision_or_ciphertext_breaks_the_signature() -> None:
    item = vote(3)
    bumped = item[:17] + (1).to_bytes(4, "big") + item[21:]
    with pytest.raises(BadSignature):
        verify_vote(DEFINITION, bumped)
    other = vote(3, YesNoChoice(Answer.NO))
    ciphertext_range = slice(25, 25 + 51)
    spliced = item[:25] + other[ciphertext_range] + item[25 + 51 :]
    with pytest.raises(BadSignature):
        verify_vote(DEFINITION, spliced)


def test_strict_parsing() -> None:
    item = vote(0)
    with pytest.raises(UnsupportedVersion):
        verify_vote(DEFINITION, b"\x02" + item[1:])
    with pytest.raises(MalformedData):
        verify_vote(DEFINITION, item + b"\x00")
    with pytest.raises(MalformedData):
        verify_vote(DEFINITION, item[:-1])


def test_cast_refuses_bad_arguments() -> None:
    with pytest.raises(UsageError):
        cast_vote(DEFINITION, KEYS[0], 1, YES, os.urandom)
    with pytest.raises(UsageError):
        cast_vote(DEFINITION, KEYS[0], 0, SingleChoice(0), os.urandom)
    with pytest.raises(UsageError):
        cast_vote(DEFINITION, KEYS[0], 0, YES, os.urandom, revision=-1)
