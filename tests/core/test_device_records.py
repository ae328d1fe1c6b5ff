"""What a linked laptop is given (docs/protocol.md 8.4): the whole history and the
group's records, through an encrypted relay blob named in the sealed bundle. Real
engines over the real relay app in-process, real SQLCipher profiles."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from app.core import device_records
from app.core.engine import Engine
from app.core.errors import NotPermittedHere
from app.core.store import documents as doc_store
from crypto.ballot import BallotKind
from crypto.case import CaseStatus, Sharing
from crypto.document.announce import Announcement
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all
from tests.core.test_attachments import TamperingTransport
from tests.core.test_devices import World, texts

OLD_CAP = 196_608  # bytes of history the link bundle carried inline before
CANARY = "CANARY-LINKED-HISTORY"


@pytest.fixture
def world(tmp_path: Path):
    world = World(tmp_path)
    yield world
    for engine in world.engines:
        run(engine.close())
    world.app.close()


def relay_bytes(tmp_path: Path) -> bytes:
    """Everything the relay keeps on disk: its database and write-ahead log."""
    return b"".join(p.read_bytes() for p in tmp_path.glob("relay.db*") if p.is_file())


def ballot_state(engine: Engine, group_id: bytes, ballot_id: bytes) -> tuple[object, ...]:
    view = engine.ballots.ballot(group_id, ballot_id)
    return (view.question, view.status, view.result, view.voted, view.eligible, view.closed_by)


def test_a_linked_laptop_shows_the_whole_history_documents_ballots_pins_and_reactions(
    world: World, tmp_path: Path
) -> None:
    alice, bob, _ = world.engines
    paper = tmp_path / "agreement.md"
    paper.write_text("# Agreement\n\nDay rate at least 400.\n")
    filler = "x" * 4000
    count = OLD_CAP // len(filler) + 20  # well past what the bundle carried inline

    async def scenario() -> tuple[bytes, bytes, bytes, bytes, bytes]:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        await sync_all(alice, bob, alice, bob)  # both ballot keys registered and known
        await alice.send_text(group_id, f"{CANARY} the very first line")
        for i in range(count):
            await alice.send_text(group_id, f"{CANARY} {i} {filler}")
        document_id = await alice.documents.publish(group_id, paper, "Agreement")
        await sync_all(bob)
        await bob.documents.ack(document_id)
        closed = await alice.ballots.create(
            group_id,
            "Accept the new rate card?",
            kind=BallotKind.SINGLE,
            options=("Accept", "Reject"),
            closes_at=world.clock.now + 3_600_000,
        )
        await sync_all(bob)
        await bob.ballots.vote(closed, "Accept", delay_ms=0)
        await alice.ballots.vote(closed, "Accept", delay_ms=0)
        await sync_all(alice, bob)
        await alice.ballots.close(closed)
        await sync_all(bob, alice, bob, alice)
        still_open = await bob.ballots.create(
            group_id,
            "Strike on Friday?",
            kind=BallotKind.SINGLE,
            options=("Yes", "No"),
            closes_at=world.clock.now + 3_600_000,
        )
        await sync_all(alice)
        await alice.ballots.vote(still_open, "Yes", delay_ms=0)
        await bob.send_text(group_id, f"{CANARY} bob's first try")
        await sync_all(alice)
        said = next(m for m in bob.messages(group_id) if m.text.endswith("first try"))
        assert said.message_id is not None
        await bob.conversation.edit(group_id, said.message_id, f"{CANARY} bob, edited")
        await sync_all(alice)
        await alice.conversation.react(group_id, said.message_id, "👍")
        pinned = next(m for m in alice.messages(group_id) if m.text.endswith("first line"))
        assert pinned.message_id is not None
        await alice.pins.pin(group_id, pinned.message_id)
        for engine, rate in ((alice, "400"), (bob, "450")):
            report = engine.rates.make_report(
                role="Courier",
                rate=rate,
                currency="EUR",
                unit="day",
                seniority="",
                period="2026-Q4",
            )
            await engine.rates.submit(group_id, report, delay_ms=0)
        late = bob.client_reports.make_report(
            "Acme Deliveries", paid_late_days=45, scope_creep=True, again=False
        )
        await bob.client_reports.report(group_id, late, delay_ms=0)
        await sync_all(alice, bob, alice)
        laptop = await world.link(alice, 2)
        await sync_all(alice, bob, laptop)
        return group_id, document_id, closed, still_open, pinned.message_id

    group_id, document_id, closed, still_open, pinned_id = run(scenario())
    laptop = world.engines[2]

    # Every message, well past the old 190 KiB, the oldest included; edits and reactions.
    on_desktop = texts(alice, group_id)
    assert texts(laptop, group_id) == on_desktop
    assert ("alice", f"{CANARY} the very first line") in on_desktop
    assert sum(len(t) for _, t in on_desktop) > OLD_CAP
    assert ("bob", f"{CANARY} bob, edited") in on_desktop

    def shown(engine: Engine) -> list[tuple[str, str, object, bool]]:
        return [
            (m.sender_name, m.text, m.reactions, m.is_mine)
            for m in engine.messages(group_id)
            if m.kind != "hidden"
        ]

    assert shown(laptop) == shown(alice)
    assert not [m.warning for m in laptop.messages(group_id) if m.warning]

    # Pins.
    assert [p.message_id for p in laptop.pins.pins(group_id)] == [pinned_id]
    assert laptop.pins.pins(group_id) == alice.pins.pins(group_id)

    # The document: same version, trust verdict and acknowledgements, and it opens.
    def document(engine: Engine) -> tuple[object, ...]:
        view = engine.documents.document(document_id, group_id)
        current = view.current
        return (
            view.title,
            current.version,
            current.trust,
            current.trusted,
            tuple(a.name for a in current.acknowledged_by),
        )

    assert document(laptop) == document(alice)
    assert document(laptop)[4] == ("bob",)
    out = tmp_path / "opened.md"
    exported = run(laptop.documents.get(document_id, out, group_id=group_id))
    assert exported.path.read_text() == paper.read_text()

    # Both ballots: the closed one with its result, the open one as voted.
    assert ballot_state(laptop, group_id, closed) == ballot_state(alice, group_id, closed)
    assert laptop.ballots.ballot(group_id, closed).result is not None
    assert ballot_state(laptop, group_id, still_open) == ballot_state(alice, group_id, still_open)
    open_view = laptop.ballots.ballot(group_id, still_open)
    assert open_view.status == "open" and open_view.voted == 1
    assert open_view.voted_on_another_device and open_view.my_revision == 0

    # One vote per member (protocol 8.5): the laptop casts no second one.
    with pytest.raises(NotPermittedHere):
        run(laptop.ballots.vote(still_open, "No", delay_ms=0))
    run(sync_all(alice, bob, laptop))
    for engine in (alice, bob, laptop):
        assert engine.ballots.ballot(group_id, still_open).voted == 1, engine.name

    # The rates board and the client reports, as the desktop shows them.
    assert laptop.rates.board(group_id) == alice.rates.board(group_id)
    assert laptop.rates.board(group_id).lines
    assert laptop.client_reports.clients(group_id) == alice.client_reports.clients(group_id)
    assert laptop.client_reports.clients(group_id)

    # The relay held an opaque blob: no text of the history in its files.
    stored = relay_bytes(tmp_path)
    assert stored
    assert CANARY.encode() not in stored
    assert b"Day rate at least 400" not in stored


class Withholding(httpx.AsyncBaseTransport):
    """While ``active``, asks the relay for a blob that does not exist instead of the one
    requested: the relay says "not found", as one that withholds or lost the blob would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.active = False
        self.tampered = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.active and request.method == "GET" and "/chunks/" in request.url.path:
            self.tampered += 1
            index = request.url.path.rsplit("/", 1)[1]
            path = f"/v1/blobs/{os.urandom(16).hex()}/chunks/{index}"
            request = httpx.Request(
                "GET", request.url.copy_with(path=path), headers=request.headers
            )
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("relay_does", ["damage", "withhold"])
def test_a_damaged_history_blob_is_refused_and_the_link_still_completes(
    tmp_path: Path, relay_does: str
) -> None:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    tamper: TamperingTransport | Withholding = (
        TamperingTransport(transport) if relay_does == "damage" else Withholding(transport)
    )
    alice = make_engine(tmp_path, "alice", transport, clock)
    bob = make_engine(tmp_path, "bob", transport, clock)
    laptop = make_engine(tmp_path, "laptop", tamper, clock)
    engines = [alice, bob, laptop]

    async def scenario() -> tuple[bytes, tuple[str, ...], tuple[bytes, ...]]:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        await alice.send_text(group_id, "before the laptop")
        code = await alice.link_device()
        await laptop.devices.add(code)
        await alice.sync()
        tamper.active = True  # the relay hands out a damaged history blob
        report = await laptop.sync()
        tamper.active = False
        await bob.send_text(group_id, "after the laptop")
        await sync_all(laptop)
        return group_id, report.warnings, report.joined

    try:
        group_id, warnings, joined = run(scenario())
        assert tamper.tampered >= 1
        assert joined == (group_id,)  # the groups are linked all the same
        assert any("history from your first computer was refused" in w for w in warnings)
        said = texts(laptop, group_id)
        assert ("alice", "before the laptop") not in said  # nothing unverified stored
        assert ("bob", "after the laptop") in said
        lines = [m.text for m in laptop.messages(group_id) if m.kind == "event"]
        assert lines[0] == device_records.REFUSED_HISTORY_LINE  # the member is told, there
    finally:
        for engine in engines:
            run(engine.close())
        app.close()


