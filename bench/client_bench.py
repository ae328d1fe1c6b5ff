"""Client benchmark: catch-up of N group messages and the cost of opening one.

Run: ``.venv/bin/python bench/client_bench.py [--messages 10000]``

Prints (a) client open + verify + store messages/s next to raw PyNaCl
(XChaCha20-Poly1305 decrypt + Ed25519 verify) on the same payloads in the same process,
and (c) the wall time of a catch-up sync of N messages (fetch over a real loopback socket,
verify, decrypt, store in SQLCipher). Targets (issue #8): catch-up of 10,000 in under 1 s
on 2 cores; client at least 0.6 of the raw rate.

On a busy machine the raw rate itself moves by a factor of two within minutes, so it is
measured right before and right after the catch-up and the ratio is taken against their
mean; the catch-up is also given in units of that raw time ("x raw"), which compares
runs made under different loads.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nacl.bindings
import nacl.signing

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.engine import Engine  # noqa: E402
from app.core.profile import create_profile  # noqa: E402
from app.core.signature_checks import SignatureChecker  # noqa: E402
from app.core.store import groups  # noqa: E402
from crypto.content import ContentType, TextBody  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_relay(db: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relay",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--rate",
            "100000",
            "--burst",
            "100000",
            "--read-rate",
            "100000",
            "--read-burst",
            "100000",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening" in line:
            return proc
    raise RuntimeError("relay did not start")


def make(home: Path, name: str, url: str, signatures: SignatureChecker | None = None) -> Engine:
    db = create_profile(
        home / name,
        name=name,
        relay_url=url,
        passphrase="bench",
        rng=os.urandom,
        now=int(time.time() * 1000),
        cost="interactive",
        allow_weak=True,
    )
    return Engine(db, signatures=signatures)


async def fill(alice: Engine, group_id: bytes, count: int) -> None:
    """Seal and post ``count`` messages, in order, as Alice would send them."""
    session = alice.session(group_id)
    keys = session.keys
    assert keys is not None
    relay = alice.relay(session.relay_url)
    from crypto.message import seal_message

    chain = session.stored_send_chain(alice.db, alice.identity)
    prev = groups.last_sent(alice.db, group_id)  # as the outbox chains them (protocol 4.1)
    for i in range(count):
        body = TextBody(bytes(16), f"message {i}: " + "x" * 120).encode()
        sealed = seal_message(
            keys,
            chain,
            alice.identity,
            ContentType.TEXT,
            body,
            int(time.time() * 1000),
            session.state.head,
            prev,
            os.urandom,
        )
        chain, prev = sealed.chain, sealed.message_hash
        await relay.post_item(session.mailbox_id, keys.mailbox_cap, sealed.item)
    with alice.db.transaction():
        session.save_send_chain(alice.db, chain)
        groups.set_last_sent(alice.db, group_id, prev)


def warnings(engine: Engine) -> int:
    """Stored messages that carry a warning (a bench that seals right has none)."""
    row = engine.db.execute("SELECT count(*) FROM messages WHERE warning IS NOT NULL").fetchone()
    return int(row[0])


def raw_rate(items: list[bytes], count: int) -> float:
    """PyNaCl alone: one AEAD decrypt + one Ed25519 verify per message, same sizes."""
    key = os.urandom(32)
    signer = nacl.signing.SigningKey.generate()
    verify_key = signer.verify_key
    prepared = []
    for item in items[:count]:
        nonce = os.urandom(24)
        plaintext = item[: len(item) - 16 - 64]
        signature = signer.sign(plaintext).signature
        prepared.append(
            (
                nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
                    plaintext, b"ad", nonce, key
                ),
                nonce,
                signature,
            )
        )
    start = time.perf_counter()
    for ciphertext, nonce, signature in prepared:
        plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, b"ad", nonce, key
        )
        verify_key.verify(plaintext, signature)
    return len(prepared) / (time.perf_counter() - start)


async def main(count: int, profile: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        port = free_port()
        relay = start_relay(home / "relay.db", port)
        url = f"http://127.0.0.1:{port}"
        try:
            # Bob checks signatures as the app does (a worker process on a machine with
            # more than one CPU); Carol checks each one inline, for comparison.
            checker, inline = SignatureChecker(), SignatureChecker(cpus=1)
            alice = make(home, "alice", url)
            bob = make(home, "bob", url, checker)
            carol = make(home, "carol", url, inline)
            group_id = await alice.create_group("Bench")
            for joiner in (bob, carol):
                code = await alice.create_invite(group_id)
                await joiner.join(code)
                # Joining, then each member registering its ballot key, are commits: let
                # the group settle into its final epoch before filling it.
                for _ in range(3):
                    await alice.sync()
                    await bob.sync()
                    await carol.sync()
            t0 = time.perf_counter()
            await fill(alice, group_id, count)
            fill_s = time.perf_counter() - t0

            # Fetch the items once first, to time the network part alone and to give the
            # raw baseline the same payloads.
            session = bob.session(group_id)
            keys = session.keys
            assert keys is not None
            relay_client = bob.relay(url)
            items: list[bytes] = []
            t0 = time.perf_counter()
            cursor = session.cursor
            while True:
                result = await relay_client.fetch(session.mailbox_id, keys.mailbox_cap, cursor)
                if result.empty:
                    break
                items.extend(item for _, item in result.items)
                cursor = result.items[-1][0]
            fetch_s = time.perf_counter() - t0
            raw_before = raw_rate(items, count)

            profiler = cProfile.Profile() if profile else None
            t0 = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            report = await bob.sync()
            if profiler is not None:
                profiler.disable()
            catch_up = time.perf_counter() - t0
            if report.messages != count:
                raise SystemExit(f"expected {count} messages, got {report.messages}")
            raw_after = raw_rate(items, count)
            raw = (raw_before + raw_after) / 2
            client_rate = count / (catch_up - fetch_s)
            late = checker.late_checks
            t0 = time.perf_counter()
            inline_report = await carol.sync()
            inline_s = time.perf_counter() - t0
            if inline_report.messages != count:
                raise SystemExit(f"expected {count} messages, got {inline_report.messages}")
            warned = warnings(bob) + warnings(carol)
            if warned:
                raise SystemExit(f"{warned} messages were stored with a warning")
            for engine in (alice, bob, carol):
                await engine.close()
        finally:
            relay.send_signal(signal.SIGTERM)
            relay.wait(10)

    print(f"messages: {count}, item size {len(items[0])} bytes")
    print(f"setup: posted {count} messages in {fill_s:.2f} s ({count / fill_s:.0f}/s, sequential)")
    print(
        f"(c) catch-up sync (fetch + verify + decrypt + store): {catch_up:.2f} s "
        f"({count / catch_up:.0f} msg/s); target < 1 s for 10,000"
    )
    print(f"    of which fetching the {count} items alone: {fetch_s:.2f} s")
    print(
        f"    signatures checked by the worker process: {late} of {count}"
        " (the rest here, while it started)"
    )
    print(
        f"    the same catch-up checking every signature inline: {inline_s:.2f} s;"
        f" ratio {catch_up / inline_s:.2f}"
    )
    print(f"    = {catch_up * raw / count:.2f} x the raw time for the same {count} messages")
    print(f"(a) client open + verify + store: {client_rate:.0f} msg/s")
    print(
        f"    raw PyNaCl AEAD decrypt + Ed25519 verify: {raw:.0f} msg/s"
        f" (before {raw_before:.0f}, after {raw_after:.0f})"
    )
    print(f"    ratio client/raw: {client_rate / raw:.2f} (target >= 0.6)")
    if profiler is not None:
        print("\nwhere the catch-up's time goes (--profile; profiling slows it down):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--profile", action="store_true", help="print where the catch-up's time goes"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.profile))
