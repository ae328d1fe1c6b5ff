"""Relay throughput and long-poll latency on loopback. Run: python bench/relay_bench.py (~2 min).

(a) Accepted POST /v1/mailboxes/{mid}/items per second (256-byte items, 16 mailboxes,
    every answer a durable commit) against a bare ASGI hello-world app served with the
    same uvicorn settings, at 1, 10 and 100 concurrent connections.  Runs alternate
    between the servers so background load affects them alike; the servers' CPU time
    per accepted POST is printed too (steadier than rates on a shared machine).
(b) The floor under (a): the latency of one durable SQLite commit (WAL, synchronous=FULL,
    one thread, no HTTP) in the database's directory, before and after (a).  Every
    acknowledged POST waits for one commit (shared by the writes of one group commit), so
    at one connection the relay cannot exceed 1 / that latency.
(c) Long-poll delivery latency: K clients (1, 10, 100) wait on one mailbox; a poster
    appends an item; we time from the POST's acknowledgement (and from its sending) to
    each waiting client having the item.

(d) With --postgres: (a) and (c) on PostgreSQL instead (a throwaway server from the Debian
    ``postgresql`` package, as the tests start it, or --postgres-url), with 1 and 2 relay
    worker processes (``serve --workers N``); with 2 workers the waiting clients and the
    poster land on either process, so part of (c) is delivered through LISTEN/NOTIFY.

The relay runs twice, without and with Prometheus metrics (``--metrics``), to show what
metrics cost.  ``--db-dir /dev/shm`` puts the database on tmpfs (fsync free, NOT durable):
the relay's software overhead alone, for profiling.

All servers run as separate processes (`python -m relay serve` and this file with
`--serve-hello`); wrk (Debian package) generates load, or, without it, a multi-process
raw-socket generator written here (slower, so its figures are a lower bound).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crypto.key_schedule import cap_hash  # noqa: E402
from crypto.relay_auth import b64url_encode, bearer_header  # noqa: E402

ITEM = b"x" * 256
MAILBOXES = 16
CONCURRENCY = (1, 10, 100)
WAITERS = (1, 10, 100, 1000)
T = TypeVar("T")
OPEN_LIMITS = [
    "--rate", "1e9", "--burst", "1e9", "--read-rate", "1e9", "--read-burst", "1e9",
    "--creations-per-minute", "1e9", "--creation-burst", "1e9",
]  # fmt: skip


# ---------------------------------------------------------------- the baseline app


async def hello_app(scope, receive, send):  # type: ignore[no-untyped-def]
    """Bare ASGI: drain the body, answer a small JSON.  Handles lifespan like the relay."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"9")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"seq":1}'})


def serve_hello() -> None:
    """Serve ``hello_app`` with exactly the relay's uvicorn settings."""
    import uvicorn

    from relay.config import RelayConfig
    from relay.server import bind_socket, display_url, server_config

    sock = bind_socket("127.0.0.1", 0)
    config = server_config(hello_app, RelayConfig(db_path=Path("unused.db")))
    server = uvicorn.Server(config)
    original_startup = server.startup

    async def startup(sockets=None):  # type: ignore[no-untyped-def]
        await original_startup(sockets=sockets)
        print(f"hello listening on {display_url(sock)}", flush=True)

    server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])


# ---------------------------------------------------------------- processes


