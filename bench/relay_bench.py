"""Relay throughput and long-poll latency on loopback, SQLite and PostgreSQL side by side.

Run: python bench/relay_bench.py (about 5 minutes; --quick for a short run).  Every figure
of issue #10's targets is printed in one run:

(a) Accepted POST /v1/mailboxes/{mid}/items per second (256-byte items, 16 mailboxes,
    every answer a durable commit) against a bare ASGI hello-world app served with the
    same uvicorn settings (``relay.server.server_config``: uvloop, httptools, the
    relay's connection guard), at 1, 10 and 100 concurrent connections; the relay on
    SQLite, on SQLite with Prometheus metrics, and on PostgreSQL with 1 and 2 worker
    processes (``serve --workers N``).  Each cell is the median of ``--repeat`` runs that
    alternate between the servers, so background load affects them alike; the ratio is
    taken within each round.  The servers' CPU time per accepted POST is printed too.
(b) The floor under (a) at one connection: the latency of one durable SQLite commit
    (WAL, ``synchronous=FULL``, one thread, no HTTP) and of one bare 4 KiB write +
    ``fdatasync`` in the database's directory, before and after (a), against the
    hello-world app's time per request.  A POST is acknowledged after its commit's
    fsync, so one connection cannot exceed 1 / (fsync + a request's handling).
(c) Long-poll delivery: K clients (1, 10, 100, 1000) long-poll one mailbox; a poster
    appends an item; we time from the first byte of the POST's acknowledgement (and from
    the POST's sending) to the first byte of each waiting client's answer; p50 / p99.
    Arrival times are the kernel's receive timestamps of each socket (``SO_TIMESTAMPNS``),
    so this process reading a thousand answers one after another is not counted.
    On SQLite, on PostgreSQL with one relay process, and with two relay processes on one
    database (as two hosts: the clients spread over both, the poster on the first, so half
    of the answers are woken through LISTEN/NOTIFY).  Each round waits until the relays
    report every poll registered (their ``caucus_relay_long_polls_waiting`` gauge).

PostgreSQL is a throwaway server from the Debian ``postgresql`` package (as the tests
start it; ``fsync`` on), or --postgres-url; --no-postgres skips it.  ``--db-dir /dev/shm``
puts the SQLite database on tmpfs (fsync free, NOT durable): the relay's software cost
alone, for profiling.

All servers run as separate processes (`python -m relay serve` and this file with
`--serve-hello`); wrk (Debian package) generates load, or, without it, a multi-process
raw-socket generator written here (slower, so its figures are a lower bound).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TypeVar

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
        """CPU seconds (user + system) the process and its children (``--workers``) have
        used so far (Linux; 0.0 elsewhere)."""
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid, rest = stat.read_text().split(" ", 1)
            except OSError:
                continue
            fields = rest.rsplit(")", 1)[1].split()
            if int(pid) == self.proc.pid or int(fields[1]) == self.proc.pid:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

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


_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; not exported by 3.11
_STAMP = struct.Struct("qq")  # struct timespec


class _Poller:
    """One blocking HTTP/1.1 connection that reports when each answer reached this host.

    The time is the kernel's receive timestamp of the answer's first segment
    (``SO_TIMESTAMPNS``, the wall clock), not when this process got round to reading it:
    a thousand answers are read one after another here, and their reading must not count
    as the relay's delay.  On loopback the stamp is taken as the relay's ``send`` passes
    the packet to the receiving socket.
    """

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock = self._connect()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        return sock

    def send(self, data: bytes) -> None:
        """Send a request, first reconnecting if the relay closed the idle connection."""
        ready = _readable([self.sock])
        if ready and not self.sock.recv(1, socket.MSG_PEEK):
            self.sock.close()
            self.sock = self._connect()
        elif ready:
            raise RuntimeError("an answer arrived before its request")
        self.sock.sendall(data)

    def answer(self) -> tuple[int, bytes, float]:
        """(status, body, wall-clock seconds its first byte arrived) of the next answer."""
        buffer = bytearray()
        stamp = 0.0
        while True:
            data, ancillary, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(_STAMP.size))
            if not data:
                raise RuntimeError("the relay closed a long-poll connection")
            if not buffer:
                stamp = time.time()  # only if the kernel gave no timestamp
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                        seconds, nanoseconds = _STAMP.unpack(value[: _STAMP.size])
                        stamp = seconds + nanoseconds * 1e-9
            buffer += data
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                continue
            start = buffer.find(b"\r\ncontent-length: ", 0, end)  # our servers' spelling
            size = int(buffer[start + 18 : buffer.find(b"\r", start + 18)]) if start > 0 else 0
            if len(buffer) >= end + 4 + size:
                return int(buffer[9:12]), bytes(buffer[end + 4 : end + 4 + size]), stamp

    def close(self) -> None:
        self.sock.close()


def _readable(socks: list[socket.socket]) -> bool:
    """Whether any of ``socks`` has something to read (or was closed) right now."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def long_poll_latency(
    relays: list[Server], waiters: int, rounds: int
) -> tuple[list[float], list[float]]:
    """(from ack, from send) latencies in ms, one per waiter per round.

    ``waiters`` connections long-poll one mailbox, spread over ``relays`` (processes on
    one database); each round they all ask for the next item, we wait until the relays
    have registered every one of them (the sum of their ``caucus_relay_long_polls_waiting``
    gauges), post one item through the first relay and time each waiter's answer from the
    POST's acknowledgement, both by the kernel's receive timestamps (``_Poller``), so this
    process's own pace does not count.  A waiter asks again only in the next round, so
    answers do not compete with new requests.
    """
    relay = relays[0]
    ((path, auth),) = make_mailboxes(relay, 1)
    request_head = f"Host: bench\r\nAuthorization: {auth}\r\n\r\n".encode()
    conns = [_Poller(relays[i % len(relays)].host, relays[i % len(relays)].port)
             for i in range(waiters)]  # fmt: skip
    poster = _Poller(relay.host, relay.port)
    post = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {auth}\r\n"
        f"Content-Length: {len(ITEM)}\r\n\r\n"
    ).encode() + ITEM
    from_ack: list[float] = []
    from_send: list[float] = []
    try:
        for seq in range(1, rounds + 1):
            line = f"GET {path}?after={seq - 1}&wait=30 HTTP/1.1\r\n".encode()
            for waiter in conns:
                waiter.send(line + request_head)
            _registered([r.metrics_url for r in relays], waiters)
            if _readable([c.sock for c in conns]):
                raise RuntimeError("a long-poll answered before the post")
            sent = time.time()
            poster.send(post)
            status, _, acked = poster.answer()
            if status != 200:
                raise RuntimeError(f"post answered {status}")
            for waiter in conns:
                status, body, at = waiter.answer()
                if status != 200 or int.from_bytes(body[:8], "big") != seq:
                    raise RuntimeError(f"a long-poll answered {status} without item {seq}")
                from_ack.append((at - acked) * 1000)
                from_send.append((at - sent) * 1000)
    finally:
        for waiter in [*conns, poster]:
            waiter.close()
    return from_ack, from_send


