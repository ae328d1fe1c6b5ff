"""Signatures checked by a second process during a catch-up (app/core/signature_checks.py).

A batch's text messages are stored before their signatures are known, in an open
transaction; these tests show that a forged one still keeps nothing and is reported once,
exactly as when each signature is checked first, and that a worker that dies loses
nothing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.engine import Engine
from app.core.events import Event, IntegrityWarning
from app.core.signature_checks import MAX_STARTS, MIN_BATCH, SignatureChecker
from app.signature_worker import decode, encode
from crypto import kdf
from crypto.content import ContentType, TextBody
from crypto.identity import Identity
from crypto.message import SignatureCheck, seal_message
from crypto.ratchet import SendChain
from tests.core.harness import Clock, befriend, make_engine, make_relay, run

READY_WITHIN = 120.0  # seconds: a fresh interpreter on a busy machine


@pytest.fixture
def checker() -> Iterator[SignatureChecker]:
    checker = SignatureChecker(cpus=2)
    assert checker.wait_ready(READY_WITHIN), "the signature worker did not start"
    yield checker
    checker.close()


def _texts(engine: Engine, group_id: bytes) -> list[str]:
    return [m.text for m in engine.messages(group_id) if m.kind == "text"]


def _signed(identity: Identity, text: str) -> SignatureCheck:
    message = text.encode()
    signature = identity.sign("message", message)
    return SignatureCheck(signature + kdf.frame("message", (message,)), identity.public_key)


def _worker_pids() -> list[int]:
    """This process's children running the signature worker (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"app.signature_worker" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_forged_message_in_a_large_batch_keeps_nothing_and_is_reported_once(
    tmp_path: Path, checker: SignatureChecker
) -> None:
    """Carol holds the epoch keys and Alice's chain, and posts as Alice in the middle of a
    catch-up that Bob checks through the worker: Bob keeps Alice's 2 x 40 messages in
    order, none of Carol's, and one BadSignature warning (not one per pass)."""
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    alice = make_engine(tmp_path, "alice", transport, clock)
    carol = make_engine(tmp_path, "carol", transport, clock)
    bob = make_engine(tmp_path, "bob", transport, clock, signatures=checker)
    told: list[Event] = []
    bob.subscribe(told.append)
    half = MIN_BATCH // 2 + 8
    try:

        async def scenario() -> bytes:
            group_id = await alice.create_group("Late checks")
            await befriend(alice, group_id, bob, carol)
            await alice.sync()
            await bob.sync()
            for i in range(half):
                await alice.send_text(group_id, f"first {i}")
            await carol.sync()
            session = carol.session(group_id)
            keys = session.keys
            assert keys is not None
            index = session.state.sender_index(alice.identity.public_key)
            chain = session.recv_chains[index]
            forged = seal_message(
                keys,
                SendChain(keys.epoch, index, chain.next_counter, chain.chain_key),
                carol.identity,
                ContentType.TEXT,
                TextBody(bytes(16), "alice: I withdraw the strike").encode(),
                clock(),
                session.state.head,
                bytes(32),
                os.urandom,
            ).item
            await carol.relay(session.relay_url).post_item(
                session.mailbox_id, keys.mailbox_cap, forged
            )
            for i in range(half):
                await alice.send_text(group_id, f"second {i}")
            told.clear()
            report = await bob.sync()
            assert report.messages == 2 * half
            return group_id

        group_id = run(scenario())
        assert _texts(bob, group_id) == [f"first {i}" for i in range(half)] + [
            f"second {i}" for i in range(half)
        ]
        assert checker.late_checks >= MIN_BATCH  # the batch went through the worker
        warnings = [e.detail for e in told if isinstance(e, IntegrityWarning)]
        assert len(warnings) == 1 and "BadSignature" in warnings[0], warnings
        stored = bob.db.all(
            "SELECT detail FROM warnings WHERE group_id = ? AND detail LIKE '%BadSignature%'",
            (group_id,),
        )
        assert len(stored) == 1
        assert not bob.db.all("SELECT id FROM messages WHERE text LIKE '%withdraw%'")
        assert not any(m.warning for m in bob.messages(group_id) if m.kind == "text")
    finally:
        for engine in (alice, bob, carol):
            run(engine.close())
        app.close()


def _good(count: int) -> list[SignatureCheck]:
    signer = Identity.generate(os.urandom, 0)
    return [_signed(signer, f"message {i}") for i in range(count)]


def _forged(check: SignatureCheck) -> SignatureCheck:
    """The same signed bytes, claimed for someone else's key."""
    return SignatureCheck(check.signed, Identity.generate(os.urandom, 0).public_key)


