"""Rate and client reports through real engines against the real relay app in-process.

Five members (Alice organizes) with small rings. Covered: anonymity (the relay's items
and every member's store never name the reporter; the posted item is an ordinary
type-1 item of a message's size bucket), one report per member and period (a new one
replaces the old), the k threshold (4 reports: nothing; 5: figures; an organizer sets
k), the same board at every member, forged and outside reports refused by everyone, and
one-line errors for bad input.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.core.engine import Engine
from app.core.errors import ClientError, NotPermittedHere
from crypto.ballot.blsag import Ring
from crypto.ballot.keys import BallotKeyPair
from crypto.ballot.transport import inner_item_type, open_vote_item, seal_vote_item
from crypto.errors import RemoteError
from crypto.identity import fingerprint
from crypto.items import ItemType, peek_item
from crypto.union.reports import RateReport, RateUnit, open_report, sign_report
from relay.http import RelayApp
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all

PERIOD = "2026-Q4"
NAMES = ("alice", "bob", "carol", "dave", "erin")


@dataclass
class World:
    app: RelayApp
    clock: Clock
    group_id: bytes
    members: tuple[Engine, ...]

    @property
    def alice(self) -> Engine:
        return self.members[0]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    # Display names long enough to be canaries: three bytes such as "bob" turn up by
    # chance in the relay's ciphertext now and then (they did in one CI run).
    members = tuple(
        make_engine(tmp_path, name, transport, clock, display_name=f"{name} canary-7d2e")
        for name in NAMES
    )

    async def setup() -> bytes:
        group_id = await members[0].create_group("Freelancers Union")
        await befriend(members[0], group_id, *members[1:])
        await sync_all(*members)  # each registers its ballot key
        await sync_all(*members)
        return group_id

    group_id = run(setup())
    yield World(app, clock, group_id, members)
    for engine in members:
        run(engine.close())
    app.close()


def submit(w: World, engine: Engine, rate: str, *, role: str = "Translator", **kw: str) -> None:
    report = engine.rates.make_report(
        role=role,
        rate=rate,
        currency=kw.get("currency", "EUR"),
        unit=kw.get("unit", "day"),
        seniority=kw.get("seniority", ""),
        period=kw.get("period", PERIOD),
    )
    receipt = run(engine.rates.submit(w.group_id, report, delay_ms=0))
    assert receipt.posted


def board_json(engine: Engine, group_id: bytes) -> list[tuple[object, ...]]:
    board = engine.rates.board(group_id)
    return [
        (line.role, line.currency, line.unit, line.latest, line.periods) for line in board.lines
    ]


def relay_items(app: RelayApp) -> list[bytes]:
    conn = sqlite3.connect(app.relay.config.db_path)
    try:
        return [bytes(data) for (data,) in conn.execute("SELECT data FROM items ORDER BY seq")]
    finally:
        conn.close()


def anonymous_payloads(w: World) -> list[bytes]:
    """What only a member can do: open the anonymous items of the live epoch."""
    keys = w.alice.session(w.group_id).keys
    assert keys is not None
    found = []
    for item in relay_items(w.app):
        try:
            if (
                peek_item(item)[1] is ItemType.MESSAGE
                and inner_item_type(keys, item) is ItemType.VOTE
            ):
                found.append(open_vote_item(keys, item))
        except RemoteError:
            continue
    return found


def test_threshold_four_reports_show_nothing_five_show_figures(world: World) -> None:
    w = world
    for engine, rate in zip(w.members[:4], ("400", "450", "500", "620.5"), strict=True):
        submit(w, engine, rate)
    run(sync_all(*w.members))
    board = w.alice.rates.board(w.group_id)
    (line,) = board.lines
    assert board.k == 5
    assert line.latest is None
    (cell,) = line.periods
    assert (cell.count, cell.q1, cell.median, cell.q3) == (None, None, None, None)
    assert cell.note == "fewer than 5 reports"

    submit(w, w.members[4], "380")
    run(sync_all(*w.members))
    (line,) = w.alice.rates.board(w.group_id).lines
    assert line.latest is not None
    assert (line.latest.count, line.latest.q1, line.latest.median, line.latest.q3) == (
        5,
        "400",
        "450",
        "500",
    )
    # Every member computes the very same board.
    boards = {repr(board_json(engine, w.group_id)) for engine in w.members}
    assert len(boards) == 1


def test_a_new_report_replaces_the_members_own_for_the_period(world: World) -> None:
    w = world
    run(w.alice.rates.set_threshold(w.group_id, 3))
    for engine, rate in zip(w.members[:3], ("100", "200", "300"), strict=True):
        submit(w, engine, rate)
    submit(w, w.members[1], "900")  # Bob changes his mind: replaces, does not add
    run(sync_all(*w.members))
    for engine in w.members:
        (line,) = engine.rates.board(w.group_id).lines
        assert line.latest is not None
        assert (line.latest.count, line.latest.median) == (3, "300")
    # A report in another period is another scope: it does not replace.
    submit(w, w.members[1], "150", period="2026-Q3")
    run(sync_all(*w.members))
    (line,) = w.alice.rates.board(w.group_id).lines
    assert [c.period for c in line.periods] == ["2026-Q3", PERIOD]
    assert line.periods[0].count is None  # one report in Q3: below k
    # The two reports of Bob in Q4 share a key image; Q3's differs (unlinkable scopes).
    images = w.alice.db.all("SELECT period, key_image FROM rate_reports ORDER BY relay_seq")
    q4 = [bytes(i) for p, i in images if p == PERIOD]
    q3 = [bytes(i) for p, i in images if p == "2026-Q3"]
    assert len(q4) == 4 and len(set(q4)) == 3
    assert q3[0] not in q4


def test_neither_relay_nor_members_stores_name_the_reporter(world: World) -> None:
    w = world
    for engine, rate in zip(w.members, ("410", "420", "430", "440", "450"), strict=True):
        submit(w, engine, rate)
    run(sync_all(*w.members))
    payloads = anonymous_payloads(w)
    assert len(payloads) == 5
    assert len({len(p) for p in payloads}) == 1  # same size whoever reports what
    items = [i for i in relay_items(w.app) if peek_item(i)[1] is ItemType.MESSAGE]
    path = Path(w.app.relay.config.db_path)
    relay_bytes = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    stores = {
        engine.name: b"".join(
            repr(row).encode()
            for table in ("rate_reports", "union_thresholds")
            for row in engine.db.all(f"SELECT * FROM {table}")
        )
        for engine in w.members
    }
    for engine in w.members:
        identity_pk = engine.identity.public_key
        secret = engine.db.one("SELECT secret, public FROM ballot_keys")
        ballot_pk = bytes(secret[1])
        print_ = fingerprint(identity_pk)
        needles = (identity_pk, ballot_pk, print_, identity_pk.hex().encode(), engine.name.encode())
        for needle in needles:
            assert needle not in relay_bytes
            for other, blob in stores.items():
                assert needle not in blob, (engine.name, other)
        assert all(needle not in payload for payload in payloads for needle in needles[:3])
    assert items  # the reports are among ordinary type-1 items


def test_forged_and_outside_reports_are_refused_by_everyone(world: World, tmp_path: Path) -> None:
    w = world
    session = w.alice.session(w.group_id)
    keys = session.keys
    assert keys is not None
    state = session.state
    outsider = BallotKeyPair.generate(os.urandom)
    ring = Ring.of((*state.ballot_roster()[:-1], outsider.public))
    report = RateReport(PERIOD, "translator", "999", "EUR", RateUnit.DAY)
    # An outsider signs over a ring with its own key in place of a member's.
    forged = sign_report(report, w.group_id, state.seq, 0, ring, outsider, os.urandom)
    # And a member's real report, altered after signing.
    (secret,) = w.members[1].db.one("SELECT secret FROM ballot_keys")
    pair = BallotKeyPair.from_secret(bytes(secret))
    good = sign_report(
        report, w.group_id, state.seq, 0, Ring.of(state.ballot_roster()), pair, os.urandom
    )
    altered = bytearray(good)
    altered[-100] ^= 1  # inside the ring signature's responses
    for payload in (forged, bytes(altered)):
        item = seal_vote_item(keys, payload, os.urandom)
        run(w.alice.relay(session.relay_url).post_item(session.mailbox_id, keys.mailbox_cap, item))
    run(sync_all(*w.members))
    for engine in w.members:
        assert engine.db.all("SELECT * FROM rate_reports") == []
        warnings = [
            d for (d,) in engine.db.all("SELECT detail FROM warnings WHERE kind = 'rejected'")
        ]
        assert len(warnings) == 2, warnings
        assert "BadSignature: ring signature does not verify" in warnings
    # The real one, posted as is, counts.
    run(
        w.alice.relay(session.relay_url).post_item(
            session.mailbox_id, keys.mailbox_cap, seal_vote_item(keys, good, os.urandom)
        )
    )
    run(sync_all(*w.members))
    assert all(len(e.db.all("SELECT * FROM rate_reports")) == 1 for e in w.members)
    assert open_report(good, Ring.of(state.ballot_roster())).revision == 0


def test_only_an_organizer_sets_k_and_never_below_three(world: World) -> None:
    w = world
    with pytest.raises(NotPermittedHere):
        run(w.members[1].rates.set_threshold(w.group_id, 3))
    with pytest.raises(ClientError, match="from 3 to"):
        run(w.alice.rates.set_threshold(w.group_id, 2))
    run(w.alice.rates.set_threshold(w.group_id, 4))
    run(sync_all(*w.members))
    assert {e.rates.board(w.group_id).k for e in w.members} == {4}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", "-5", "positive decimal"),
        ("rate", "1e3", "positive decimal"),
        ("rate", "0", "more than zero"),
        ("rate", "12.34567", "positive decimal"),
        ("rate", "9" * 5000, "positive decimal"),
        ("currency", "EUX", "unknown currency"),
        ("currency", "eur", "unknown currency"),
        ("unit", "week", "hour, day or project"),
        ("role", "x" * 500, "longer than 64"),
        ("role", "   ", "role is empty"),
        ("period", "2026-Q5", "calendar quarter"),
    ],
)
def test_bad_input_is_one_line_error(world: World, field: str, value: str, message: str) -> None:
    args = {"role": "Translator", "rate": "400", "currency": "EUR", "unit": "day"}
    args[field] = value
    with pytest.raises(ClientError, match=message) as caught:
        world.alice.rates.make_report(**args)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 120


def report_client(w: World, engine: Engine, name: str, late: int, comment: str = "") -> None:
    service = engine.client_reports
    report = service.make_report(
        name, paid_late_days=late, scope_creep=late > 10, again=late == 0, comment=comment
    )
    assert run(service.report(w.group_id, report, delay_ms=0)).posted


def test_client_reports_one_per_member_and_client_comments_only_from_k(world: World) -> None:
    w = world
    run(w.alice.rates.set_threshold(w.group_id, 3))
    report_client(w, w.members[0], "ACME GmbH", 0, "pays like clockwork")
    report_client(w, w.members[1], "acme  gmbh", 45, "two reminders")
    report_client(w, w.members[1], "Acme GmbH", 60, "three reminders")  # replaces Bob's
    report_client(w, w.members[1], "Globex", 0)  # another client: not linked, not replaced
    run(sync_all(*w.members))
    lines = w.alice.client_reports.clients(w.group_id)
    assert [(line.client, line.figures, line.note) for line in lines] == [
        ("acme gmbh", None, "fewer than 3 reports"),
        ("globex", None, "fewer than 3 reports"),
    ]
    report_client(w, w.members[2], "ACME GMBH", 5)
    run(sync_all(*w.members))
    every = {
        repr([(x.client, x.figures) for x in e.client_reports.clients(w.group_id)])
        for e in w.members
    }
    assert len(every) == 1  # the same figures at every member
    (line,) = w.members[3].client_reports.clients(w.group_id, "Acme GmbH")
    assert line.figures is not None and not line.mine
    assert (line.figures.count, line.figures.paid_on_time, line.figures.paid_late) == (3, 1, 2)
    assert (line.figures.median_days_late, line.figures.max_days_late) == ("5", 60)
    assert line.figures.comments == ("pays like clockwork", "three reminders")
    (bobs,) = w.members[1].client_reports.clients(w.group_id, "acme gmbh")
    assert bobs.mine  # only Bob's client can tell
    images = dict(
        (row[0], bytes(row[1]))
        for row in w.alice.db.all("SELECT client, key_image FROM client_reports WHERE revision = 0")
        if row[0] == "globex"
    )
    acme = {
        bytes(r[0])
        for r in w.alice.db.all("SELECT key_image FROM client_reports WHERE client = 'acme gmbh'")
    }
    assert images["globex"] not in acme and len(acme) == 3


def test_a_report_waits_for_its_delay_then_goes_out(world: World) -> None:
    w = world
    bob = w.members[1]
    report = bob.rates.make_report(
        role="translator", rate="300", currency="EUR", unit="day", period=PERIOD
    )
    before = len(relay_items(w.app))
    receipt = run(bob.rates.submit(w.group_id, report, delay_ms=8_000))
    assert not receipt.posted and receipt.not_before == w.clock.now + 8_000
    assert run(bob.rates.sender.flush(w.group_id)) == 1  # not due: still queued
    assert len(relay_items(w.app)) == before
    w.clock.advance(seconds=8)
    run(bob.sync())  # the engine's upkeep posts what is due
    assert run(bob.rates.sender.flush(w.group_id)) == 0
    assert len(anonymous_payloads(w)) == 1
    run(sync_all(w.alice))
    assert len(w.alice.db.all("SELECT * FROM rate_reports")) == 1
