"""Checking many votes of one ballot at once, in this process or over worker processes.

Votes are verified one by one as they arrive (``ballot_receive.on_vote``); this module
is for the full re-check of a ballot (``caucus ballot verify``), where every stored vote
is verified again from its bytes. A vote costs about four scalar multiplications per
ring member (docs/ballots.md, "Performance"), so a 1,000-member ballot is minutes of
CPU: the work is spread over a process pool. Workers start with ``forkserver`` (or
``spawn`` where that is missing), never ``fork``: the desktop app runs Qt threads, which
a forked child must not inherit. Each worker decodes the definition once, so the ring's
keys are validated once per worker, not once per vote. Verdicts are the same as
``verify_vote``'s, whichever way they are computed (tests/core/test_ballot_check.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from types import TracebackType
from typing import Final

from crypto import kdf
from crypto.ballot import BallotDefinition, VerifiedVote, verify_vote
from crypto.errors import RemoteError

__all__ = [
    "POOL_THRESHOLD",
    "Verdict",
    "VotePool",
    "check_ballot_votes",
    "check_votes",
    "pool_context",
    "worker_count",
]

log = logging.getLogger("caucus.ballots")

CHUNKS_PER_WORKER: Final = 32
"""How finely a check is cut into chunks for the workers (at least one vote a chunk)."""

POOL_THRESHOLD: Final = 20_000
"""Votes x ring members above which a check is worth starting worker processes (below
it the pool's start-up, about a second, costs more than it saves)."""


@dataclass(frozen=True)
class Verdict:
    """One vote's outcome: the verified vote, or the one-line reason it failed."""

    vote_hash: bytes
    vote: VerifiedVote | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.vote is not None


def _verdict(definition: BallotDefinition, item: bytes) -> Verdict:
    try:
        vote = verify_vote(definition, item)
    except RemoteError as exc:
        return Verdict(kdf.digest("ballot-vote-hash", item), None, f"{type(exc).__name__}: {exc}")
    return Verdict(vote.vote_hash, vote, None)


def check_votes(definition: BallotDefinition, items: Sequence[bytes]) -> list[Verdict]:
    """Verify ``items`` here, one after another, in order."""
    return [_verdict(definition, item) for item in items]


def pool_context() -> BaseContext:
    """``forkserver`` where the platform has it, else ``spawn``; never ``fork``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The server (one thread, no Qt) imports the checking code once and each worker is
    # forked from it with that code loaded: about 0.2 s to a ready pool instead of 0.5
    # after the first pool of a process (setting it has no effect once the server runs).
    context.set_forkserver_preload(["app.core.ballot_check"])
    return context


def worker_count() -> int:
    """One worker per CPU, at least one (the machines we target have two)."""
    return max(1, os.cpu_count() or 1)


_WORKER_DEFINITION: BallotDefinition | None = None


def _start_worker(encoded: bytes) -> None:
    global _WORKER_DEFINITION
    definition = BallotDefinition.decode(encoded)
    definition.ring  # noqa: B018 - validate the ring's keys once, in this worker
    _WORKER_DEFINITION = definition


def _check_chunk(items: list[bytes]) -> list[Verdict]:
    if _WORKER_DEFINITION is None:
        raise RuntimeError("ballot check worker started without its definition")
    return check_votes(_WORKER_DEFINITION, items)


class VotePool:
    """Worker processes that each hold one ballot's definition; use as a context manager."""

    def __init__(self, encoded_definition: bytes, workers: int) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self._workers = workers
        self._encoded = encoded_definition
        self.fell_back = False
        self._executor = ProcessPoolExecutor(
            workers,
            mp_context=pool_context(),
            initializer=_start_worker,
            initargs=(encoded_definition,),
        )

    def __enter__(self) -> VotePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def check(self, items: Sequence[bytes]) -> list[Verdict]:
        """Verify ``items`` across the workers; verdicts come back in the items' order.

        If a worker dies (the out-of-memory killer, a user's ``kill``), the pool is
        broken for good: the whole check is done again in this process, slower but with
        the same verdicts, and ``fell_back`` says so."""
        if not items:
            return []
        # Many small chunks per worker: a worker that finishes early takes the next one,
        # so at the end one waits at most one small chunk for the other (with 4 chunks a
        # worker, 1,000 votes at 1,000 members made 25 s chunks).
        size = max(1, -(-len(items) // (self._workers * CHUNKS_PER_WORKER)))
        chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
        if not self.fell_back:
            try:
                return [
                    verdict
                    for chunk in self._executor.map(_check_chunk, chunks)
                    for verdict in chunk
                ]
            except BrokenProcessPool:
                log.warning("a ballot check worker died; checking in this process instead")
                self.fell_back = True
        return check_votes(BallotDefinition.decode(self._encoded), items)


def check_ballot_votes(definition: BallotDefinition, items: Sequence[bytes]) -> list[Verdict]:
    """Verify ``items``: in a pool when the work is big enough to pay for one, else here."""
    workers = worker_count()
    # A frozen desktop build would start itself again as each worker (its entry point
    # does not call multiprocessing.freeze_support): check in this process there.
    frozen = bool(getattr(sys, "frozen", False))
    if frozen or workers < 2 or len(items) * len(definition.roster) < POOL_THRESHOLD:
        return check_votes(definition, items)
    with VotePool(definition.encode(), min(workers, len(items))) as pool:
        return pool.check(items)
