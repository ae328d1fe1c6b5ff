"""Checking many votes at once (``app.core.ballot_check``) gives ``verify_vote``'s verdicts.

The full re-check of a big ballot runs over worker processes; whatever path a vote takes
(here, one by one, or a worker process started with forkserver/spawn), the verdict must
be the one a textbook bLSAG verifier gives, for valid votes and for votes with any byte
changed: for ballots of definition version 1 written here on the independent RFC 8032
arithmetic of ``tests/crypto/ballot/ref_ed25519.py`` (no libsodium), for version 2 on
libsodium's ristretto255 functions called directly.
"""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path

import pytest
import rbcl
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.ballot_check import (
    POOL_THRESHOLD,
    VotePool,
    check_ballot_votes,
    check_votes,
    pool_context,
)
from crypto import kdf
from crypto.ballot import BallotDefinition, BallotKind, SingleChoice, blsag, cast_vote, ristretto
from crypto.ballot.choice import encrypted_choice_size
from crypto.ballot.definition import DEFINITION_VERSION
from crypto.ballot.hash_to_group import hash_to_point
from crypto.errors import MalformedData, RemoteError
from crypto.wire import Reader
from tests.crypto.ballot import ref_ed25519 as ref
from tests.crypto.ballot.support import make_ballot, members, seeded_rng

RING = 4


@functools.cache
def ballot(version: int = DEFINITION_VERSION) -> tuple[BallotDefinition, tuple[bytes, ...]]:
    rng = seeded_rng(f"ballot-check-{version}")
    keys = members(RING, rng)
    definition, _ = make_ballot(
        BallotKind.SINGLE, keys, rng, options=("a", "b", "c"), version=version
    )
    votes = tuple(cast_vote(definition, keys[i], i, SingleChoice(i % 3), rng) for i in range(RING))
    return definition, votes


def _point(data: bytes) -> ref.Point:
    point = ref.decompress(data)
    if point is None or ref.compress(point) != data:
        raise MalformedData("not a canonical point")
    if ref.equal(point, ref.IDENTITY) or not ref.equal(ref.mul(ref.L, point), ref.IDENTITY):
        raise MalformedData("not a non-identity point of the prime-order subgroup")
    return point


def _scalar(data: bytes) -> int:
    value = int.from_bytes(data, "little")
    if value >= ref.L:
        raise MalformedData("scalar not canonical")
    return value


def reference_accepts(definition: BallotDefinition, item: bytes) -> bool:
    """docs/ballots.md 5.1-5.2 from the text: parse the vote, then the bLSAG equations on
    the independent arithmetic. True when the vote verifies."""
    try:
        reader = Reader(item)
        if reader.u8() != 1:
            return False
        ballot_id = reader.fixed(16)
        revision = reader.u32()
        encrypted = reader.var(4096)
        signature = reader.var(blsag.signature_size(blsag.MAX_RING_SIZE))
        reader.finish()
        if ballot_id != definition.ballot_id:
            return False
        if len(encrypted) != encrypted_choice_size(definition):
            return False
        sig = Reader(signature)
        if sig.u8() != definition.version:
            return False
        image = sig.fixed(32)
        c0 = _scalar(sig.fixed(32))
        responses = [_scalar(s) for s in sig.items(blsag.MAX_RING_SIZE, lambda r: r.fixed(32))]
        sig.finish()
    except RemoteError:
        return False
    if len(responses) != len(definition.roster):
        return False
    message = kdf.digest(
        "ballot-vote", definition.tag, ballot_id, revision.to_bytes(4, "big"), encrypted
    )
    equations = _edwards_equations if definition.version == 1 else _ristretto_equations
    try:
        return equations(definition, message, image, c0, responses)
    except MalformedData:
        return False


def _challenge(label: str, context: bytes, i: int, left: bytes, right: bytes) -> int:
    digest = kdf.digest(label, context, i.to_bytes(4, "big"), left, right, size=64)
    return int.from_bytes(digest, "little") % ref.L


def _edwards_equations(
    definition: BallotDefinition, message: bytes, image_bytes: bytes, c0: int, responses: list[int]
) -> bool:
    """Version 1 on the RFC 8032 reference arithmetic."""
    image = _point(image_bytes)
    base_bytes = hash_to_point("ballot-hash-to-point", definition.tag)
    base = _point(base_bytes)
    ring_hash = kdf.digest("ballot-ring", *definition.roster)
    context = kdf.digest("ballot-ring-context", ring_hash, base_bytes, image_bytes, message)
    challenge = c0
    for i, (key, s_i) in enumerate(zip(definition.roster, responses, strict=True)):
        member = _point(key)
        left = ref.add(ref.mul(s_i, ref.G), ref.mul(challenge, member))
        right = ref.add(ref.mul(s_i, base), ref.mul(challenge, image))
        label = "ballot-ring-challenge"
        challenge = _challenge(label, context, i, ref.compress(left), ref.compress(right))
    return challenge == c0