class Server:
    """A server subprocess and the URL it printed."""

    def __init__(self, argv: list[str], marker: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        self.metrics_url: str | None = None
        for line in self.proc.stdout:
            if " metrics on " in line:
                self.metrics_url = line.split()[-1]
            if marker in line:
                self.url = line.split()[-1]
                break
        else:
            raise RuntimeError(f"server did not start: {argv}")
        host, port = self.url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the process has used so far (Linux; 0.0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- raw HTTP/1.1 client


class Conn:
    """One keep-alive HTTP/1.1 connection; just enough parsing for our own servers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def response(self) -> tuple[int, bytes, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        body = await self.reader.readexactly(int(match.group(1))) if match else b""
        return status, head, body

    def close(self) -> None:
        self.writer.close()


def _http_json(host: str, port: int, method: str, path: str, body: bytes) -> int:
    async def go() -> int:
        conn = await Conn.open(host, port)
        conn.send(method, path, {"Content-Type": "application/json"}, body)
        status, _, _ = await conn.response()
        conn.close()
        return status

    return asyncio.run(go())


def make_mailboxes(relay: Server, count: int) -> list[tuple[str, str]]:
    """(items path, Authorization value) for ``count`` fresh mailboxes."""
    boxes = []
    for _ in range(count):
        mid, cap = os.urandom(16).hex(), os.urandom(32)
        body = (
            f'{{"cap_hash":"{b64url_encode(cap_hash(cap))}","head":"{b64url_encode(bytes(32))}"}}'
        ).encode()
        status = _http_json(relay.host, relay.port, "PUT", f"/v1/mailboxes/{mid}", body)
        if status != 201:
            raise RuntimeError(f"mailbox creation answered {status}")
        boxes.append((f"/v1/mailboxes/{mid}/items", bearer_header(cap)))
    return boxes


# ---------------------------------------------------------------- (a) throughput


def _lua(targets: list[tuple[str, str]], path: Path) -> None:
    paths = ", ".join(f'"{p}"' for p, _ in targets)
    auths = ", ".join(f'"{a}"' for _, a in targets)
    path.write_text(
        f"local paths = {{{paths}}}\n"
        f"local auths = {{{auths}}}\n"
        f'local body = string.rep("x", {len(ITEM)})\n'
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("POST", paths[i], {["Authorization"] = auths[i],\n'
        '    ["Content-Type"] = "application/octet-stream"}, body)\n'
        "end\n"
    )


def run_wrk(server: Server, script: Path, connections: int, seconds: float) -> float:
    """Accepted (2xx) requests per second measured by wrk."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), server.url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if total is None:
        raise RuntimeError("unexpected wrk output:\n" + out)
    count = int(total.group(1))
    duration = float(total.group(2)) * {"s": 1.0, "ms": 1e-3, "m": 60.0}[total.group(3)]
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if errors:
        print(f"    wrk: {errors.group(0)}")
    return (count - (int(failed.group(1)) if failed else 0)) / duration


def throughput(
    server: Server,
    script: Path,
    targets: list[tuple[str, str]],
    connections: int,
    seconds: float,
    use_wrk: bool,
) -> tuple[float, float]:
    """(accepted POSTs/s, the server's CPU microseconds per accepted POST)."""
    before = server.cpu_s()
    if use_wrk:
        rate = run_wrk(server, script, connections, seconds)
    else:
        rate = run_raw(server, targets, connections, seconds)
    return rate, (server.cpu_s() - before) / max(1.0, rate * seconds) * 1e6


async def _closed_loop(
    host: str, port: int, targets: list[tuple[str, str]], connections: int, seconds: float
) -> int:
    stop = time.monotonic() + seconds
    accepted = 0

    async def one(offset: int) -> None:
        nonlocal accepted
        conn = await Conn.open(host, port)
        i = offset
        while time.monotonic() < stop:
            path, auth = targets[i % len(targets)]
            i += 1
            conn.send("POST", path, {"Authorization": auth}, ITEM)
            status, _, _ = await conn.response()
            accepted += 200 <= status < 300
        conn.close()

    await asyncio.gather(*(one(n) for n in range(connections)))
    return accepted


def _load_process(args: tuple[str, int, list[tuple[str, str]], int, float]) -> int:
    return asyncio.run(_closed_loop(*args))


def run_raw(
    server: Server, targets: list[tuple[str, str]], connections: int, seconds: float
) -> float:
    """Fallback generator: up to 2 processes of asyncio raw sockets."""
    procs = min(2, connections)
    shares = [connections // procs + (i < connections % procs) for i in range(procs)]
    jobs = [(server.host, server.port, targets, share, seconds) for share in shares]
    with multiprocessing.Pool(procs) as pool:
        return sum(pool.map(_load_process, jobs)) / seconds


# ---------------------------------------------------------------- (c) long-poll latency


class _Waiter(asyncio.Protocol):
    """One long-polling connection; records when each answer's first byte arrived."""

    def __init__(self, answered: Callable[[_Waiter, int, bytes, float], None]) -> None:
        self.answered = answered
        self.buffer = bytearray()
        self.first_byte = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if not self.buffer:
            self.first_byte = time.perf_counter()
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        size = int(match.group(1)) if match else 0
        if len(self.buffer) < end + 4 + size:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + size])
        del self.buffer[: end + 4 + size]
        self.answered(self, int(head[9:12]), body, self.first_byte)


async def long_poll_latency(
    relay: Server, waiters: int, rounds: int, metrics_url: str | None = None
) -> tuple[list[float], list[float]]:
    """(from ack, from send) latencies in ms, one per waiter per round.

    ``waiters`` connections long-poll one mailbox; each round they all ask for the next
    item, we wait until the relay has registered every one of them (its
    ``caucus_relay_long_polls_waiting`` gauge, when ``metrics_url`` is given; otherwise a
    settling pause), post one item and time each waiter's answer from the POST's
    acknowledgement.  A waiter asks again only in the next round, so answers do not
    compete with new requests.
    """
    ((path, auth),) = make_mailboxes_async_safe(relay)
    loop = asyncio.get_running_loop()
    request_head = f"Host: bench\r\nAuthorization: {auth}\r\n\r\n".encode()
    answers: dict[_Waiter, tuple[int, bytes, float]] = {}
    all_in = asyncio.Event()

    def answered(waiter: _Waiter, status: int, body: bytes, at: float) -> None:
        answers[waiter] = (status, body, at)
        if len(answers) == waiters:
            all_in.set()

    conns: list[_Waiter] = []
    for _ in range(waiters):
        _, protocol = await loop.create_connection(
            lambda: _Waiter(answered), relay.host, relay.port
        )
        conns.append(protocol)
    acks: list[tuple[int, float]] = []
    ack_in = asyncio.Event()

    def acknowledged(_: _Waiter, status: int, body: bytes, at: float) -> None:
        acks.append((status, at))
        ack_in.set()

    _, poster = await loop.create_connection(lambda: _Waiter(acknowledged), relay.host, relay.port)
    post = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {auth}\r\n"
        f"Content-Length: {len(ITEM)}\r\n\r\n"
    ).encode() + ITEM
    from_ack: list[float] = []
    from_send: list[float] = []
    for seq in range(1, rounds + 1):
        answers.clear()
        all_in.clear()
        line = f"GET {path}?after={seq - 1}&wait=30 HTTP/1.1\r\n".encode()
        for waiter in conns:
            assert waiter.transport is not None
            waiter.transport.write(line + request_head)
        await _registered(metrics_url, waiters)
        if answers:
            raise RuntimeError("a long-poll answered before the post")
        acks.clear()
        ack_in.clear()
        sent = time.perf_counter()
        assert poster.transport is not None
        poster.transport.write(post)
        await asyncio.wait_for(ack_in.wait(), 60)
        status, acked = acks[0]  # when the acknowledgement's first byte arrived
        if status != 200:
            raise RuntimeError(f"post answered {status}")
        await asyncio.wait_for(all_in.wait(), 60)
        for status, body, at in answers.values():
            if status != 200 or int.from_bytes(body[:8], "big") != seq:
                raise RuntimeError(f"a long-poll answered {status} without item {seq}")
            from_ack.append((at - acked) * 1000)
            from_send.append((at - sent) * 1000)
    for waiter in [*conns, poster]:
        if waiter.transport is not None:
            waiter.transport.close()
    return from_ack, from_send


