"""Group arithmetic through libsodium agrees with an independent RFC 8032 implementation,
and every malformed point or scalar is refused at the edge."""

from __future__ import annotations

import os

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.ballot import group
from crypto.ballot.hash_to_group import hash_to_point
from crypto.errors import MalformedData, UsageError
from tests.crypto.ballot import ref_ed25519 as ref

scalars = st.integers(min_value=1, max_value=ref.L - 1)
SLOW = settings(max_examples=40, deadline=None)


def enc(n: int) -> bytes:
    return n.to_bytes(32, "little")


def ref_point(data: bytes) -> ref.Point:
    point = ref.decompress(data)
    assert point is not None
    return point


def test_base_point_is_rfc8032_base() -> None:
    assert ref.compress(ref.G) == group.BASE
    assert group.base_mul(enc(1)) == group.BASE


@SLOW
@given(scalars)
def test_base_mul_matches_reference(k: int) -> None:
    assert group.base_mul(enc(k)) == ref.compress(ref.mul(k, ref.G))


@SLOW
@given(scalars, scalars)
def test_variable_base_mul_matches_reference(k: int, j: int) -> None:
    point = ref.compress(ref.mul(j, ref.G))
    assert group.mul(enc(k), point) == ref.compress(ref.mul(k, ref_point(point)))


@SLOW
@given(scalars, scalars)
def test_add_and_sub_match_reference(a: int, b: int) -> None:
    pa, pb = ref.mul(a, ref.G), ref.mul(b, ref.G)
    ea, eb = ref.compress(pa), ref.compress(pb)
    assert group.add(ea, eb) == ref.compress(ref.add(pa, pb))
    assert group.sub(ea, eb) == ref.compress(ref.add(pa, ref.neg(pb)))


@SLOW
@given(scalars, scalars)
def test_scalar_ops_match_integers(a: int, b: int) -> None:
    assert group.scalar_add(enc(a), enc(b)) == enc((a + b) % ref.L)
    assert group.scalar_sub(enc(a), enc(b)) == enc((a - b) % ref.L)
    assert group.scalar_mul(enc(a), enc(b)) == enc(a * b % ref.L)


def test_zero_scalar_gives_identity() -> None:
    assert group.base_mul(group.ZERO_SCALAR) == group.IDENTITY
    assert group.mul(group.ZERO_SCALAR, group.BASE) == group.IDENTITY
    assert group.add(group.IDENTITY, group.BASE) == group.BASE


def test_hash_to_scalar_is_reduced_blake2b512() -> None:
    from crypto import kdf

    wide = int.from_bytes(kdf.digest("ballot-ring-challenge", b"x", size=64), "little")
    assert group.hash_to_scalar("ballot-ring-challenge", b"x") == enc(wide % ref.L)


def test_random_scalar_is_canonical_and_nonzero() -> None:
    zeros_then_one = iter([bytes(64), ref.L.to_bytes(64, "little"), enc(1) + bytes(32)])
    assert group.random_scalar(lambda n: next(zeros_then_one)) == enc(1)
    for _ in range(50):
        assert group.is_canonical_scalar(group.random_scalar(os.urandom))
    with pytest.raises(UsageError):
        group.random_scalar(lambda n: bytes(n - 1))
    with pytest.raises(UsageError):
        group.random_scalar(bytes)  # a broken rng: zeros forever


# -- hash to group -------------------------------------------------------------------------


@SLOW
@given(st.binary(min_size=32, max_size=32))
def test_from_uniform_is_elligator2_then_cofactor(uniform: bytes) -> None:
    """libsodium's map equals our Elligator 2 written from the formulas, sign bit included."""
    assert nacl.bindings.crypto_core_ed25519_from_uniform(uniform) == ref.elligator2(uniform)


@SLOW
@given(st.binary(max_size=64))
def test_hash_to_point_lands_in_prime_order_subgroup(data: bytes) -> None:
    point = hash_to_point("ballot-hash-to-point", data)
    assert nacl.bindings.crypto_core_ed25519_is_valid_point(point)
    assert ref.equal(ref.mul(ref.L, ref_point(point)), ref.IDENTITY)
    from crypto import kdf

    assert point == ref.elligator2(kdf.digest("ballot-hash-to-point", data))


def test_from_uniform_of_zero_is_identity_and_would_be_refused() -> None:
    """Elligator maps 0 to a small-order point that the cofactor clears: hash_to_point
    refuses such an output instead of handing out the identity as a base."""
    assert nacl.bindings.crypto_core_ed25519_from_uniform(bytes(32)) == group.IDENTITY
    with pytest.raises(MalformedData):
        group.check_point(group.IDENTITY)


def test_hash_to_point_is_domain_separated() -> None:
    assert hash_to_point("ballot-hash-to-point", b"a") != hash_to_point("ballot-tag", b"a")
    assert hash_to_point("ballot-hash-to-point", b"a") != hash_to_point(
        "ballot-hash-to-point", b"b"
    )


# -- validation ----------------------------------------------------------------------------


def test_eight_torsion_points_are_rejected() -> None:
    torsion = ref.torsion_points()
    assert len(set(torsion)) == 8
    assert group.IDENTITY in torsion
    for point in torsion:
        with pytest.raises(MalformedData):
            group.check_point(point)


def test_mixed_order_points_are_rejected() -> None:
    """P + T for P of prime order and T of small order: on the curve, wrong subgroup."""
    prime = ref.mul(12345, ref.G)
    for t in ref.torsion_points()[1:]:
        mixed = ref.compress(ref.add(prime, ref_point(t)))
        assert ref.decompress(mixed) is not None
        with pytest.raises(MalformedData):
            group.check_point(mixed)
    group.check_point(ref.compress(prime))


def test_non_canonical_encodings_are_rejected() -> None:
    """y >= p encodes the same y as y - p: only the canonical form is accepted."""
    for y in range(19):
        for sign in (0, 1 << 255):
            with pytest.raises(MalformedData):
                group.check_point(enc((y + ref.P) | sign))
    # x = 0 with the sign bit set ("negative zero" identity).
    with pytest.raises(MalformedData):
        group.check_point(enc(1 | (1 << 255)))


def test_off_curve_and_wrong_length_points_are_rejected() -> None:
    off_curve = next(enc(y) for y in range(2, 100) if ref.decompress(enc(y)) is None)
    for bad in (off_curve, group.BASE[:31], group.BASE + b"\x00", b""):
        with pytest.raises(MalformedData):
            group.check_point(bad)


def test_non_canonical_scalars_are_rejected() -> None:
    for value in (ref.L, ref.L + 1, 2**256 - 1, 2**255):
        with pytest.raises(MalformedData):
            group.check_scalar(enc(value))
    assert group.check_scalar(enc(ref.L - 1)) == enc(ref.L - 1)
    with pytest.raises(MalformedData):
        group.check_scalar(bytes(31))


def test_mul_refuses_an_unchecked_point() -> None:
    with pytest.raises(UsageError):
        group.mul(enc(5), ref.torsion_points()[1])
