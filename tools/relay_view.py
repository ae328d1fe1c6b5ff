"""What the relay sees: run a real scenario through the real relay and print what it stored.

    python tools/relay_view.py [--markdown]

Three real headless clients (SQLCipher profiles, the relay app in-process through httpx's
ASGI transport, nothing mocked) create a group, admit each other by invite, send messages
of different lengths, run a ballot with two votes, publish documents of 10 KB and 1 MB,
and commit with 3, 5 and 40 members (the members past the third are added directly by
the organizer).  After each step the relay's own database is read: every item, blob and
chunk it stored, with what the relay can read of it (sizes, counts, header bytes).
``tests/core/test_relay_view.py`` runs the same scenario and asserts the properties;
docs/threat-model.md ("What the relay sees") holds the figures this prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from app.core.engine import Engine
from app.core.profile import create_profile
from crypto.ballot import BallotKind
from crypto.group_log import EntryKind, GroupState, MemberRecord, Role, add_body, remove_body
from crypto.identity import Identity
from relay.config import RelayConfig
from relay.http import RelayApp, create_app

__all__ = ["RelayView", "Stored", "main", "observe"]

RELAY_URL = "http://relay.test"
MESSAGE_LENGTHS = (1, 100, 500, 1500, 5000)
DOCUMENT_SIZES = (10_000, 10_240, 1_000_000)
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Stored:
    """One thing the relay stored during one step, as the relay can read it."""

    step: str
    place: str  # "group mailbox", "invite mailbox", "personal inbox" or "blob"
    size: int  # bytes of the item, or the blob's total
    header: str  # the bytes it can parse: version, type, epoch; or "" for opaque
    detail: str = ""  # sealed-box count of a commit, chunk sizes of a blob

    @property
    def first_two(self) -> str:
        return self.header.split(" epoch")[0]


@dataclass
class RelayView:
    """Everything stored, in order, plus the live engines for further checks."""

    stored: list[Stored] = field(default_factory=list)
    ballot_id: bytes = b""

    def of(self, step: str) -> list[Stored]:
        return [s for s in self.stored if s.step == step]

    def markdown(self) -> str:
        lines = [
            "| step | where | bytes | header the relay reads | also visible |",
            "|---|---|---|---|---|",
        ]
        for s in self.stored:
            lines.append(f"| {s.step} | {s.place} | {s.size:,} | {s.header} | {s.detail} |")
        return "\n".join(lines)


class _Snapshot:
    """The relay database's rows, to tell which ones a step added."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.items: set[tuple[int, int]] = set()
        self.blobs: set[int] = set()

    def new(self, step: str, group_mailbox: bytes | None) -> list[Stored]:
        conn = sqlite3.connect(self.db_path)
        try:
            items = conn.execute(
                "SELECT i.queue, i.seq, q.kind, q.qid, i.data FROM items i "
                "JOIN queues q ON q.id = i.queue ORDER BY i.rowid"
            ).fetchall()
            blobs = conn.execute("SELECT id, size, chunks FROM blobs ORDER BY id").fetchall()
            out: list[Stored] = []
            for queue, seq, kind, qid, data in items:
                if (queue, seq) in self.items:
                    continue
                self.items.add((queue, seq))
                out.append(_describe_item(step, kind, bytes(qid) == group_mailbox, bytes(data)))
            for blob, size, count in blobs:
                if blob in self.blobs:
                    continue
                self.blobs.add(blob)
                sizes = [
                    int(n)
                    for (n,) in conn.execute(
                        "SELECT length(data) FROM chunks WHERE blob = ? ORDER BY idx", (blob,)
                    )
                ]
                detail = f"declared size {size:,}, {count} chunk(s): " + " + ".join(
                    f"{n:,}" for n in sizes
                )
                out.append(Stored(step, "blob", sum(sizes), "", detail))
            return out
        finally:
            conn.close()


def _describe_item(step: str, kind: int, in_group: bool, data: bytes) -> Stored:
    if kind == 2:
        return Stored(step, "personal inbox", len(data), "", "a sealed box")
    if not in_group:
        return Stored(step, "invite mailbox", len(data), f"v{data[0]} type {data[1]}")
    version, item_type, epoch = struct.unpack_from(">BBQ", data)
    header = f"v{version} type {item_type} epoch {epoch}"
    detail = ""
    if item_type == 2:  # a commit: u32 ciphertext length at 34, then the sealed count
        (length,) = struct.unpack_from(">I", data, 34)
        (boxes,) = struct.unpack_from(">I", data, 38 + length)
        detail = f"{boxes} sealed boxes"
    return Stored(step, "group mailbox", len(data), header, detail)


def _engine(home: Path, name: str, transport: httpx.AsyncBaseTransport) -> Engine:
    db = create_profile(
        home / name,
        name=name,
        relay_url=RELAY_URL,
        passphrase=os.urandom(16).hex(),
        rng=os.urandom,
        now=int(time.time() * 1000),
        cost="interactive",
    )
    return Engine(db, transport=transport)


