"""Message signatures checked by a second process while a catch-up goes on.

Checking the sender's Ed25519 signature is about half the cost of opening a message. In a
batch of at least ``MIN_BATCH`` items, a text message or reply is decrypted, parsed and
stored in the batch's transaction while a worker process checks its signature; the
transaction commits only when every signature of the batch has verified. If one does
not, the caller rolls the batch back, drops its in-memory session and reads the batch
again checking each signature before its message is used: the forged item then gets
exactly the warning it gets without this, and nothing from it was ever committed, shown
or told to a listener (docs/protocol.md section 7.2, "Signatures checked by a second
process").

Only kinds whose handling writes nothing but rows of that transaction are checked late:
anything that acts, caches or answers (ballots, documents, devices, edits) is checked
before it is used.

A process, not a thread: libsodium checks a signature without Python's lock, but a
thread must take the lock back after every signature, and while this thread runs Python
it seldom gets it (measured: a thread, or a process fed through the standard pool's
helper threads, gained nothing). So this thread writes each chunk to the worker's pipe
itself and reads the verdicts at the end of the batch. The worker
(``app.signature_worker``) is a fresh interpreter, never a fork (the desktop app runs Qt
threads), started when the first large batch comes; until it says it is ready, that
batch's signatures are held, and those still held at the batch's end are checked here.
A worker that dies or stops answering is replaced when the next large batch comes (at
most ``MAX_STARTS`` workers per engine); its unanswered chunks are checked here.
It receives the signed frames, that is message plaintexts, over a pipe between two
processes of the same user, and keeps nothing.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from app.signature_worker import READY, all_valid, encode, read_answer, write_frame
from crypto.content import ContentType
from crypto.message import SignatureCheck

__all__ = [
    "ANSWER_WAIT",
    "CHECKED_LATE",
    "MAX_STARTS",
    "MIN_BATCH",
    "SignatureBatch",
    "SignatureChecker",
]

MIN_BATCH = 64
"""Below this many items a batch checks inline: handing work over costs more than it saves."""

CHECKED_LATE = frozenset({int(ContentType.TEXT), int(ContentType.REPLY)})
"""Content types whose signature may be checked after the message is stored (uncommitted)."""

_CHUNK = 64  # signatures written to the worker at once
ANSWER_WAIT = 60.0
"""Seconds to wait for one answer before the worker counts as hung: it is then killed and
its chunks are checked here (a chunk takes milliseconds)."""
_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds app/ and crypto/
MAX_STARTS = 3
"""Workers one checker starts at most: a broken one is replaced at the next large batch,
twice; after that every batch is checked here (something keeps killing them)."""


class _Worker:
    """One worker process and our ends of its pipes; usable once it has said it is ready."""

    def __init__(self, answer_wait: float) -> None:
        self._answer_wait = answer_wait
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(_ROOT), env.get("PYTHONPATH"))))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "app.signature_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            bufsize=0,  # no buffer of ours, so select() sees every answer waiting
        )
        if self._process.stdin is None or self._process.stdout is None:  # never: piped
            raise OSError("the signature worker was started without pipes")
        self._to: IO[bytes] = self._process.stdin
        self._from: IO[bytes] = self._process.stdout
        self._ready = False
        self._broken = False
        self._next_id = 0

    def ready(self, timeout: float = 0) -> bool:
        """Whether it has said it is ready, waiting up to ``timeout`` seconds for that."""
        if not self._ready and not self._broken:
            readable, _, _ = select.select([self._from], [], [], timeout)
            if readable:
                answer = self._from.read(1)
                self._ready = answer == READY
                self._broken = not self._ready
        return self._ready and not self._broken

    @property
    def broken(self) -> bool:
        """It died, hung or answered nonsense: never used again."""
        return self._broken

    def send(self, checks: Sequence[SignatureCheck]) -> int | None:
        """Hand ``checks`` over: the frame's id, or None if the worker is gone."""
        if self._broken:
            return None
        frame_id, self._next_id = self._next_id, (self._next_id + 1) % 2**32
        try:
            write_frame(self._to, encode(frame_id, checks))
        except OSError:
            self._broken = True
            return None
        return frame_id

    def verdict(self, frame_id: int) -> bool | None:
        """Whether every signature of frame ``frame_id`` verified, or None if the worker
        is gone. Answers to frames of an abandoned batch come first: they are skipped."""
        while not self._broken:
            waiting, _, _ = select.select([self._from], [], [], self._answer_wait)
            if not waiting:  # hung: never wait on it again
                self._broken = True
                self._process.kill()
                break
            try:
                answered, valid = read_answer(self._from)
            except (EOFError, OSError):
                self._broken = True
                break
            if answered == frame_id:
                return valid
        return None

    def close(self) -> None:
        for stream in (self._to, self._from):
            stream.close()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class SignatureBatch:
    """The signatures of one batch: chunks go to the worker as they fill."""

    def __init__(self, worker: _Worker, checker: SignatureChecker) -> None:
        self._worker = worker
        self._checker = checker
        self._pending: list[SignatureCheck] = []
        self._sent: list[tuple[int, list[SignatureCheck]]] = []

    def add(self, check: SignatureCheck) -> None:
        self._pending.append(check)
        # Held while the worker starts; handed over in chunks once it is ready.
        if len(self._pending) % _CHUNK == 0 and self._worker.ready():
            while self._pending:
                chunk = self._pending[:_CHUNK]
                frame_id = self._worker.send(chunk)
                if frame_id is None:
                    return
                self._sent.append((frame_id, chunk))
                del self._pending[:_CHUNK]

    def all_valid(self) -> bool:
        """True only if every signature of the batch verified (a chunk the worker could
        not answer is checked here)."""
        valid = all_valid(self._pending)
        for frame_id, chunk in self._sent:
            verdict = self._worker.verdict(frame_id)
            if verdict is None:
                verdict = all_valid(chunk)
            else:
                self._checker.late_checks += len(chunk)
            valid = verdict and valid
        return valid