def _registered(metrics_urls: list[str | None], waiters: int) -> None:
    """Until the relays have ``waiters`` long-polls registered (bounded)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        total = 0.0
        for url in metrics_urls:
            if url is None:
                raise RuntimeError("long-poll runs need relays serving metrics")
            with urllib.request.urlopen(url, timeout=10) as answer:
                body = answer.read()
            match = re.search(rb"\ncaucus_relay_long_polls_waiting ([\d.]+)", body)
            total += float(match.group(1)) if match else 0.0
        if total >= waiters:
            return
        time.sleep(0.005)
    raise RuntimeError("the long-polls were not all registered within 30 s")


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


def fsync_latency(folder: Path, rounds: int = 200) -> tuple[float, float, float]:
    """(mean, p50, p90) seconds of one 4 KiB ``pwrite`` + ``fdatasync`` in ``folder``:
    what the disk charges for durability, below SQLite."""
    path = folder / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            os.pwrite(fd, b"\0" * 4096, 0)
            os.fdatasync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return statistics.mean(times), pct(times, 0.5), pct(times, 0.9)


def _ms(times: tuple[float, ...]) -> str:
    return " / ".join(f"{t * 1e3:.2f}" for t in times)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- main


def relay_argv(db: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "relay", "serve", "--db", db, "--port", "0",
            "--log-level", "warning", *OPEN_LIMITS, *extra]  # fmt: skip


class Target:
    """A server under load: its wrk script and mailboxes."""

    def __init__(self, name: str, server: Server, folder: Path, hello: bool = False) -> None:
        self.name = name
        self.server = server
        self.script = folder / f"{name.replace(' ', '_')}.lua"
        if hello:
            self.targets = [("/items", "Bearer x")] * MAILBOXES
        else:
            self.targets = make_mailboxes(server, MAILBOXES)
        _lua(self.targets, self.script)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-hello", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of throughput runs")
    parser.add_argument("--rounds", type=int, default=10, help="long-poll rounds per K")
    parser.add_argument("--quick", action="store_true", help="1 s runs, 1 round, 3 polls")
    parser.add_argument("--no-wrk", action="store_true", help="use the raw-socket generator")
    parser.add_argument("--db-dir", help="directory for the SQLite databases (default: temp)")
    parser.add_argument("--no-latency", action="store_true", help="skip (c)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--postgres-url", help="use this database instead of a throwaway one")
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello()
        return 0
    if args.quick:
        args.seconds, args.repeat, args.rounds = 1.0, 1, 3
    from relay.connections import raise_open_files_limit

    raise_open_files_limit()  # 1,000 long-polls and the load generator's sockets
    use_wrk = shutil.which("wrk") is not None and not args.no_wrk
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=args.db_dir)))
        pg_url = None if args.no_postgres else _postgres(args, stack)

        def start(name: str, argv: list[str], marker: str, hello: bool = False) -> Target:
            server = Server(argv, marker)
            stack.callback(server.stop)
            return Target(name, server, tmp, hello)

        listening = "caucus-relay listening on"
        hello = start("hello", [sys.executable, __file__, "--serve-hello"], "hello listening on",
                      hello=True)  # fmt: skip
        metrics = ("--metrics", "--metrics-port", "0")  # (c) waits on the waiting gauge
        relays = [
            start("sqlite", relay_argv(f"{tmp}/bench.db"), listening),
            start("sqlite+metrics", relay_argv(f"{tmp}/metered.db", *metrics), listening),
        ]
        if pg_url is not None:
            relays.append(start("pg 1 worker", relay_argv(pg_url, *metrics), listening))
            relays.append(start("pg 2 workers", relay_argv(pg_url, "--workers", "2"), listening))
        floor_before = commit_latency(tmp), fsync_latency(tmp)
        hello_rates = throughput_table(hello, relays, args, use_wrk)
        floor_after = commit_latency(tmp), fsync_latency(tmp)
        print_floor(floor_before, floor_after, hello_rates)
        if not args.no_latency:
            columns = [(r.name, [r.server]) for r in relays if r.server.metrics_url]
            if pg_url is not None:  # two processes, as two hosts: each counts its waiters
                second = start("pg 2nd process", relay_argv(pg_url, *metrics), listening)
                first = next(r for r in relays if r.name == "pg 1 worker")
                columns.append(("pg 2 processes", [first.server, second.server]))
            latency_table(columns, args.rounds)
    return 0


def _postgres(args: argparse.Namespace, stack: contextlib.ExitStack) -> str | None:
    if args.postgres_url:
        return str(args.postgres_url)
    from tests.relay.pg_server import find_bindir, start_server

    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL is not installed (apt-get install postgresql): SQLite only")
        return None
    return str(stack.enter_context(start_server(bindir)).url())


def throughput_table(
    hello: Target, relays: list[Target], args: argparse.Namespace, use_wrk: bool
) -> dict[int, float]:
    """Print (a); return hello-world's median rate per connection count."""
    generator = "wrk -t1" if use_wrk else "raw-socket generator (lower bound)"
    print(
        f"(a) accepted POSTs/s, {len(ITEM)} B items, {args.seconds:g} s runs, {generator},"
        f" median of {args.repeat} alternating rounds (range of the ratio in brackets);"
        " CPU us per request"
    )
    print(f"    {'conns':>5} {'hello-world':>17}" + "".join(f" {r.name:>28}" for r in relays))
    hello_rates: dict[int, float] = {}
    for connections in CONCURRENCY:
        runs: dict[str, list[tuple[float, float]]] = {t.name: [] for t in [hello, *relays]}
        ratios: dict[str, list[float]] = {r.name: [] for r in relays}
        for _ in range(args.repeat):
            for target in [hello, *relays]:
                runs[target.name].append(
                    throughput(target.server, target.script, target.targets, connections,
                               args.seconds, use_wrk)
                )  # fmt: skip
            for r in relays:
                ratios[r.name].append(runs[r.name][-1][0] / runs["hello"][-1][0])
        base = statistics.median(rate for rate, _ in runs["hello"])
        base_cpu = statistics.median(cpu for _, cpu in runs["hello"])
        hello_rates[connections] = base
        line = f"    {connections:>5} {base:>8.0f} {base_cpu:>4.0f} us"
        for r in relays:
            rate = statistics.median(rate for rate, _ in runs[r.name])
            cpu = statistics.median(cpu for _, cpu in runs[r.name])
            ratio = ratios[r.name]
            spread = f"({min(ratio):.0%}-{max(ratio):.0%})" if len(ratio) > 1 else ""
            cell = f"{rate:.0f} {statistics.median(ratio):.0%}{spread} {cpu:.0f}us"
            line += f" {cell:>28}"
        print(line, flush=True)
    return hello_rates