def test_above_the_limit_the_newest_messages_travel_and_a_line_says_so(
    world: World,
) -> None:
    alice, _, laptop = world.engines

    async def scenario() -> bytes:
        group_id = await alice.create_group("Riders")
        for i in range(30):
            await alice.send_text(group_id, f"message {i} " + "y" * 1000)
        return group_id

    group_id = run(scenario())
    everything = device_records.collect(alice.db, [group_id])
    payload = device_records.collect(alice.db, [group_id], limit=len(everything) - 5000)
    schema = device_records.schema_of(alice.db)
    assert not device_records.decode(everything, schema).older_left
    records = device_records.decode(payload, schema)
    assert records.older_left
    kept = [str(r[9]) for r in records.rows["messages"] if r[7] != 0]
    assert kept[-1].startswith("message 29 ") and not any(
        t.startswith("message 0 ") for t in kept
    )  # the newest stayed, the oldest were left out
    with laptop.db.transaction():
        device_records.install(laptop.db, records, [group_id], alice.identity.public_key, 1)
    rows = laptop.db.all("SELECT text FROM messages WHERE group_id = ? ORDER BY id", (group_id,))
    assert rows[0][0] == device_records.OLDER_HISTORY_LINE
    found = laptop.db.all(
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", ('"Older history"',)
    )
    assert found[0][0] == 1  # the line is found by search like any other
    assert [r[0] for r in rows[1:] if r[0].startswith("message ")] == kept


