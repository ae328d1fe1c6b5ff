"""Issue #14, run as the attack: a man in the middle in front of a real relay process
records everything three members post while each files a rate report and a client
report (docs/union-tools.md section 6).

To tell whose report is whose it has what the relay has: the items' headers, sizes and
the ciphertext length field, the endpoints, the capability, the connection. A report is
an ordinary type-1 item posted with the capability alone, every report has the same
shape, that shape is a message's of similar length, and nothing in the recorded
traffic names the reporter. What it keeps is timing (the post's moment) and the
connection's address, as for votes.
"""

from __future__ import annotations

import struct

import pytest

from app.core.engine import Engine
from tests.attacks.mitm import Seen
from tests.attacks.world import AttackWorld
from tests.core.harness import befriend, run

pytestmark = pytest.mark.socket


def _visible(seen: Seen) -> tuple[str, int, bytes, int]:
    item = seen.item
    return seen.box, len(item), item[:10], struct.unpack_from(">I", item, 58)[0]


def test_the_relay_cannot_tell_whose_report_it_holds(attack_world: AttackWorld) -> None:
    world = attack_world
    names = ("alice", "bob", "carol")
    members: list[Engine] = [world.member(name) for name in names]
    alice = members[0]

    async def setup() -> bytes:
        group_id = await alice.create_group("Union")
        await befriend(alice, group_id, *members[1:])
        for _ in range(2):
            for engine in members:
                await engine.sync()
        return group_id

    group_id = run(setup())
    reports: list[Seen] = []
    for engine, name, amount in zip(members, names, ("400", "455.5", "610"), strict=True):
        before = len(world.adversary.items(member=name, direction="up"))
        rate = engine.rates.make_report(
            role="Interpreter", rate=amount, currency="CHF", unit="hour", period="2026-Q4"
        )
        assert run(engine.rates.submit(group_id, rate, delay_ms=0)).posted
        client = engine.client_reports.make_report(
            "Initech", paid_late_days=int(amount[0]), scope_creep=True, again=False
        )
        assert run(engine.client_reports.report(group_id, client, delay_ms=0)).posted
        posted = world.adversary.items(member=name, direction="up")[before:]
        assert len(posted) == 2
        reports.extend(posted)

    shapes = {_visible(seen) for seen in reports}
    assert len(shapes) == 1  # six reports, two kinds, three authors: one shape
    (shape,) = shapes
    assert shape[2][1] == 1  # an ordinary type-1 item
    assert shape[1] == 1536  # in a group of three: the bucket of a 1,200-character text

    before = len(world.adversary.items(member="bob", direction="up"))
    run(members[1].send_text(group_id, "m" * 1200))
    (message,) = world.adversary.items(member="bob", direction="up")[before:]
    assert _visible(message) == shape

    traffic = world.adversary.traffic()
    for engine in members:
        (ballot_pk,) = engine.db.one("SELECT public FROM ballot_keys")
        for needle in (engine.identity.public_key, bytes(ballot_pk), engine.name.encode()):
            for seen in reports:
                assert needle not in seen.item
        assert engine.identity.public_key.hex().encode() not in traffic
    for engine in members:
        run(engine.sync())
    boards = {repr(engine.rates.board(group_id).lines[0].periods) for engine in members}
    assert len(boards) == 1