def print_floor(
    before: tuple[tuple[float, float, float], tuple[float, float, float]],
    after: tuple[tuple[float, float, float], tuple[float, float, float]],
    hello_rates: dict[int, float],
) -> None:
    """Print (b): the fsync floor, and what it allows at each connection count."""
    (commit_b, fsync_b), (commit_a, fsync_a) = before, after
    fsync_s = min(fsync_b[1], fsync_a[1])  # the kinder p50
    commit_s = min(commit_b[1], commit_a[1])
    hello_us = 1e6 / hello_rates[1]
    print(
        "(b) the floor, ms (mean / p50 / p90), before and after (a):\n"
        f"    durable SQLite commit {_ms(commit_b)}, then {_ms(commit_a)}\n"
        f"    bare 4 KiB write + fdatasync {_ms(fsync_b)}, then {_ms(fsync_a)}\n"
        f"    hello-world takes {hello_us:.0f} us per request at 1 connection; 50 % of it"
        f" leaves {2 * hello_us:.0f} us per POST, the fdatasync alone {fsync_s * 1e6:.0f} us,"
        f" one durable SQLite commit {commit_s * 1e6:.0f} us (p50s, the kinder of the two).",
        flush=True,
    )
    for connections, base in hello_rates.items():
        # every POST waits for one commit; at best all N connections share each one
        extra = hello_us * 1e-6 if connections == 1 else 0.0
        by_fsync = connections / (fsync_s + extra)
        by_commit = connections / (commit_s + extra)
        print(
            f"    at most, at {connections} connection(s), with one flush per acknowledgement:"
            f" {by_commit:.0f} POSTs/s = {by_commit / base:.0%} of hello-world by the durable"
            f" SQLite commit, {by_fsync:.0f} = {by_fsync / base:.0%} by the bare fdatasync",
            flush=True,
        )


def latency_table(columns: list[tuple[str, list[Server]]], rounds: int) -> None:
    print(
        "(c) long-poll delivery, ms, p50 / p99 from the POST's acknowledgement"
        " [from its sending]; K clients on one mailbox"
    )
    print(f"    {'K':>5}" + "".join(f" {name:>30}" for name, _ in columns))
    for waiters in WAITERS:
        line = f"    {waiters:>5}"
        for _, servers in columns:
            count = rounds if waiters < 1000 else max(3, rounds // 2)
            from_ack, from_send = long_poll_latency(servers, waiters, count)
            cell = (
                f"{pct(from_ack, 0.5):.1f} / {pct(from_ack, 0.99):.1f}"
                f" [{pct(from_send, 0.5):.1f} / {pct(from_send, 0.99):.1f}]"
            )
            line += f" {cell:>30}"
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
