"""Choice encodings: fixed size per ballot, strict decoding, sealing to the reveal key."""

from __future__ import annotations

import os

import nacl.public
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.ballot import (
    Answer,
    ApprovalChoice,
    BallotDefinition,
    BallotKind,
    InvalidChoice,
    NumericChoice,
    RankedChoice,
    SingleChoice,
    YesNoChoice,
)
from crypto.ballot.choice import (
    Choice,
    choice_size,
    decode_choice,
    encode_choice,
    encrypted_choice_size,
    open_choice,
    seal_choice,
)
from crypto.errors import UsageError
from tests.crypto.ballot.support import make_ballot, members

KEYS = members(3, os.urandom)
OPTIONS = tuple(f"option {i}" for i in range(10))


def ballot(kind: BallotKind) -> BallotDefinition:
    options = OPTIONS if kind in (BallotKind.SINGLE, BallotKind.APPROVAL, BallotKind.RANKED) else ()
    numeric = (-100, 100, 5) if kind is BallotKind.NUMERIC else (0, 0, 0)
    return make_ballot(kind, KEYS, os.urandom, options=options, numeric=numeric)[0]


BALLOTS = {kind: ballot(kind) for kind in BallotKind}

indexes = st.integers(min_value=0, max_value=len(OPTIONS) - 1)
CHOICES: dict[BallotKind, st.SearchStrategy[Choice]] = {
    BallotKind.YES_NO_ABSTAIN: st.builds(YesNoChoice, st.sampled_from(Answer)),
    BallotKind.SINGLE: st.builds(SingleChoice, indexes),
    BallotKind.APPROVAL: st.builds(ApprovalChoice, st.frozensets(indexes)),
    BallotKind.RANKED: st.builds(RankedChoice, st.lists(indexes, unique=True).map(tuple)),
    BallotKind.NUMERIC: st.builds(NumericChoice, st.integers(min_value=-100, max_value=100)),
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(BallotKind)).flatmap(lambda k: st.tuples(st.just(k), CHOICES[k])))
def test_encoding_round_trips_at_fixed_size(pair: tuple[BallotKind, Choice]) -> None:
    kind, choice = pair
    definition = BALLOTS[kind]
    plaintext = encode_choice(definition, choice)
    assert len(plaintext) == choice_size(definition)
    assert decode_choice(definition, plaintext) == choice


def test_sizes_per_kind() -> None:
    assert {k: choice_size(d) for k, d in BALLOTS.items()} == {
        BallotKind.YES_NO_ABSTAIN: 3,
        BallotKind.SINGLE: 4,
        BallotKind.APPROVAL: 4,
        BallotKind.RANKED: 24,
        BallotKind.NUMERIC: 10,
    }


def test_ciphertext_length_does_not_depend_on_the_choice() -> None:
    definition = BALLOTS[BallotKind.RANKED]
    lengths = {
        len(seal_choice(definition, RankedChoice(r), os.urandom))
        for r in [(), (3,), tuple(range(10))]
    }
    assert lengths == {encrypted_choice_size(definition)}


def test_seal_and_open() -> None:
    definition, reveal = make_ballot(BallotKind.SINGLE, KEYS, os.urandom, options=("a", "b"))
    secret = nacl.public.PrivateKey(reveal.secret)
    sealed = seal_choice(definition, SingleChoice(1), os.urandom)
    assert open_choice(definition, secret, sealed) == SingleChoice(1)
    with pytest.raises(InvalidChoice):
        open_choice(definition, nacl.public.PrivateKey(os.urandom(32)), sealed)
    with pytest.raises(InvalidChoice):
        open_choice(definition, secret, sealed[:-1] + bytes([sealed[-1] ^ 1]))


@pytest.mark.parametrize(
    ("kind", "choice"),
    [
        (BallotKind.SINGLE, SingleChoice(10)),
        (BallotKind.SINGLE, SingleChoice(-1)),
        (BallotKind.APPROVAL, ApprovalChoice(frozenset({10}))),
        (BallotKind.RANKED, RankedChoice((1, 1))),
        (BallotKind.RANKED, RankedChoice((11,))),
        (BallotKind.NUMERIC, NumericChoice(101)),
        (BallotKind.NUMERIC, SingleChoice(1)),
        (BallotKind.YES_NO_ABSTAIN, YesNoChoice(7)),  # type: ignore[arg-type]
    ],
)
def test_encoding_refuses_what_does_not_fit(kind: BallotKind, choice: Choice) -> None:
    with pytest.raises(UsageError):
        encode_choice(BALLOTS[kind], choice)


def _raw(kind: BallotKind, body: bytes) -> bytes:
    return bytes((1, kind)) + body


@pytest.mark.parametrize(
    ("kind", "plaintext"),
    [
        (BallotKind.YES_NO_ABSTAIN, _raw(BallotKind.YES_NO_ABSTAIN, b"\x03")),
        (BallotKind.YES_NO_ABSTAIN, b"\x02\x01\x00"),  # version 2
        (BallotKind.YES_NO_ABSTAIN, _raw(BallotKind.SINGLE, b"\x00")),  # wrong kind
        (BallotKind.SINGLE, _raw(BallotKind.SINGLE, b"\x00\x0a")),  # option 10 of 10
        (BallotKind.SINGLE, _raw(BallotKind.SINGLE, b"\x00")),  # short
        (BallotKind.APPROVAL, _raw(BallotKind.APPROVAL, b"\x00\x04")),  # bit 10
        (BallotKind.RANKED, _raw(BallotKind.RANKED, b"\x00\x0b" + bytes(20))),  # count 11
        (BallotKind.RANKED, _raw(BallotKind.RANKED, b"\x00\x01\x00\x02\x00\x03" + bytes(16))),
        (BallotKind.RANKED, _raw(BallotKind.RANKED, b"\x00\x02\x00\x02\x00\x02" + bytes(16))),
        (BallotKind.NUMERIC, _raw(BallotKind.NUMERIC, (101).to_bytes(8, "big"))),
        (BallotKind.NUMERIC, _raw(BallotKind.NUMERIC, (2**64 - 101).to_bytes(8, "big"))),
    ],
)
def test_decoding_rejects_invalid_plaintexts(kind: BallotKind, plaintext: bytes) -> None:
    with pytest.raises(InvalidChoice):
        decode_choice(BALLOTS[kind], plaintext)


def test_negative_numeric_values_decode() -> None:
    definition = BALLOTS[BallotKind.NUMERIC]
    plaintext = _raw(BallotKind.NUMERIC, (2**64 - 100).to_bytes(8, "big"))
    assert decode_choice(definition, plaintext) == NumericChoice(-100)
