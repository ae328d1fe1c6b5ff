"""The relay over a real loopback socket: the CLI process, kill -9 durability, embedding."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode, bearer_header
from relay.codec import decode_frames
from relay.embedded import EmbeddedRelay

pytestmark = [pytest.mark.socket, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]
OPEN = [
    "--rate",
    "1e6",
    "--burst",
    "1e6",
    "--read-rate",
    "1e6",
    "--read-burst",
    "1e6",
    "--creations-per-minute",
    "1e6",
    "--creation-burst",
    "1e6",
]


class RelayProcess:
    """``python -m relay serve --port 0`` in a subprocess; ``url`` parsed from its stdout.

    ``db`` is a SQLite file or a ``postgresql://`` URL; ``lines`` collects what it prints.
    """

    def __init__(self, db: Path | str, *extra: str) -> None:
        self.lines: list[str] = []
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relay", "serve", "--db", str(db), "--port", "0", *OPEN, *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = self._await_listening()

    def _await_listening(self) -> str:
        found: list[str] = []
        listening = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.strip())
                if line.startswith("caucus-relay listening on "):
                    found.append(line.split()[-1])
                    listening.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        listening.wait(30)
        if not found:
            self.proc.kill()
            raise RuntimeError(
                "relay did not start: " + (self.proc.stderr.read() if self.proc.stderr else "")
            )
        return found[0]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


@pytest.fixture
def relay_process(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    yield process
    if process.proc.poll() is None:
        process.proc.kill()
        process.proc.wait()


def new_mailbox(http: httpx.Client) -> tuple[str, bytes]:
    mid, cap = os.urandom(16).hex(), os.urandom(32)
    response = http.put(
        f"/v1/mailboxes/{mid}",
        json={"cap_hash": b64url_encode(cap_hash(cap)), "head": b64url_encode(bytes(32))},
    )
    assert response.status_code == 201
    return f"/v1/mailboxes/{mid}", cap


def test_cli_serves_and_stops_on_sigterm(relay_process: RelayProcess) -> None:
    assert relay_process.url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=relay_process.url, timeout=10) as http:
        assert http.get("/health").json()["status"] == "ok"
        path, cap = new_mailbox(http)
        headers = {"Authorization": bearer_header(cap)}
        assert http.post(path + "/items", content=b"over tcp", headers=headers).json() == {"seq": 1}
        got = http.get(path + "/items", headers=headers)
        assert decode_frames(got.content) == [(1, b"over tcp")]
    assert relay_process.stop() == 0  # SIGTERM: a clean exit
    stderr = relay_process.proc.stderr.read() if relay_process.proc.stderr else ""
    assert "/v1/" not in stderr and "127.0.0.1" not in stderr  # no paths or IPs logged


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition()`` until it holds (at most about 10 s)."""
    for _ in range(1000):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("the condition did not become true")


def test_long_poll_in_flight_does_not_hold_up_a_graceful_stop(tmp_path: Path) -> None:
    """The same uvicorn server and shutdown as the CLI's SIGTERM (relay/server.py), in this
    process so the test can see the long-poll is waiting before it stops the relay."""
    with (
        EmbeddedRelay(tmp_path / "embedded.db") as relay,
        httpx.Client(base_url=relay.url, timeout=30) as http,
    ):
        path, cap = new_mailbox(http)
        headers = {"Authorization": bearer_header(cap)}
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(http.get, path + "/items", params={"wait": 30}, headers=headers)
            wait_until(lambda: relay.app.relay.waiting == 1)
            relay.stop()
            # answered (empty) at the stop, long before its 30 s wait would end
            response = waiting.result(10)
    assert response.status_code == 200 and decode_frames(response.content) == []


def test_long_poll_over_socket(tmp_path: Path) -> None:
    with (
        EmbeddedRelay(tmp_path / "embedded.db") as relay,
        httpx.Client(base_url=relay.url, timeout=30) as http,
    ):
        path, cap = new_mailbox(http)
        headers = {"Authorization": bearer_header(cap)}
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(http.get, path + "/items", params={"wait": 20}, headers=headers)
            wait_until(lambda: relay.app.relay.waiting == 1)
            with httpx.Client(base_url=relay.url, timeout=10) as other:
                other.post(path + "/items", content=b"ping", headers=headers)
            response = waiting.result(15)
        assert decode_frames(response.content) == [(1, b"ping")]