def _verdict(checker: SignatureChecker, checks: list[SignatureCheck]) -> bool:
    batch = checker.batch(len(checks))
    assert batch is not None
    for check in checks:
        batch.add(check)
    return batch.all_valid()


def test_a_batch_through_the_worker_gives_each_signatures_verdict(
    checker: SignatureChecker,
) -> None:
    good = _good(3 * MIN_BATCH)
    assert _verdict(checker, good)
    assert checker.late_checks >= 2 * MIN_BATCH
    signed = bytearray(good[MIN_BATCH + 3].signed)
    signed[-1] ^= 1  # one changed byte of one message
    changed = SignatureCheck(bytes(signed), good[0].public_key)
    assert not _verdict(checker, [*good[: MIN_BATCH + 3], changed, *good[MIN_BATCH + 4 :]])


def test_a_worker_killed_mid_batch_loses_nothing_and_misses_no_forgery(
    checker: SignatureChecker,
) -> None:
    checks = _good(3 * MIN_BATCH)
    batch = checker.batch(len(checks))
    assert batch is not None
    for check in checks[:MIN_BATCH]:
        batch.add(check)
    (pid,) = _worker_pids()
    os.kill(pid, signal.SIGKILL)
    for check in [*checks[MIN_BATCH:], _forged(checks[-1])]:
        batch.add(check)
    assert not batch.all_valid()  # the forgery, checked here once the worker is gone
    assert _verdict(checker, checks)  # the next batch is checked here while a new one starts


def test_a_dead_worker_is_replaced_at_the_next_batch_a_limited_number_of_times(
    checker: SignatureChecker,
) -> None:
    """A worker killed between catch-ups (the out-of-memory killer, a user's ``kill``)
    does not leave every later catch-up checking inline: the next large batch starts a
    new one, which then checks signatures (and still catches a forgery). A worker that
    keeps dying is not restarted for ever."""
    checks = _good(2 * MIN_BATCH)
    forged = [*checks[:MIN_BATCH], _forged(checks[MIN_BATCH]), *checks[MIN_BATCH + 1 :]]
    for started in range(1, MAX_STARTS + 1):
        (pid,) = _worker_pids()
        os.kill(pid, signal.SIGKILL)
        assert _verdict(checker, checks)  # the dead worker is found out; checked here
        replaced = checker.wait_ready(READY_WITHIN)  # the next batch would start one
        if started == MAX_STARTS:
            assert not replaced
            break
        assert replaced
        (new_pid,) = _worker_pids()
        assert new_pid != pid
        late = checker.late_checks
        assert not _verdict(checker, forged)
        assert _verdict(checker, checks)
        assert checker.late_checks >= late + 2 * len(checks)  # the new worker checked them
    assert _worker_pids() == []  # the last death was the last: no further worker
    assert checker.batch(2 * MIN_BATCH) is None  # every batch now checks inline


def test_a_hung_worker_is_given_up_and_its_chunks_checked_here() -> None:
    """A worker that stops answering (here: stopped with SIGSTOP) must not freeze the
    sync: after the answer wait it is killed and its chunks are checked in this process."""
    checker = SignatureChecker(cpus=2, answer_wait=0.5)
    try:
        assert checker.wait_ready(READY_WITHIN)
        checks = _good(2 * MIN_BATCH)
        (pid,) = _worker_pids()
        os.kill(pid, signal.SIGSTOP)
        assert not _verdict(checker, [_forged(checks[0]), *checks[1:]])  # in a sent chunk
        assert _verdict(checker, checks)
        assert checker.late_checks == 0  # every verdict came from this process
    finally:
        checker.close()


def test_answers_for_an_abandoned_batch_are_not_taken_for_the_next_ones(
    checker: SignatureChecker,
) -> None:
    """A batch given up half-way (its transaction failed for another reason) leaves its
    answers in the pipe; the next batch, which holds a forgery, must not read them as its
    own."""
    good = _good(2 * MIN_BATCH)
    abandoned = checker.batch(len(good))
    assert abandoned is not None
    for check in good:
        abandoned.add(check)  # two chunks handed over, their answers never read
    assert not _verdict(checker, [_forged(good[0]), *good[1:MIN_BATCH]])


def test_the_worker_refuses_a_frame_it_cannot_read() -> None:
    checks = _good(2)
    body = encode(7, checks)
    assert decode(body) == (7, checks)
    for cut in (1, 5, 9, len(body) - 1):
        with pytest.raises(ValueError, match="truncated"):
            decode(body[:cut])


def test_small_batches_and_single_cpu_machines_check_inline() -> None:
    assert SignatureChecker(cpus=1).batch(10 * MIN_BATCH) is None
    assert not SignatureChecker(cpus=1).wait_ready(0)
    assert SignatureChecker(cpus=2).batch(MIN_BATCH - 1) is None