async def _registered(metrics_url: str | None, waiters: int) -> None:
    """Until the relay has ``waiters`` long-polls registered (bounded), or a pause."""
    if metrics_url is None:
        await asyncio.sleep(0.2 + waiters * 0.0005)
        return
    host, port = metrics_url.removeprefix("http://").split("/")[0].split(":")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        conn = await Conn.open(host, int(port))
        conn.send("GET", "/metrics", {})
        _, _, body = await conn.response()
        conn.close()
        match = re.search(rb"\ncaucus_relay_long_polls_waiting ([\d.]+)", body)
        if match and float(match.group(1)) >= waiters:
            return
        await asyncio.sleep(0.005)
    raise RuntimeError("the long-polls were not all registered within 30 s")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when installed: the client's own cost counts in (c)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def make_mailboxes_async_safe(relay: Server) -> list[tuple[str, str]]:
    """Mailbox creation from inside a running loop (it uses its own loop in a thread)."""
    out: list[list[tuple[str, str]]] = []
    thread = threading.Thread(target=lambda: out.append(make_mailboxes(relay, 1)))
    thread.start()
    thread.join()
    return out[0]


def commit_latency(folder: Path, rounds: int = 200) -> tuple[float, float, float]:
    """(mean, p50, p90) seconds of one durable SQLite commit of a 256-byte row in ``folder``.

    The relay's own settings (``relay.schema.connect``: WAL, ``synchronous=FULL``), one
    thread, no HTTP: the floor under one connection's POSTs, whatever the relay's code does.
    """
    from relay.schema import connect

    path = folder / "floor.db"
    conn = connect(path)
    times = []
    try:
        conn.execute("CREATE TABLE t (x BLOB)")
        for _ in range(600):  # until the WAL has been checkpointed and is rewritten in place
            conn.execute("INSERT INTO t VALUES (?)", (ITEM,))
        for _ in range(rounds):
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (ITEM,))
            conn.execute("COMMIT")
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    return statistics.mean(times), pct(times, 0.5), pct(times, 0.9)