def _ristretto_equations(
    definition: BallotDefinition, message: bytes, image: bytes, c0: int, responses: list[int]
) -> bool:
    """Version 2 on libsodium's ristretto255 functions called directly (not blsag's)."""
    if image == bytes(32) or not rbcl.crypto_core_ristretto255_is_valid_point(image):
        return False
    base = rbcl.crypto_core_ristretto255_from_hash(
        kdf.digest("ballot-hash-to-point-v2", definition.tag, size=64)
    )
    ring = [ristretto.from_edwards(key) for key in definition.roster]
    ring_hash = kdf.digest("ballot-ring-v2", *ring)
    context = kdf.digest("ballot-ring-v2-context", ring_hash, base, image, message)

    def mul(scalar: int, point: bytes) -> bytes:
        result: bytes = rbcl.crypto_scalarmult_ristretto255_allow_scalar_zero(
            scalar.to_bytes(32, "little"), point
        )
        return result

    add = rbcl.crypto_core_ristretto255_add
    challenge = c0
    for i, (key, s_i) in enumerate(zip(ring, responses, strict=True)):
        left = add(mul(s_i, ristretto.BASE), mul(challenge, key))
        right = add(mul(s_i, base), mul(challenge, image))
        challenge = _challenge("ballot-ring-v2-challenge", context, i, left, right)
    return challenge == c0


def _corrupt(item: bytes, position: int, mask: int) -> bytes:
    changed = bytearray(item)
    changed[position % len(changed)] ^= mask
    return bytes(changed)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=0, max_value=RING - 1),
    st.one_of(st.none(), st.tuples(st.integers(min_value=0), st.integers(1, 255))),
)
@pytest.mark.parametrize("version", [1, 2])
def test_verdicts_agree_with_the_textbook_verifier(
    version: int, which: int, corruption: tuple[int, int] | None
) -> None:
    definition, votes = ballot(version)
    assert definition.version == version
    item = votes[which] if corruption is None else _corrupt(votes[which], *corruption)
    (verdict,) = check_votes(definition, [item])
    assert verdict.ok is reference_accepts(definition, item)
    assert verdict.ok is (corruption is None)  # every changed byte is caught
    assert verdict.vote_hash == kdf.digest("ballot-vote-hash", item)


def test_the_signature_tail_is_what_a_corruption_hits() -> None:
    # The last bytes of a vote are ring-signature responses: changing one keeps the
    # encoding valid (canonical scalar) and must fail the equations, not the parser.
    definition, votes = ballot()
    item = _corrupt(votes[0], len(votes[0]) - 5, 0x01)
    (verdict,) = check_votes(definition, [item])
    assert not verdict.ok and verdict.reason is not None
    assert verdict.reason.startswith("BadSignature")
    assert reference_accepts(definition, item) is False


def test_a_pool_of_worker_processes_gives_the_same_verdicts_in_order() -> None:
    definition, votes = ballot()
    items = [votes[0], _corrupt(votes[1], -5, 0x02), votes[2], b"\x01garbage", votes[3]]
    items += [_corrupt(v, 40 + i, 0x80) for i, v in enumerate(votes)]
    assert pool_context().get_start_method() in ("forkserver", "spawn")
    with VotePool(definition.encode(), 2) as pool:
        pooled = pool.check(items)
        assert pool.check([]) == []
    assert pooled == check_votes(definition, items)
    assert [v.ok for v in pooled[:5]] == [True, False, True, False, True]


def _pool_workers() -> list[int]:
    """Processes whose parent is a child of this one: the pool's workers, forked by the
    forkserver (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    children = {pid for pid, parent in parents.items() if parent == os.getpid()}
    return [pid for pid, parent in parents.items() if parent in children]


def test_a_killed_worker_costs_time_not_verdicts() -> None:
    """``caucus ballot verify`` of a big ballot after the out-of-memory killer took the
    pool's workers: the check is done here and gives the same verdicts, not an error."""
    definition, votes = ballot()
    items = [*votes, _corrupt(votes[1], -5, 0x02)] * 40
    with VotePool(definition.encode(), 2) as pool:
        assert pool.check(items[:10]) == check_votes(definition, items[:10])  # workers up
        workers = _pool_workers()
        assert workers and not pool.fell_back
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        assert pool.check(items) == check_votes(definition, items)
        assert pool.fell_back
        assert pool.check(items[:5]) == check_votes(definition, items[:5])  # still usable


def test_small_checks_stay_in_this_process() -> None:
    definition, votes = ballot()
    assert len(votes) * RING < POOL_THRESHOLD  # so no worker is started for this one
    assert check_ballot_votes(definition, list(votes)) == check_votes(definition, list(votes))