class SignatureChecker:
    """The worker of one engine: only on a machine with more than one CPU, on POSIX (it
    polls a pipe with ``select``), and never in a frozen build (there ``sys.executable``
    is the app, not an interpreter)."""

    def __init__(self, cpus: int | None = None, answer_wait: float = ANSWER_WAIT) -> None:
        cpus = os.cpu_count() if cpus is None else cpus
        self._answer_wait = answer_wait
        self._usable = (
            cpus is not None
            and cpus > 1
            and os.name == "posix"
            and not getattr(sys, "frozen", False)
        )
        self._worker: _Worker | None = None
        self._starts = 0
        self.late_checks = 0
        """Signatures the worker has checked so far (the bench prints it)."""

    def _started(self) -> _Worker | None:
        """The worker, started if it is not running (and this machine uses one); a
        broken one is closed and replaced, up to ``MAX_STARTS`` workers in all."""
        if self._worker is not None and self._worker.broken:
            self._worker.close()
            self._worker = None
        if self._usable and self._worker is None:
            if self._starts >= MAX_STARTS:
                self._usable = False
                return None
            self._starts += 1
            try:
                self._worker = _Worker(self._answer_wait)
            except (OSError, ValueError):  # no interpreter to start: check inline
                self._usable = False
        return self._worker

    def wait_ready(self, timeout: float) -> bool:
        """Start the worker and wait up to ``timeout`` seconds until it is ready."""
        worker = self._started()
        return worker is not None and worker.ready(timeout)

    def batch(self, items: int) -> SignatureBatch | None:
        """A batch for ``items`` items, or None to check every signature inline (a small
        batch, or no worker on this machine). The first large batch starts the worker."""
        if items < MIN_BATCH:
            return None
        worker = self._started()
        return None if worker is None else SignatureBatch(worker, self)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
