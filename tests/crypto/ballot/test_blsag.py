"""bLSAG: round trips, forgery attempts, linkability, unlinkability across scopes,
malleability and strict parsing."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.ballot import blsag, group
from crypto.ballot.keys import BallotKeyPair
from crypto.errors import BadSignature, MalformedData, TooLarge, UnsupportedVersion, UsageError
from tests.crypto.ballot import ref_ed25519 as ref
from tests.crypto.ballot.support import members, seeded_rng

RNG = seeded_rng("blsag tests")
KEYS = members(6, RNG)
RING = blsag.Ring.of([k.public for k in KEYS])
SCOPE = b"ballot tag"
MESSAGE = b"vote message"


def signed(index: int = 2, message: bytes = MESSAGE, scope: bytes = SCOPE) -> blsag.RingSignature:
    return blsag.sign(message, RING, index, KEYS[index].secret, scope, os.urandom)


def enc(n: int) -> bytes:
    return n.to_bytes(32, "little")


@settings(max_examples=12, deadline=None)
@given(st.integers(min_value=1, max_value=8), st.data())
def test_round_trip_every_ring_size_and_index(size: int, data: st.DataObject) -> None:
    keys = members(size, os.urandom)
    ring = blsag.Ring.of([k.public for k in keys])
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    signature = blsag.sign(MESSAGE, ring, index, keys[index].secret, SCOPE, os.urandom)
    decoded = blsag.RingSignature.decode(signature.encode(), size)
    assert decoded == signature
    blsag.verify(MESSAGE, ring, SCOPE, decoded)
    assert len(signature.encode()) == blsag.signature_size(size)


def test_key_image_is_secret_times_hashed_base() -> None:
    """Checked with the independent reference arithmetic."""
    signature = signed(1)
    base = blsag.key_image_base(SCOPE)
    x = int.from_bytes(KEYS[1].secret, "little")
    expected = ref.compress(ref.mul(x, ref.decompress(base)))  # type: ignore[arg-type]
    assert signature.key_image == expected == blsag.key_image(KEYS[1].secret, SCOPE)


# -- forgery attempts ----------------------------------------------------------------------


def test_modified_message_fails() -> None:
    with pytest.raises(BadSignature):
        blsag.verify(MESSAGE + b"!", RING, SCOPE, signed())


def test_other_scope_fails() -> None:
    with pytest.raises(BadSignature):
        blsag.verify(MESSAGE, RING, b"other ballot", signed())


def test_modified_ring_fails() -> None:
    signature = signed()
    outsider = BallotKeyPair.generate(os.urandom).public
    replaced = blsag.Ring.of([*RING.points[:5], outsider])
    reordered = blsag.Ring.of(list(reversed(RING.points)))
    for ring in (replaced, reordered):
        with pytest.raises(BadSignature):
            blsag.verify(MESSAGE, ring, SCOPE, signature)
    with pytest.raises(BadSignature):
        blsag.verify(MESSAGE, blsag.Ring.of(RING.points[:5]), SCOPE, signature)


def test_swapped_key_image_fails() -> None:
    signature = signed(2)
    other_image = signed(3).key_image
    with pytest.raises(BadSignature):
        blsag.verify(
            MESSAGE,
            RING,
            SCOPE,
            blsag.RingSignature(other_image, signature.c0, signature.responses),
        )


def test_each_changed_response_or_challenge_fails() -> None:
    signature = signed()
    one = enc(1)
    for i in range(len(RING)):
        responses = list(signature.responses)
        responses[i] = group.scalar_add(responses[i], one)
        forged = blsag.RingSignature(signature.key_image, signature.c0, tuple(responses))
        with pytest.raises(BadSignature):
            blsag.verify(MESSAGE, RING, SCOPE, forged)
    forged = blsag.RingSignature(
        signature.key_image, group.scalar_add(signature.c0, one), signature.responses
    )
    with pytest.raises(BadSignature):
        blsag.verify(MESSAGE, RING, SCOPE, forged)


def test_signer_outside_the_ring_cannot_sign() -> None:
    outsider = BallotKeyPair.generate(os.urandom)
    with pytest.raises(UsageError):
        blsag.sign(MESSAGE, RING, 0, outsider.secret, SCOPE, os.urandom)
    # Pretending anyway: a ring with the outsider, verified against the real ring.
    ring = blsag.Ring.of([outsider.public, *RING.points[1:]])
    forged = blsag.sign(MESSAGE, ring, 0, outsider.secret, SCOPE, os.urandom)
    with pytest.raises(BadSignature):
        blsag.verify(MESSAGE, RING, SCOPE, forged)


def test_wrong_secret_for_index_is_refused() -> None:
    with pytest.raises(UsageError):
        blsag.sign(MESSAGE, RING, 0, KEYS[1].secret, SCOPE, os.urandom)
    with pytest.raises(UsageError):
        blsag.sign(MESSAGE, RING, 6, KEYS[1].secret, SCOPE, os.urandom)


def test_random_signature_fails() -> None:
    image = group.base_mul(group.random_scalar(os.urandom))
    junk = blsag.RingSignature(
        image,
        group.random_scalar(os.urandom),
        tuple(group.random_scalar(os.urandom) for _ in RING.points),
    )
    with pytest.raises(BadSignature):
        blsag.verify(MESSAGE, RING, SCOPE, junk)


# -- linkability and anonymity -------------------------------------------------------------


def test_same_key_same_scope_links() -> None:
    """Double voting: two signatures by one key in one ballot share their key image."""
    first, second = signed(4, b"yes"), signed(4, b"no")
    assert first.key_image == second.key_image
    assert first.responses != second.responses
    assert signed(4).key_image != signed(3).key_image


def test_same_key_other_scope_does_not_link() -> None:
    assert signed(4, scope=b"ballot 1").key_image != signed(4, scope=b"ballot 2").key_image


def test_signature_has_no_signer_public_key_and_uniform_shape() -> None:
    """Nothing in the encoding names the signer: no ring key appears in it, and every
    signer index produces the same structure (n uniformly random scalars)."""
    for index in range(len(RING)):
        encoded = signed(index).encode()
        for key in RING.points:
            assert key not in encoded
        assert len(encoded) == blsag.signature_size(len(RING))


# -- malleability and parsing --------------------------------------------------------------


def test_non_canonical_scalars_are_rejected() -> None:
    """s + L is the same value mod L: accepting it would give a second encoding."""
    signature = signed()
    for i in range(len(RING)):
        responses = list(signature.responses)
        responses[i] = enc(int.from_bytes(responses[i], "little") + ref.L)
        encoded = blsag.RingSignature(signature.key_image, signature.c0, tuple(responses))
        with pytest.raises(MalformedData):
            blsag.RingSignature.decode(encoded.encode(), len(RING))
        with pytest.raises(BadSignature):
            blsag.verify(MESSAGE, RING, SCOPE, encoded)
    c_plus_l = enc(int.from_bytes(signature.c0, "little") + ref.L)
    bad = blsag.RingSignature(signature.key_image, c_plus_l, signature.responses)
    with pytest.raises(MalformedData):
        blsag.RingSignature.decode(bad.encode(), len(RING))


def test_key_image_with_torsion_is_rejected() -> None:
    """Monero 2017: I + T verified because c*T vanished for c = 0 mod 8; we refuse it."""
    signature = signed()
    image = ref.decompress(signature.key_image)
    assert image is not None
    for t in ref.torsion_points():
        torsion = ref.decompress(t)
        assert torsion is not None
        tampered = ref.compress(ref.add(image, torsion))
        if tampered == signature.key_image:
            continue
        forged = blsag.RingSignature(tampered, signature.c0, signature.responses)
        with pytest.raises(MalformedData):
            blsag.RingSignature.decode(forged.encode(), len(RING))
        with pytest.raises(BadSignature):
            blsag.verify(MESSAGE, RING, SCOPE, forged)
        # The small-order point itself as a key image.
        with pytest.raises(MalformedData):
            blsag.RingSignature.decode(
                blsag.RingSignature(t, signature.c0, signature.responses).encode(), len(RING)
            )


def test_parsing_is_strict() -> None:
    encoded = signed().encode()
    with pytest.raises(MalformedData):
        blsag.RingSignature.decode(encoded[:-1], len(RING))
    with pytest.raises(MalformedData):
        blsag.RingSignature.decode(encoded + b"\x00", len(RING))
    with pytest.raises(UnsupportedVersion):
        blsag.RingSignature.decode(b"\x03" + encoded[1:], len(RING))
    with pytest.raises(MalformedData, match="version 2 where the ring is version 1"):
        blsag.RingSignature.decode(b"\x02" + encoded[1:], len(RING))
    with pytest.raises(MalformedData):
        blsag.RingSignature.decode(encoded, len(RING) + 1)
    too_many = encoded[:65] + (blsag.MAX_RING_SIZE + 1).to_bytes(4, "big")
    with pytest.raises(TooLarge):
        blsag.RingSignature.decode(too_many, blsag.MAX_RING_SIZE + 1)


def test_ring_rejects_bad_and_repeated_keys() -> None:
    with pytest.raises(MalformedData):
        blsag.Ring.of([KEYS[0].public, KEYS[0].public])
    with pytest.raises(MalformedData):
        blsag.Ring.of([KEYS[0].public, ref.torsion_points()[2]])
    with pytest.raises(MalformedData):
        blsag.Ring.of([])
    assert RING.index(KEYS[3].public) == 3
    with pytest.raises(UsageError):
        RING.index(b"\x00" * 32)


def test_deterministic_with_a_seeded_rng() -> None:
    a = blsag.sign(MESSAGE, RING, 1, KEYS[1].secret, SCOPE, seeded_rng("x"))
    b = blsag.sign(MESSAGE, RING, 1, KEYS[1].secret, SCOPE, seeded_rng("x"))
    assert a == b