def test_records_from_another_schema_or_with_a_wrong_type_are_refused(world: World) -> None:
    alice = world.engines[0]
    group_id = run(alice.create_group("Riders"))
    run(alice.send_text(group_id, "one line"))
    payload = device_records.collect(alice.db, [group_id])
    schema = device_records.schema_of(alice.db)
    with pytest.raises(device_records.SchemaMismatch, match="update Caucus on both"):
        device_records.decode(payload, schema + 1)
    # The messages table's first value is a blob (tag 2); say it is an integer instead.
    header = payload.index(b"warning") + len(b"warning")
    damaged = bytearray(payload)
    assert damaged[header + 4] == 2
    damaged[header + 4] = 1
    from crypto.errors import MalformedData

    with pytest.raises(MalformedData):
        device_records.decode(bytes(damaged), schema)
    with pytest.raises(MalformedData):
        device_records.decode(payload + b"\x00", schema)


class ChunksUnreachable(httpx.AsyncBaseTransport):
    """While ``active``, a blob chunk download fails as a dropped connection would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.active = False
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.active and request.method == "GET" and "/chunks/" in request.url.path:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


def test_an_unreachable_relay_leaves_the_bundle_for_the_next_sync(tmp_path: Path) -> None:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    flaky = ChunksUnreachable(transport)
    alice = make_engine(tmp_path, "alice", transport, clock)
    laptop = make_engine(tmp_path, "laptop", flaky, clock)

    async def scenario() -> tuple[bytes, tuple[bytes, ...], tuple[bytes, ...]]:
        group_id = await alice.create_group("Riders")
        await alice.send_text(group_id, "before the laptop")
        code = await alice.link_device()
        await laptop.devices.add(code)
        await alice.sync()
        flaky.active = True
        first = await laptop.sync()
        flaky.active = False
        second = await laptop.sync()
        return group_id, first.joined, second.joined

    try:
        group_id, first, second = run(scenario())
        assert flaky.refused >= 1
        assert first == ()  # nothing installed while the blob could not be read
        assert second == (group_id,)
        assert ("alice", "before the laptop") in texts(laptop, group_id)
    finally:
        run(alice.close())
        run(laptop.close())
        app.close()


def test_a_linked_laptop_lists_the_cases_of_its_groups(world: World) -> None:
    alice, bob, _ = world.engines

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Riders")
        await befriend(alice, group_id, bob)
        await sync_all(alice, bob)  # the organizer's case inbox is announced
        case_id = await bob.cases.open(group_id, "Acme never paid", sharing=Sharing.NONE)
        await sync_all(alice, bob, alice, bob)  # alice joins the case group
        await sync_all(alice)
        await alice.cases.set_status(case_id, CaseStatus.NEGOTIATING, "called them")
        await sync_all(bob, alice)
        laptop = await world.link(alice, 2)
        await sync_all(alice, bob, laptop)
        return group_id, case_id

    group_id, case_id = run(scenario())
    laptop = world.engines[2]
    on_desktop = alice.cases.list_cases(group_id)
    assert [(c.case_id, c.status) for c in on_desktop] == [(case_id, "negotiating")]
    assert laptop.cases.list_cases(group_id) == on_desktop


def test_a_document_the_relay_no_longer_holds_is_put_back_so_the_laptop_opens_it(
    world: World, tmp_path: Path
) -> None:
    alice = world.engines[0]
    paper = tmp_path / "old-agreement.md"
    paper.write_text("# Agreement of last year\n")

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await alice.create_group("Riders")
        document_id = await alice.documents.publish(group_id, paper, "Old agreement")
        # The relay deletes the blob (its retention, or a loss); the desktop keeps its copy.
        row = doc_store.announcements(alice.db, group_id)[0]
        keys = Announcement.decode(row.announcement).keys
        relay = alice.context.relays.get(alice.session(group_id).relay_url)
        await relay.delete_blob(keys.blob_id, keys.blob_capability)
        await world.link(alice, 2)
        return group_id, document_id

    group_id, document_id = run(scenario())
    laptop = world.engines[2]
    exported = run(laptop.documents.get(document_id, tmp_path / "opened.md", group_id=group_id))
    assert exported.path.read_text() == paper.read_text()
