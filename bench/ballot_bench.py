"""How fast ballots sign and verify, and how long a whole ballot takes to check.

1. The group operations underneath (libsodium through PyNaCl), in microseconds.
2. bLSAG sign and verify at ring sizes 10, 50, 200 and 1000: ms per signature and
   microseconds per ring member (target: verify <= 300 us per member).
3. Full verification of a 200-member ballot (200 vote items, each over the 200-key ring)
   with a process pool over 2 cores (target: 5 s), and the 1000-member ballot estimated
   from a sample of votes (a full run would take several minutes; the estimate says so).
4. If the optional ``rbcl`` package (ristretto255, bundling its own libsodium) is
   importable, the same ring loop on ristretto255, for comparison only.

    python bench/ballot_bench.py [--workers 2] [--sample 24] [--skip-full]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crypto import kdf
from crypto.ballot import (
    BallotDefinition,
    BallotKeyPair,
    BallotKind,
    SingleChoice,
    blsag,
    cast_vote,
    group,
    verify_vote,
)
from crypto.identity import Identity


def per_call_us(fn: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - start) / count * 1e6


def primitives() -> None:
    x = group.random_scalar(os.urandom)
    point = group.base_mul(group.random_scalar(os.urandom))
    print("group operations (PyNaCl 1.6 / libsodium), us per call:")
    rows = [
        ("scalar * G (fixed base)", lambda: group.base_mul(x)),
        ("scalar * P (variable base, incl. subgroup check)", lambda: group.mul(x, point)),
        ("P + Q", lambda: group.add(point, point)),
        ("is_valid_point", lambda: group.check_point(point)),
        (
            "hash_to_scalar (BLAKE2b-512, reduce)",
            lambda: group.hash_to_scalar("ballot-ring-challenge", x, point, point),
        ),
    ]
    for name, fn in rows:
        print(f"  {name:52s} {per_call_us(fn, 3000):7.1f}")


def ring_sizes(sizes: list[int]) -> None:
    print("\nbLSAG over a ring of n keys (one signature):")
    print(
        f"  {'n':>5} {'sign ms':>9} {'verify ms':>10} {'sign us/member':>15} "
        f"{'verify us/member':>17}"
    )
    for n in sizes:
        keys = [BallotKeyPair.generate(os.urandom) for _ in range(n)]
        ring = blsag.Ring.of([k.public for k in keys])
        repeats = max(1, 400 // n)
        start = time.perf_counter()
        for _ in range(repeats):
            signature = blsag.sign(b"m", ring, n // 2, keys[n // 2].secret, b"tag", os.urandom)
        sign_s = (time.perf_counter() - start) / repeats
        start = time.perf_counter()
        for _ in range(repeats):
            blsag.verify(b"m", ring, b"tag", signature)
        verify_s = (time.perf_counter() - start) / repeats
        print(
            f"  {n:5d} {sign_s * 1e3:9.1f} {verify_s * 1e3:10.1f} "
            f"{sign_s / n * 1e6:15.0f} {verify_s / n * 1e6:17.0f}"
        )


# -- whole ballots, across processes ------------------------------------------------------

_DEFINITION: BallotDefinition | None = None


def _init_worker(encoded: bytes) -> None:
    global _DEFINITION
    _DEFINITION = BallotDefinition.decode(encoded)


def _cast(args: tuple[bytes, int]) -> bytes:
    secret, index = args
    assert _DEFINITION is not None
    keypair = BallotKeyPair.from_secret(secret)
    return cast_vote(_DEFINITION, keypair, index, SingleChoice(index % 3), os.urandom)


def _verify(items: list[bytes]) -> int:
    assert _DEFINITION is not None
    for item in items:
        verify_vote(_DEFINITION, item)
    return len(items)


def make_ballot(n: int) -> tuple[BallotDefinition, list[BallotKeyPair]]:
    keys = [BallotKeyPair.generate(os.urandom) for _ in range(n)]
    creator = Identity.generate(os.urandom, 0)
    definition, _ = BallotDefinition.create(
        creator,
        os.urandom(16),
        "Accept the offer?",
        BallotKind.SINGLE,
        [k.public for k in keys],
        0,
        1,
        os.urandom,
        options=("yes", "no", "later"),
    )
    return definition, keys


def whole_ballot(n: int, votes: int, workers: int) -> float:
    """Seconds to verify ``votes`` items of an ``n``-member ballot on ``workers`` processes."""
    definition, keys = make_ballot(n)
    encoded = definition.encode()
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(encoded,)) as pool:
        start = time.perf_counter()
        items = list(pool.map(_cast, [(keys[i].secret, i) for i in range(votes)]))
        cast_s = time.perf_counter() - start
        chunks = [items[i::workers] for i in range(workers)]
        start = time.perf_counter()
        verified = sum(pool.map(_verify, chunks))
        verify_s = time.perf_counter() - start
    assert verified == votes
    print(
        f"  n={n}: cast {votes} votes in {cast_s:.2f} s, verified them in {verify_s:.2f} s "
        f"on {workers} processes ({verify_s / votes * 1e3:.1f} ms per vote, "
        f"{verify_s * workers / votes / n * 1e6:.0f} us per ring member per core); "
        f"item size {len(items[0])} bytes"
    )
    return verify_s


def _spin(count: int) -> float:
    x = group.random_scalar(os.urandom)
    point = group.base_mul(x)
    start = time.perf_counter()
    for _ in range(count):
        group.mul(x, point)
    return time.perf_counter() - start


def parallel_scaling(workers: int) -> float:
    """How many times one process's throughput ``workers`` processes reach on this machine
    (shared virtual CPUs often give far less than ``workers``)."""
    count = 10_000
    alone = _spin(count)
    with ProcessPoolExecutor(workers) as pool:
        start = time.perf_counter()
        list(pool.map(_spin, [count] * workers))
        wall = time.perf_counter() - start
    return alone * workers / wall


# -- optional ristretto255 comparison ------------------------------------------------------


def ristretto_comparison(n: int) -> None:
    try:
        import rbcl
    except ImportError:
        print("\nrbcl not installed: no ristretto255 comparison (pip install rbcl)")
        return
    base_mul = rbcl.crypto_scalarmult_ristretto255_base
    mul = rbcl.crypto_scalarmult_ristretto255
    add = rbcl.crypto_core_ristretto255_add
    reduce = rbcl.crypto_core_ristretto255_scalar_reduce
    sub = rbcl.crypto_core_ristretto255_scalar_sub
    smul = rbcl.crypto_core_ristretto255_scalar_mul

    def rand() -> bytes:
        return bytes(reduce(os.urandom(64)))

    def hs(*parts: bytes) -> bytes:
        return bytes(reduce(kdf.digest("ballot-ring-challenge", *parts, size=64)))

    secrets = [rand() for _ in range(n)]
    ring = [bytes(base_mul(s)) for s in secrets]
    h = bytes(rbcl.crypto_core_ristretto255_from_hash(kdf.digest("ballot-tag", b"t", size=64)))
    pi = n // 2
    image = bytes(mul(secrets[pi], h))
    c = [b""] * n
    s = [b""] * n
    alpha = rand()
    c[(pi + 1) % n] = hs(bytes(base_mul(alpha)), bytes(mul(alpha, h)))
    for k in range(1, n):
        i = (pi + k) % n
        s[i] = rand()
        left = add(base_mul(s[i]), mul(c[i], ring[i]))
        right = add(mul(s[i], h), mul(c[i], image))
        c[(i + 1) % n] = hs(bytes(left), bytes(right))
    s[pi] = bytes(sub(alpha, smul(c[pi], secrets[pi])))

    start = time.perf_counter()
    challenge = c[0]
    for i in range(n):
        left = add(base_mul(s[i]), mul(challenge, ring[i]))
        right = add(mul(s[i], h), mul(challenge, image))
        challenge = hs(bytes(left), bytes(right))
    elapsed = time.perf_counter() - start
    assert challenge == c[0], "ristretto ring did not close"
    print(
        f"\nristretto255 via rbcl {getattr(rbcl, '__version__', '?')}, same ring loop, n={n}: "
        f"verify {elapsed * 1e3:.1f} ms = {elapsed / n * 1e6:.0f} us per member"
    )
    x = rand()
    print(
        f"  rbcl scalar*P {per_call_us(lambda: mul(x, h), 3000):.1f} us, "
        f"scalar*G {per_call_us(lambda: base_mul(x), 3000):.1f} us, "
        f"P+Q {per_call_us(lambda: add(h, h), 3000):.1f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=24, help="votes timed for n=1000")
    parser.add_argument("--skip-full", action="store_true", help="skip the whole-ballot runs")
    args = parser.parse_args()

    primitives()
    ring_sizes([10, 50, 200, 1000])
    if not args.skip_full:
        scaling = parallel_scaling(args.workers)
        print(
            f"\nthis machine: {args.workers} processes reach {scaling:.2f}x the throughput "
            f"of one (ideal {args.workers}x)"
        )
        print("whole ballots (every vote verified, process pool):")
        full = whole_ballot(200, 200, args.workers)
        print(f"  -> 200-member ballot fully verified in {full:.2f} s (target 5 s)")
        sample = whole_ballot(1000, args.sample, args.workers)
        estimate = sample / args.sample * 1000
        print(
            f"  -> 1000-member ballot: ESTIMATED {estimate:.0f} s for 1000 votes "
            f"(from {args.sample} sampled votes; a full run would exceed 3 minutes)"
        )
    ristretto_comparison(200)


if __name__ == "__main__":
    main()
