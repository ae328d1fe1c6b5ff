"""Our own known-answer vectors (origin in the file's note and gen_vectors.py): the code
reproduces them byte for byte, and the reference arithmetic agrees with every point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import rbcl

from crypto import kdf
from crypto.ballot import (
    BallotDefinition,
    BallotKeyRecord,
    RevealKey,
    ristretto,
    tally,
    verify_vote,
)
from crypto.ballot.hash_to_group import hash_to_point
from tests.crypto.ballot import ref_ed25519 as ref

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "crypto" / "vectors" / "ballot.json"
DATA = json.loads(VECTORS.read_text(encoding="utf-8"))


def test_generator_reproduces_the_file() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "crypto" / "ballot" / "gen_vectors.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert out == VECTORS.read_text(encoding="utf-8")


def test_group_vectors_against_reference() -> None:
    for v in DATA["group"]:
        a, b = (
            int.from_bytes(bytes.fromhex(v["a"]), "little"),
            int.from_bytes(bytes.fromhex(v["b"]), "little"),
        )
        assert bytes.fromhex(v["a_G"]) == ref.compress(ref.mul(a, ref.G))
        assert bytes.fromhex(v["a_bG"]) == ref.compress(ref.mul(a * b % ref.L, ref.G))
        assert bytes.fromhex(v["aG_plus_bG"]) == ref.compress(ref.mul((a + b) % ref.L, ref.G))


def test_hash_to_point_vectors() -> None:
    for v in DATA["hash_to_point"]:
        data = bytes.fromhex(v["input"])
        assert kdf.digest(v["label"], data).hex() == v["uniform"]
        assert hash_to_point(v["label"], data).hex() == v["point"]
        assert ref.elligator2(bytes.fromhex(v["uniform"])).hex() == v["point"]


def test_ballot_vector_verifies_and_tallies() -> None:
    v = DATA["ballot"]
    definition = BallotDefinition.decode(bytes.fromhex(v["definition"]))
    assert definition.tag.hex() == v["tag"]
    assert definition.key_image_base.hex() == v["key_image_base"]
    BallotKeyRecord.decode(
        bytes.fromhex(v["ballot_key_record_of_member_1"]),
        bytes.fromhex(v["member_identity_pk"]),
        bytes.fromhex(v["group_id"]),
    )
    votes = [verify_vote(definition, bytes.fromhex(item)) for item in v["vote_items"]]
    assert [vote.key_image.hex() for vote in votes] == v["key_images"]
    base = ref.decompress(bytes.fromhex(v["key_image_base"]))
    assert base is not None
    for secret, public, image in zip(
        v["ballot_secrets"], v["ballot_publics"], v["key_images"], strict=True
    ):
        x = int.from_bytes(bytes.fromhex(secret), "little")
        assert ref.compress(ref.mul(x, ref.G)).hex() == public
        assert ref.compress(ref.mul(x, base)).hex() == image
    reveal = RevealKey.decode_release(
        bytes.fromhex(v["reveal_release"]), definition.ballot_id, definition.reveal_pk
    )
    assert tally(definition, votes, reveal).to_json() == v["result"]


def test_ristretto_encoding_of_the_generators_multiples_is_rfc_9496s() -> None:
    for k, expected in enumerate(DATA["ballot_v2"]["rfc9496_multiples"], start=1):
        edwards = ref.compress(ref.mul(k, ref.G))
        assert ristretto.from_edwards(edwards).hex() == expected


def test_version_2_ballot_vector_verifies_and_tallies() -> None:
    """Ring signatures over ristretto255: the elements recomputed with libsodium's own
    ristretto255 functions (through rbcl, from the secrets), the votes verified and
    tallied by our code."""
    v = DATA["ballot_v2"]
    definition = BallotDefinition.decode(bytes.fromhex(v["definition"]))
    assert definition.version == 2
    assert definition.tag.hex() == v["tag"]
    base = rbcl.crypto_core_ristretto255_from_hash(
        kdf.digest("ballot-hash-to-point-v2", definition.tag, size=64)
    )
    assert definition.key_image_base.hex() == base.hex() == v["key_image_base"]
    assert [e.hex() for e in definition.ring.elements] == v["ring_ristretto255"]
    for secret, public, element, image in zip(
        v["ballot_secrets"],
        v["ballot_publics"],
        v["ring_ristretto255"],
        v["key_images"],
        strict=True,
    ):
        x = bytes.fromhex(secret)
        assert ref.compress(ref.mul(int.from_bytes(x, "little"), ref.G)).hex() == public
        assert rbcl.crypto_scalarmult_ristretto255_base(x).hex() == element
        assert rbcl.crypto_scalarmult_ristretto255(x, base).hex() == image
    votes = [verify_vote(definition, bytes.fromhex(item)) for item in v["vote_items"]]
    assert [vote.key_image.hex() for vote in votes] == v["key_images"]
    reveal = RevealKey.decode_release(
        bytes.fromhex(v["reveal_release"]), definition.ballot_id, definition.reveal_pk
    )
    assert tally(definition, votes, reveal).to_json() == v["result"]
