"""Several relay processes on one PostgreSQL database, over real sockets.

Two ``caucus-relay serve`` processes (as on two hosts behind a load balancer), and one
``serve --workers 2`` (one socket, two worker processes).  A ``kill -9`` of one process
under load must lose no acknowledged item, and a long-poll on one process must be woken by
a post through the other.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from crypto.relay_auth import b64url_decode, b64url_encode, bearer_header
from crypto.relay_work import WorkChallenge, WorkKind, solve_work, work_header
from relay.codec import decode_frames
from tests.relay.conftest import Db, new_id
from tests.relay.test_socket import RelayProcess, new_mailbox

pytestmark = [pytest.mark.socket, pytest.mark.slow, pytest.mark.timeout(180)]


def _url(db: Db) -> str:
    assert db.url is not None
    return db.url


class Load:
    """Threads posting numbered items through given relay URLs until stopped."""

    def __init__(self, path: str, cap: bytes, urls: list[str]) -> None:
        self.path = path
        self.headers = {"Authorization": bearer_header(cap)}
        self.acked: dict[int, bytes] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, args=(n, url), daemon=True)
            for n, url in enumerate(urls)
        ]
        for thread in self.threads:
            thread.start()

    def _send(self, worker: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            for n in range(1_000_000):
                if self.stopped.is_set():
                    return
                item = b"sender %d item %d " % (worker, n) + os.urandom(8).hex().encode()
                try:
                    response = http.post(self.path + "/items", content=item, headers=self.headers)
                except httpx.HTTPError:  # its process died: retry, as a client would
                    self.stopped.wait(0.05)  # (back off rather than spin on a closed port)
                    continue
                if response.status_code == 200:
                    with self.lock:
                        self.acked[response.json()["seq"]] = item

    def wait_for(self, count: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.acked) >= count, len(self.acked)

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(30)


def read_all(url: str, path: str, cap: bytes) -> dict[int, bytes]:
    stored: dict[int, bytes] = {}
    headers = {"Authorization": bearer_header(cap)}
    with httpx.Client(base_url=url, timeout=10) as http:
        after = 0
        while True:
            response = http.get(path + "/items", params={"after": after}, headers=headers)
            assert response.status_code == 200
            frames = decode_frames(response.content)
            if not frames:
                return stored
            stored.update(frames)
            after = frames[-1][0]


def check_nothing_acknowledged_was_lost(load: Load, stored: dict[int, bytes]) -> None:
    for seq, item in load.acked.items():
        assert stored.get(seq) == item, seq
    assert sorted(stored) == list(range(1, len(stored) + 1))  # no holes
    assert len(set(stored.values())) == len(stored)  # nothing stored twice


def wait_until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


def long_polls_waiting(metrics_url: str) -> float:
    """The ``caucus_relay_long_polls_waiting`` gauge of a relay started with --metrics."""
    for line in httpx.get(metrics_url, timeout=10).text.splitlines():
        if line.startswith("caucus_relay_long_polls_waiting "):
            return float(line.split()[1])
    raise AssertionError("no long-poll gauge in the metrics")


def stop(process: RelayProcess) -> None:
    if process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait(20)


def test_long_poll_on_one_process_woken_by_a_post_on_the_other(pg_db: Db) -> None:
    first = RelayProcess(_url(pg_db), "--metrics", "--metrics-port", "0")
    second = RelayProcess(_url(pg_db))
    try:
        (metrics_url,) = [line.split()[-1] for line in first.lines if " metrics on " in line]
        with httpx.Client(base_url=first.url, timeout=40) as http:
            path, cap = new_mailbox(http)
            headers = {"Authorization": bearer_header(cap)}
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(
                    http.get, path + "/items", params={"wait": 30}, headers=headers
                )
                # post only once the poll waits (registered for wake-ups), as its metrics say
                wait_until(lambda: long_polls_waiting(metrics_url) == 1)
                with httpx.Client(base_url=second.url, timeout=10) as other:
                    posted = other.post(path + "/items", content=b"via second", headers=headers)
                assert posted.json() == {"seq": 1}
                # without a wake-up across processes this answers empty after 30 s
                response = waiting.result(25)
        assert decode_frames(response.content) == [(1, b"via second")]
    finally:
        stop(first)
        stop(second)


def test_kill_9_of_one_of_two_relays_loses_no_acknowledged_item(pg_db: Db) -> None:
    """Every item either relay acknowledged is stored once, at its seq, after a SIGKILL."""
    first = RelayProcess(_url(pg_db))
    second = RelayProcess(_url(pg_db))
    try:
        with httpx.Client(base_url=first.url, timeout=10) as http:
            path, cap = new_mailbox(http)
        load = Load(path, cap, [first.url, second.url] * 4)
        load.wait_for(400)
        first.proc.send_signal(signal.SIGKILL)  # mid-load, no chance to finish anything
        first.proc.wait(10)
        survived = len(load.acked)
        load.wait_for(survived + 100)  # the other relay keeps acknowledging
        load.stop()
        stored = read_all(second.url, path, cap)
        check_nothing_acknowledged_was_lost(load, stored)
        with httpx.Client(base_url=second.url, timeout=10) as http:
            response = http.post(path + "/items", content=b"after", headers=load.headers)
            assert response.json() == {"seq": len(stored) + 1}
    finally:
        stop(first)
        stop(second)


def mailbox_body() -> dict[str, str]:
    return {"cap_hash": b64url_encode(os.urandom(32)), "head": b64url_encode(bytes(32))}


def _worker_pids(process: RelayProcess) -> list[int]:
    prefix = "caucus-relay worker "
    return [int(line.removeprefix(prefix)) for line in process.lines if line.startswith(prefix)]


def test_workers_share_a_socket_and_a_killed_worker_loses_nothing(pg_db: Db) -> None:
    relay = RelayProcess(_url(pg_db), "--workers", "2")
    try:
        pids = _worker_pids(relay)
        assert len(pids) == 2
        with httpx.Client(base_url=relay.url, timeout=10) as http:
            path, cap = new_mailbox(http)
        load = Load(path, cap, [relay.url] * 8)
        load.wait_for(400)
        os.kill(pids[0], signal.SIGKILL)
        survived = len(load.acked)
        load.wait_for(survived + 100)  # the other worker (and a replacement) keep serving
        wait_until(lambda: len(_worker_pids(relay)) == 3)  # the supervisor replaced it
        load.stop()
        check_nothing_acknowledged_was_lost(load, read_all(relay.url, path, cap))
        assert relay.stop() == 0  # SIGTERM stops the workers and the supervisor
        wait_until(lambda: not any(_alive(pid) for pid in _worker_pids(relay)))
    finally:
        stop(relay)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_need_postgresql(tmp_path: os.PathLike[str]) -> None:
    from relay.__main__ import main

    assert main(["serve", "--db", os.path.join(tmp_path, "r.db"), "--workers", "2"]) == 2


def test_workers_accept_each_others_proof_of_work(pg_db: Db) -> None:
    """Workers share one work key, so a stamp solved for a challenge from one worker is
    accepted by whichever worker the next connection reaches."""
    relay = RelayProcess(
        _url(pg_db), "--workers", "2", "--creations-per-minute", "0.001", "--creation-burst", "1"
    )
    try:
        challenge = None
        for _ in range(10):  # spend the free creations of both workers
            with httpx.Client(base_url=relay.url, timeout=10) as http:
                answer = http.put(f"/v1/mailboxes/{new_id()}", json=mailbox_body())
            if answer.status_code == 429:
                doc = answer.json()
                challenge = WorkChallenge(
                    doc["work_bits"], doc["work_bucket"], b64url_decode(doc["work_seed"])
                )
                break
            assert answer.status_code == 201
        assert challenge is not None
        statuses = []
        for _ in range(20):
            mid = new_id()
            stamp = solve_work(challenge, WorkKind.MAILBOX, bytes.fromhex(mid))
            assert stamp is not None
            with httpx.Client(base_url=relay.url, timeout=10) as http:  # a new connection
                answer = http.put(
                    f"/v1/mailboxes/{mid}",
                    json=mailbox_body(),
                    headers={"x-caucus-work": work_header(stamp)},
                )
            statuses.append(answer.status_code)
        assert statuses == [201] * 20
    finally:
        stop(relay)