def _ms(times: tuple[float, ...]) -> str:
    return " / ".join(f"{t * 1e3:.2f}" for t in times)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-hello", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput run")
    parser.add_argument("--rounds", type=int, default=40, help="long-poll rounds per size")
    parser.add_argument("--no-wrk", action="store_true", help="use the raw-socket generator")
    parser.add_argument("--db-dir", help="directory for the relay database (default: a temp dir)")
    parser.add_argument("--no-latency", action="store_true", help="skip (c)")
    parser.add_argument("--postgres", action="store_true", help="(d): PostgreSQL figures only")
    parser.add_argument("--postgres-url", help="use this database instead of a throwaway one")
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello()
        return 0
    from relay.connections import raise_open_files_limit

    raise_open_files_limit()  # 1,000 long-polls and the load generator's sockets
    if args.postgres or args.postgres_url:
        return postgres_figures(args)

    use_wrk = shutil.which("wrk") is not None and not args.no_wrk
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        relay = Server(
            [sys.executable, "-m", "relay", "serve", "--db", f"{tmp}/bench.db", "--port", "0",
             "--log-level", "warning", *OPEN_LIMITS],
            "caucus-relay listening on",
        )  # fmt: skip
        metered = Server(
            [sys.executable, "-m", "relay", "serve", "--db", f"{tmp}/metered.db", "--port", "0",
             "--log-level", "warning", "--metrics", "--metrics-port", "0", *OPEN_LIMITS],
            "caucus-relay listening on",
        )  # fmt: skip
        hello = Server([sys.executable, __file__, "--serve-hello"], "hello listening on")
        try:
            before = commit_latency(Path(tmp))
            targets = make_mailboxes(relay, MAILBOXES)
            script = Path(tmp) / "post.lua"
            _lua(targets, script)
            metered_script = Path(tmp) / "metered.lua"
            metered_targets = make_mailboxes(metered, MAILBOXES)
            _lua(metered_targets, metered_script)
            hello_script = Path(tmp) / "hello.lua"
            _lua([("/items", a) for _, a in targets], hello_script)
            generator = "wrk -t1" if use_wrk else "raw-socket generator (lower bound)"
            print(
                f"(a) accepted POSTs/s, {len(ITEM)} B items, {args.seconds:g} s runs, {generator}"
            )
            print(
                f"    {'connections':>11} {'hello-world':>12} {'relay':>10} {'relay/hello':>12}"
                f" {'relay+metrics':>14} {'/hello':>7}   CPU us/request hello, relay"
            )
            bases: dict[int, float] = {}
            for connections in CONCURRENCY:
                base, base_cpu = throughput(
                    hello, hello_script, [("/items", "x")], connections, args.seconds, use_wrk
                )
                ours, ours_cpu = throughput(
                    relay, script, targets, connections, args.seconds, use_wrk
                )
                with_metrics, _ = throughput(
                    metered, metered_script, metered_targets, connections, args.seconds, use_wrk
                )
                bases[connections] = base
                print(
                    f"    {connections:>11} {base:>12.0f} {ours:>10.0f} {ours / base:>11.0%}"
                    f" {with_metrics:>14.0f} {with_metrics / base:>6.0%}"
                    f"   {base_cpu:>5.0f}, {ours_cpu:>4.0f}"
                )
            after = commit_latency(Path(tmp))
            print(
                "(b) one durable SQLite commit in the database's directory, ms (mean / p50 / p90):"
                f" before (a) {_ms(before)}, after (a) {_ms(after)}\n"
                "    one connection waits for one commit per POST: at most "
                f"{1 / before[0]:.0f} to {1 / after[0]:.0f} POSTs/s, {1 / before[0] / bases[1]:.0%}"
                f" to {1 / after[0] / bases[1]:.0%} of hello-world at 1 connection"
            )
            if args.no_latency:
                return 0

            print("(c) long-poll delivery latency, ms (p50 / p99), one mailbox, K waiting clients")
            print(f"    {'K':>4} {'from POST ack':>18} {'from POST send':>18}")
            for waiters in WAITERS:
                rounds = max(10, args.rounds // (1 if waiters < 100 else 2))
                from_ack, from_send = run_loop(
                    long_poll_latency(metered, waiters, rounds, metered.metrics_url)
                )
                print(
                    f"    {waiters:>4} {pct(from_ack, 0.5):>8.2f} / {pct(from_ack, 0.99):>6.2f}"
                    f" {pct(from_send, 0.5):>8.2f} / {pct(from_send, 0.99):>6.2f}"
                    f"   (n={len(from_ack)}, mean from ack {statistics.mean(from_ack):.2f})"
                )
        finally:
            relay.stop()
            metered.stop()
            hello.stop()
    return 0


# ---------------------------------------------------------------- (d) PostgreSQL


def postgres_figures(args: argparse.Namespace) -> int:
    """(a) and (c) on PostgreSQL with 1 and 2 worker processes."""
    import contextlib

    from tests.relay.pg_server import find_bindir, start_server

    with contextlib.ExitStack() as stack:
        url = args.postgres_url
        if url is None:
            bindir = find_bindir()
            if bindir is None:
                print("PostgreSQL is not installed (apt-get install postgresql)")
                return 1
            url = stack.enter_context(start_server(bindir)).url()
        use_wrk = shutil.which("wrk") is not None and not args.no_wrk
        generator = "wrk -t1" if use_wrk else "raw-socket generator (lower bound)"
        print(f"(d) PostgreSQL: accepted POSTs/s ({generator}) and long-poll latency (ms)")
        head = f"    {'workers':>7} {'conns':>5} {'POSTs/s':>9}   {'K':>3}"
        print(f"{head} {'p50 / p99 from ack':>20}")
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                relay = Server(
                    [sys.executable, "-m", "relay", "serve", "--db", url, "--port", "0",
                     "--workers", str(workers), "--log-level", "warning", *OPEN_LIMITS],
                    "caucus-relay listening on",
                )  # fmt: skip
                try:
                    targets = make_mailboxes(relay, MAILBOXES)
                    script = Path(tmp) / "post.lua"
                    _lua(targets, script)
                    for connections, waiters in ((10, 10), (100, 100)):
                        if use_wrk:
                            rate = run_wrk(relay, script, connections, args.seconds)
                        else:
                            rate = run_raw(relay, targets, connections, args.seconds)
                        rounds = max(10, args.rounds // 2)
                        from_ack, _ = run_loop(long_poll_latency(relay, waiters, rounds))
                        print(
                            f"    {workers:>7} {connections:>5} {rate:>9.0f}   {waiters:>3}"
                            f" {pct(from_ack, 0.5):>9.2f} / {pct(from_ack, 0.99):>7.2f}"
                        )
                finally:
                    relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
