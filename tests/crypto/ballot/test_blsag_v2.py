"""bLSAG version 2 (ristretto255, ballot definition version 2): the group encoding, the
signature's round trip, forgery attempts, linkability and why the version is the
definition's to fix.  The arithmetic is checked against libsodium's ristretto255
functions called directly (``rbcl``) and RFC 9496, not against ``crypto/ballot/ristretto``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import rbcl
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import kdf
from crypto.ballot import blsag, group, ristretto
from crypto.ballot.keys import BallotKeyPair
from crypto.errors import BadSignature, MalformedData
from tests.crypto.ballot import ref_ed25519 as ref
from tests.crypto.ballot.support import members, seeded_rng

RNG = seeded_rng("blsag v2 tests")
KEYS = members(5, RNG)
RING = blsag.Ring.of([k.public for k in KEYS], blsag.RISTRETTO)
SCOPE = b"ballot tag"
MESSAGE = b"vote message"
ROOT = Path(__file__).resolve().parents[3]


def signed(index: int = 2, message: bytes = MESSAGE, scope: bytes = SCOPE) -> blsag.RingSignature:
    return blsag.sign(message, RING, index, KEYS[index].secret, scope, os.urandom)


# -- the encoding ----------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=ref.L - 1))
def test_a_keys_ristretto_encoding_is_libsodiums_for_the_same_scalar(x: int) -> None:
    secret = x.to_bytes(32, "little")
    edwards = ref.compress(ref.mul(x, ref.G))
    assert ristretto.from_edwards(edwards) == rbcl.crypto_scalarmult_ristretto255_base(secret)


def test_points_outside_the_prime_order_group_have_no_ristretto_encoding() -> None:
    point = KEYS[0].public
    mixed = ref.compress(ref.add(ref.decompress(point), ref.decompress(ref.torsion_points()[1])))  # type: ignore[arg-type]
    for bad in (*ref.torsion_points(), mixed, b"\xff" * 32, point[:31]):
        with pytest.raises(MalformedData):
            ristretto.from_edwards(bad)


def test_only_canonical_non_identity_elements_are_accepted() -> None:
    element = RING.elements[0]
    s = int.from_bytes(element, "little")
    p = 2**255 - 19
    not_canonical = [
        bytes(32),  # the identity
        (s + p).to_bytes(32, "little"),  # the same element's residue plus p
        (p - s).to_bytes(32, "little"),  # the "negative" root: odd, refused
        # libsodium as rbcl bundles it reads this as the same element: a second
        # encoding of a key image would not link to the first (a second vote)
        element[:31] + bytes([element[31] | 0x80]),
    ]
    for bad in not_canonical:
        with pytest.raises(MalformedData):
            ristretto.check_point(bad)
    assert ristretto.check_point(element) == element


def test_loading_the_library_leaves_no_file_behind() -> None:
    """rbcl writes libsodium to a temporary file to load it; a process of the app (one
    that imports ``app``, as every entry point and worker does) removes it at once."""
    script = (
        "import sys\n"
        "import app\n"
        "from crypto.ballot import ristretto\n"
        "ristretto.base_mul(bytes([1]) + bytes(31))\n"
        "print(sys.modules['rbcl._sodium'].lib_path)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    written = Path(run.stdout.strip())
    assert written.suffix == ".so"
    assert not written.exists()


# -- signatures ------------------------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=1, max_value=6), st.data())
def test_round_trip_every_ring_size_and_index(size: int, data: st.DataObject) -> None:
    keys = members(size, os.urandom)
    ring = blsag.Ring.of([k.public for k in keys], blsag.RISTRETTO)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    signature = blsag.sign(MESSAGE, ring, index, keys[index].secret, SCOPE, os.urandom)
    encoded = signature.encode()
    assert encoded[0] == 2
    assert len(encoded) == blsag.signature_size(size)
    decoded = blsag.RingSignature.decode(encoded, size, blsag.RISTRETTO)
    assert decoded == signature
    blsag.verify(MESSAGE, ring, SCOPE, decoded)


def test_key_image_is_the_secret_times_the_hashed_base_in_ristretto255() -> None:
    base = rbcl.crypto_core_ristretto255_from_hash(
        kdf.digest("ballot-hash-to-point-v2", SCOPE, size=64)
    )
    assert blsag.key_image_base(SCOPE, blsag.RISTRETTO) == base
    expected = rbcl.crypto_scalarmult_ristretto255(KEYS[1].secret, base)
    assert (
        signed(1).key_image == expected == blsag.key_image(KEYS[1].secret, SCOPE, blsag.RISTRETTO)
    )


def test_forgeries_fail() -> None:
    signature = signed()
    one = (1).to_bytes(32, "little")
    outsider = BallotKeyPair.generate(os.urandom)
    other_ring = blsag.Ring.of([*RING.points[:4], outsider.public], blsag.RISTRETTO)
    attempts = [
        (MESSAGE + b"!", RING, SCOPE, signature),
        (MESSAGE, RING, b"other ballot", signature),
        (MESSAGE, other_ring, SCOPE, signature),
        (MESSAGE, RING, SCOPE, blsag.RingSignature(signed(3).key_image, *_rest(signature))),
        (
            MESSAGE,
            RING,
            SCOPE,
            blsag.RingSignature(
                signature.key_image,
                group.scalar_add(signature.c0, one),
                signature.responses,
                2,
            ),
        ),
        # an outsider signing over a ring with their key, checked against the real one
        (
            MESSAGE,
            RING,
            SCOPE,
            blsag.sign(MESSAGE, other_ring, 4, outsider.secret, SCOPE, os.urandom),
        ),
    ]
    for i in range(len(RING)):
        responses = list(signature.responses)
        responses[i] = group.scalar_add(responses[i], one)
        forged = blsag.RingSignature(signature.key_image, signature.c0, tuple(responses), 2)
        attempts.append((MESSAGE, RING, SCOPE, forged))
    for message, ring, scope, candidate in attempts:
        with pytest.raises(BadSignature):
            blsag.verify(message, ring, scope, candidate)


def _rest(signature: blsag.RingSignature) -> tuple[bytes, tuple[bytes, ...], int]:
    return signature.c0, signature.responses, signature.version


def test_same_key_same_scope_links_and_other_scopes_do_not() -> None:
    first, second = signed(4, b"yes"), signed(4, b"no")
    assert first.key_image == second.key_image
    assert first.key_image != signed(3).key_image
    assert signed(4, scope=b"ballot 1").key_image != signed(4, scope=b"ballot 2").key_image
    for index in range(len(RING)):
        encoded = signed(index).encode()
        assert not any(key in encoded for key in (*RING.points, *RING.elements))


def test_the_version_is_the_rings_not_the_signers() -> None:
    """One key signs in one scope once per version with two different key images, so a
    verifier must take the version from the ring (the ballot definition), never from the
    signature: a version-1 signature over the same keys does not verify against the
    version-2 ring, nor the other way round."""
    edwards_ring = blsag.Ring.of(RING.points)
    old = blsag.sign(MESSAGE, edwards_ring, 2, KEYS[2].secret, SCOPE, os.urandom)
    new = signed(2)
    assert old.key_image != new.key_image
    with pytest.raises(BadSignature):
        blsag.verify(MESSAGE, RING, SCOPE, old)
    with pytest.raises(BadSignature):
        blsag.verify(MESSAGE, edwards_ring, SCOPE, new)
    with pytest.raises(MalformedData):
        blsag.RingSignature.decode(old.encode(), len(RING), blsag.RISTRETTO)
    with pytest.raises(MalformedData):
        blsag.RingSignature.decode(new.encode(), len(RING))


def test_a_bad_key_image_is_refused() -> None:
    signature = signed()
    top_bit = signature.key_image[:31] + bytes([signature.key_image[31] | 0x80])
    for image in (bytes(32), b"\xff" * 32, ref.torsion_points()[3], top_bit):
        forged = blsag.RingSignature(image, *_rest(signature))
        with pytest.raises(MalformedData):
            blsag.RingSignature.decode(forged.encode(), len(RING), blsag.RISTRETTO)
        with pytest.raises(BadSignature):
            blsag.verify(MESSAGE, RING, SCOPE, forged)
