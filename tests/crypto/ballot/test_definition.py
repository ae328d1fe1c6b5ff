"""Ballot definitions: signed, strictly parsed, every field rule, and the tag."""

from __future__ import annotations

import dataclasses
import os

import pytest

from crypto.ballot import BallotDefinition, BallotKind, RevealKey, RevealKeyMismatch
from crypto.ballot.definition import NUMERIC_LIMIT
from crypto.errors import BadSignature, MalformedData, UnsupportedVersion, UsageError
from crypto.identity import Identity
from tests.crypto.ballot import ref_ed25519 as ref
from tests.crypto.ballot.support import make_ballot, members

KEYS = members(4, os.urandom)
CREATOR = Identity.generate(os.urandom, 0)


def ballot(kind: BallotKind = BallotKind.SINGLE, **kwargs: object) -> BallotDefinition:
    if kind in (BallotKind.SINGLE, BallotKind.APPROVAL, BallotKind.RANKED):
        kwargs.setdefault("options", ("a", "b", "c"))
    if kind is BallotKind.NUMERIC:
        kwargs.setdefault("numeric", (0, 1000, 10))
    return make_ballot(kind, KEYS, os.urandom, creator=CREATOR, **kwargs)[0]  # type: ignore[arg-type]


def resign(definition: BallotDefinition, **changes: object) -> bytes:
    """Re-encode with changed fields and a valid creator signature (skips create's checks)."""
    changed = dataclasses.replace(definition, **changes)  # type: ignore[arg-type]
    signed = changed._signed_part()
    return signed + CREATOR.sign("ballot-definition", signed)


@pytest.mark.parametrize("kind", list(BallotKind))
def test_round_trip_every_kind(kind: BallotKind) -> None:
    definition = ballot(kind)
    decoded = BallotDefinition.decode(definition.encode())
    assert decoded == definition
    assert decoded.tag == definition.tag
    assert decoded.roster == tuple(k.public for k in KEYS)


def test_tag_covers_nonce_and_roster_and_differs_per_ballot() -> None:
    a, b = ballot(), ballot()
    assert a.tag != b.tag  # fresh nonce and id
    assert a.key_image_base != b.key_image_base
    fewer = BallotDefinition.decode(resign(a, roster=a.roster[:3]))
    assert fewer.tag != a.tag
    other_nonce = BallotDefinition.decode(resign(a, nonce=bytes(32)))
    assert other_nonce.tag != a.tag


def test_signature_is_checked() -> None:
    encoded = bytearray(ballot().encode())
    encoded[40] ^= 1  # inside the creator key / question region
    with pytest.raises((BadSignature, MalformedData)):
        BallotDefinition.decode(bytes(encoded))
    encoded = bytearray(ballot().encode())
    encoded[-1] ^= 1
    with pytest.raises(BadSignature):
        BallotDefinition.decode(bytes(encoded))


def test_strict_parsing() -> None:
    encoded = ballot().encode()
    with pytest.raises(MalformedData):
        BallotDefinition.decode(encoded + b"\x00")
    with pytest.raises(MalformedData):
        BallotDefinition.decode(encoded[:-1])
    with pytest.raises(UnsupportedVersion):
        BallotDefinition.decode(b"\x03" + encoded[1:])
    # The version is signed: a version-2 definition relabelled 1 (votes over the other
    # group encoding, hence other key images) is refused.
    assert encoded[0] == 2
    with pytest.raises(BadSignature):
        BallotDefinition.decode(b"\x01" + encoded[1:])


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        (BallotKind.SINGLE, {"options": ("only",)}),
        (BallotKind.SINGLE, {"options": ("a", "a")}),
        (BallotKind.SINGLE, {"options": ("a", "b\x07")}),
        (BallotKind.SINGLE, {"options": ("a", " ")}),
        (BallotKind.APPROVAL, {"options": tuple(str(i) for i in range(65))}),
        (BallotKind.YES_NO_ABSTAIN, {"options": ("yes", "no")}),
        (BallotKind.NUMERIC, {"options": ("x", "y")}),
        (BallotKind.NUMERIC, {"numeric_min": 5, "numeric_max": 5}),
        (BallotKind.NUMERIC, {"numeric_max": NUMERIC_LIMIT + 1}),
        (BallotKind.NUMERIC, {"histogram_bins": 0}),
        (BallotKind.NUMERIC, {"histogram_bins": 101}),
        (BallotKind.SINGLE, {"histogram_bins": 3}),
        (BallotKind.SINGLE, {"numeric_min": -1}),
        (BallotKind.SINGLE, {"question": ""}),
        (BallotKind.SINGLE, {"question": "a\x00b"}),
        (BallotKind.SINGLE, {"opens_at": 2000, "closes_at": 2000}),
        (BallotKind.SINGLE, {"quorum": 5}),
        (BallotKind.SINGLE, {"reveal_pk": bytes(32)}),
    ],
)
def test_field_rules(kind: BallotKind, changes: dict[str, object]) -> None:
    with pytest.raises(MalformedData):
        BallotDefinition.decode(resign(ballot(kind), **changes))


def test_roster_keys_are_validated() -> None:
    definition = ballot()
    torsion = ref.torsion_points()[1]
    for roster in (
        (*definition.roster[:3], torsion),
        (definition.roster[0], definition.roster[0]),
        (),
    ):
        with pytest.raises(MalformedData):
            BallotDefinition.decode(resign(definition, roster=roster))


def test_unknown_kind_is_rejected() -> None:
    encoded = bytearray(ballot().encode())
    question_len = int.from_bytes(encoded[65:69], "big")
    encoded[69 + question_len] = 9
    with pytest.raises(MalformedData):
        BallotDefinition.decode(bytes(encoded))


def test_create_refuses_bad_parameters() -> None:
    with pytest.raises(UsageError):
        make_ballot(BallotKind.SINGLE, KEYS, os.urandom, options=("one",))
    with pytest.raises(UsageError):
        make_ballot(BallotKind.SINGLE, [], os.urandom, options=("a", "b"))


def test_negative_numeric_bounds_round_trip() -> None:
    definition = ballot(BallotKind.NUMERIC, numeric=(-NUMERIC_LIMIT, -3, 7))
    decoded = BallotDefinition.decode(definition.encode())
    assert (decoded.numeric_min, decoded.numeric_max) == (-NUMERIC_LIMIT, -3)


def test_reveal_release() -> None:
    definition, reveal = make_ballot(BallotKind.SINGLE, KEYS, os.urandom, options=("a", "b"))
    release = reveal.encode_release(definition.ballot_id)
    assert RevealKey.decode_release(release, definition.ballot_id, definition.reveal_pk) == reveal
    assert reveal.secret.hex() not in repr(reveal)
    wrong = RevealKey.generate(os.urandom).encode_release(definition.ballot_id)
    with pytest.raises(RevealKeyMismatch):
        RevealKey.decode_release(wrong, definition.ballot_id, definition.reveal_pk)
    with pytest.raises(MalformedData):
        RevealKey.decode_release(release, bytes(16), definition.reveal_pk)
    with pytest.raises(MalformedData):
        RevealKey.decode_release(release + b"\x00", definition.ballot_id, definition.reveal_pk)
