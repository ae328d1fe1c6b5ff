"""A member whose computer clock is wrong is told so, in words, and by how much.

Inbox requests carry a signed time the relay accepts within a few minutes of its own
(docs/protocol.md 6.3), so a joiner whose clock is a day off never received the welcome:
each sync warned "relay refused the request: stale_auth (403): X-Caucus-Auth timestamp
too far from relay clock". The relay now says its time in that refusal, and the client
turns it into a sentence a person can act on, given as the server's claim (a hostile
relay could claim any time; nothing is changed on its word); once the clock is right,
the join goes on.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.core.harness import Clock, make_engine, make_relay, run

HOUR_MS = 3_600_000


def test_a_joiner_with_a_wrong_clock_is_told_and_joins_once_it_is_right(tmp_path: Path) -> None:
    relay_clock = Clock()
    app = make_relay(tmp_path, relay_clock)
    transport = httpx.ASGITransport(app=app)
    alice = make_engine(tmp_path, "alice", transport, relay_clock, display_name="Alice")
    bob_clock = Clock(relay_clock.now - 28 * HOUR_MS)  # a day and four hours behind
    bob = make_engine(tmp_path, "bob", transport, bob_clock, display_name="Bob")
    try:
        group_id = run(alice.create_group("Depot"))
        run(bob.join(run(alice.create_invite(group_id))))
        assert run(alice.sync()).admitted == 1

        report = run(bob.sync())
        assert report.joined == ()
        assert report.warnings == (
            "pending join: the server says this computer's clock is 28 hours behind its "
            "own: check that this computer's date and time are right, then try again",
        )
        assert not any("X-Caucus-Auth" in warning for warning in report.warnings)

        bob_clock.now = relay_clock.now + 6 * 60_000  # now six minutes ahead: still refused
        assert "clock is 6 minutes ahead of its own" in run(bob.sync()).warnings[0]

        bob_clock.now = relay_clock.now  # the person set the clock right
        joined = run(bob.sync())
        assert joined.joined == (group_id,) and joined.warnings == ()
    finally:
        run(alice.close())
        run(bob.close())
        app.close()