def test_oversized_content_length_refused_before_the_body(relay_process: RelayProcess) -> None:
    host, port = relay_process.url.removeprefix("http://").split(":")
    with httpx.Client(base_url=relay_process.url, timeout=10) as http:
        path, cap = new_mailbox(http)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path}/items HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer_header(cap)}\r\n"
            f"Content-Length: {100 * 1024 * 1024}\r\n\r\n".encode()
        )
        answer = b""
        while b"too_large" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"too_large" in answer
    assert b"connection: close" in answer.lower()  # the client need not send the rest


def test_acknowledged_items_survive_kill_9(tmp_path: Path) -> None:
    """Every item that got a 200 is there, at the same seq, after SIGKILL and restart."""
    db = tmp_path / "relay.db"
    first = RelayProcess(db)
    with httpx.Client(base_url=first.url, timeout=10) as http:
        path, cap = new_mailbox(http)
    headers = {"Authorization": bearer_header(cap)}
    acked: dict[int, bytes] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        with httpx.Client(base_url=first.url, timeout=5) as http:
            for n in range(100_000):
                if stop.is_set():
                    return
                item = b"worker %d item %d " % (worker, n) + os.urandom(8).hex().encode()
                try:
                    response = http.post(path + "/items", content=item, headers=headers)
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    with lock:
                        acked[response.json()["seq"]] = item

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(acked) < 400 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.proc.send_signal(signal.SIGKILL)  # mid-load, no chance to flush anything
    first.proc.wait(10)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(acked) >= 50

    second = RelayProcess(db)
    try:
        stored: dict[int, bytes] = {}
        with httpx.Client(base_url=second.url, timeout=10) as http:
            after = 0
            while True:
                response = http.get(path + "/items", params={"after": after}, headers=headers)
                frames = decode_frames(response.content)
                if not frames:
                    break
                stored.update(frames)
                after = frames[-1][0]
            for seq, item in acked.items():
                assert stored.get(seq) == item, seq
            # nothing was stored twice and numbering has no holes
            assert sorted(stored) == list(range(1, len(stored) + 1))
            assert len(set(stored.values())) == len(stored)
            # and the relay keeps numbering after the last stored item
            response = http.post(path + "/items", content=b"after restart", headers=headers)
            assert response.json() == {"seq": len(stored) + 1}
    finally:
        second.stop()


def test_embedded_relay(tmp_path: Path) -> None:
    with EmbeddedRelay(tmp_path / "embedded.db") as relay:
        assert relay.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=relay.url, timeout=10) as http:
            assert http.get("/health").status_code == 200
            path, cap = new_mailbox(http)
            headers = {"Authorization": bearer_header(cap)}
            http.post(path + "/items", content=b"kept", headers=headers)
    # restart on the same file: the item is still there
    with (
        EmbeddedRelay(tmp_path / "embedded.db") as relay,
        httpx.Client(base_url=relay.url, timeout=10) as http,
    ):
        assert decode_frames(http.get(path + "/items", headers=headers).content) == [(1, b"kept")]


def test_client_disconnect_during_wait(tmp_path: Path) -> None:
    with EmbeddedRelay(tmp_path / "embedded.db") as relay:
        with httpx.Client(base_url=relay.url, timeout=10) as http:
            path, cap = new_mailbox(http)
        host, port = relay.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=10)
        request = (
            f"GET {path}/items?wait=30 HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {bearer_header(cap)}\r\n\r\n"
        )
        sock.sendall(request.encode())
        wait_until(lambda: relay.app.relay.waiting == 1)
        sock.close()
        wait_until(lambda: relay.app.relay.waiting == 0)
        with httpx.Client(base_url=relay.url, timeout=10) as http:
            headers = {"Authorization": bearer_header(cap)}
            assert http.post(path + "/items", content=b"fine", headers=headers).status_code == 200
