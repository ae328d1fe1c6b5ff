"""Helpers shared by the ballot tests: a seeded rng and small ballots built from it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from crypto.ballot import BallotDefinition, BallotKeyPair, BallotKind, RevealKey
from crypto.ballot.definition import DEFINITION_VERSION
from crypto.identity import Identity

Rng = Callable[[int], bytes]

GROUP_ID = bytes(range(16))


def seeded_rng(seed: str) -> Rng:
    """A deterministic byte stream: BLAKE2b(seed | counter) blocks, for fixed vectors."""
    state = {"counter": 0}
    key = hashlib.blake2b(seed.encode(), digest_size=32).digest()

    def rng(size: int) -> bytes:
        out = b""
        while len(out) < size:
            block = state["counter"].to_bytes(8, "big")
            out += hashlib.blake2b(block, key=key, digest_size=64).digest()
            state["counter"] += 1
        return out[:size]

    return rng


def members(count: int, rng: Rng) -> list[BallotKeyPair]:
    return [BallotKeyPair.generate(rng) for _ in range(count)]


def make_ballot(
    kind: BallotKind,
    keys: Sequence[BallotKeyPair],
    rng: Rng,
    *,
    options: Sequence[str] = (),
    quorum: int = 0,
    numeric: tuple[int, int, int] = (0, 0, 0),
    creator: Identity | None = None,
    version: int = DEFINITION_VERSION,
) -> tuple[BallotDefinition, RevealKey]:
    creator = creator or Identity.generate(rng, 0)
    return BallotDefinition.create(
        creator,
        GROUP_ID,
        "Do we accept the offer?",
        kind,
        [k.public for k in keys],
        1_000,
        2_000,
        rng,
        options=options,
        numeric_min=numeric[0],
        numeric_max=numeric[1],
        histogram_bins=numeric[2],
        quorum=quorum,
        version=version,
    )