async def _admit(
    organizer: Engine, group_id: bytes, joiner: Engine, seen: Callable[[str], None]
) -> None:
    """The real invite flow, looking at the relay between the steps: the join request and
    the welcome are deleted once read."""
    code = await organizer.create_invite(group_id, role=Role.MEMBER)
    seen("INVITE")
    await joiner.join(code)
    seen("join request")
    await organizer.sync()
    seen("ADD and welcome")
    await joiner.sync()
    seen("the joiner's first sync")


async def _add_direct(organizer: Engine, group_id: bytes, count: int) -> None:
    """Grow the roster by ``count`` members the organizer adds by their records."""
    for index in range(count):
        record = MemberRecord.for_identity(
            Identity.generate(os.urandom, int(time.time() * 1000)), f"member {index}", Role.MEMBER
        )

        def make(state: GroupState, record: MemberRecord = record) -> tuple[EntryKind, bytes]:
            return EntryKind.ADD, add_body(record)

        await organizer.commit(group_id, make)


async def observe(workdir: Path) -> tuple[RelayView, dict[str, Engine], bytes, RelayApp]:
    """Run the scenario in ``workdir``; the caller closes the engines and the app."""
    app = create_app(RelayConfig(db_path=workdir / "relay.db"))
    transport = httpx.ASGITransport(app=app)
    alice, bob, carol = (_engine(workdir, n, transport) for n in ("alice", "bob", "carol"))
    engines = {"alice": alice, "bob": bob, "carol": carol}
    snapshot = _Snapshot(workdir / "relay.db")
    view = RelayView()
    group_id = b""

    def mailbox(group_id: bytes) -> bytes:
        return alice.session(group_id).mailbox_id

    async def step(name: str, action: Callable[[], Awaitable[object]]) -> None:
        await action()
        view.stored.extend(snapshot.new(name, mailbox(group_id)))

    group_id = await alice.create_group("Riders Union")
    view.stored.extend(snapshot.new("create group", mailbox(group_id)))
    for joiner in (bob, carol):

        def seen(what: str, name: str = joiner.name) -> None:
            view.stored.extend(snapshot.new(f"admit {name}: {what}", mailbox(group_id)))

        await _admit(alice, group_id, joiner, seen)

    async def settle() -> None:
        for _ in range(2):  # first syncs register ballot keys; one more round spreads them
            for engine in engines.values():
                await engine.sync()

    await step("everyone syncs twice (ballot keys registered)", settle)
    for length in MESSAGE_LENGTHS:
        await step(
            f"message of {length} characters", partial(alice.send_text, group_id, "x" * length)
        )
    ballot_id = b""

    async def define() -> None:
        nonlocal ballot_id
        await bob.sync()
        ballot_id = await alice.ballots.create(
            group_id,
            "Do we take the offer?",
            kind=BallotKind.SINGLE,
            options=("Accept", "Reject", "Counter-offer"),
            closes_at=int(time.time() * 1000) + HOUR_MS,
        )

    await step("ballot definition", define)
    view.ballot_id = ballot_id

    async def cast(engine: Engine, choice: str) -> None:
        await engine.sync()
        await engine.ballots.vote(ballot_id, choice, delay_ms=0)

    await step("vote (bob)", lambda: cast(bob, "Accept"))
    await step("vote (carol)", lambda: cast(carol, "Counter-offer"))
    for size in DOCUMENT_SIZES:
        path = workdir / f"doc-{size}.pdf"
        path.write_bytes(os.urandom(size))
        await step(
            f"document of {size:,} bytes",
            partial(alice.documents.publish, group_id, path, f"doc {size}"),
        )
    await step("REKEY, 3 members", lambda: alice.rekey(group_id))
    await step("ADD 4th and 5th member", lambda: _add_direct(alice, group_id, 2))
    await step("REKEY, 5 members", lambda: alice.rekey(group_id))
    await step("ADD up to 40 members", lambda: _add_direct(alice, group_id, 35))
    await step("REKEY, 40 members", lambda: alice.rekey(group_id))
    # One of the members added directly (never Alice, Bob or Carol, whose keys may sort
    # anywhere in the roster: Alice cannot REMOVE herself).
    named = {engine.identity.public_key for engine in engines.values()}
    added = next(
        member.identity_pk
        for member in reversed(alice.session(group_id).state.roster())
        if member.identity_pk not in named
    )

    def remove(state: GroupState) -> tuple[EntryKind, bytes]:
        return EntryKind.REMOVE, remove_body(added)

    await step("REMOVE, 40 -> 39 members", lambda: alice.commit(group_id, remove))
    for engine in engines.values():
        await engine.sync()
    return view, engines, group_id, app


async def _main(markdown: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="caucus-relay-view-") as tmp:
        view, engines, _, app = await observe(Path(tmp))
        try:
            if markdown:
                print(view.markdown())
            else:
                for s in view.stored:
                    print(f"{s.step:48} {s.place:15} {s.size:>10,}  {s.header:24} {s.detail}")
        finally:
            for engine in engines.values():
                await engine.close()
            app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    asyncio.run(_main(parser.parse_args().markdown))


if __name__ == "__main__":
    main()
