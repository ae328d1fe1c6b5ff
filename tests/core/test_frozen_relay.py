"""A relay that accepts connections and never answers costs a bounded time, set by the
client's ``RelayTimeouts`` (docs/protocol.md section 7.6): ``send`` gives up with the
message queued, ``sync`` reports it and goes on. No wall-clock figures: the tests use the
client's own limits, and pytest-timeout is only the backstop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.engine import Engine
from app.core.errors import RelayUnavailable
from app.core.profile import unlock
from app.core.relay_client import DEFAULT_TIMEOUTS, RelayClient, RelayTimeouts
from crypto.document.stream import MAX_CHUNK_BYTES
from relay.embedded import EmbeddedRelay
from tests.core.harness import Clock, befriend, make_engine, make_relay, run
from tests.core.network import Network, frozen_socket

SHORT = RelayTimeouts(connect=0.5, attempt=0.5, budget=1.0, poll_margin=0.5, health=0.5)


@pytest.mark.timeout(120)
def test_send_to_a_frozen_relay_gives_up_within_the_budget(tmp_path: Path) -> None:
    clock = Clock()
    network = Network()
    app = make_relay(tmp_path, clock)
    network.serve("relay.test", app)
    alice = make_engine(tmp_path, "alice", network, clock)
    bob = make_engine(tmp_path, "bob", network, clock)
    try:
        group_id = run(alice.create_group("Union"))
        run(befriend(alice, group_id, bob))
        run(alice.close())
        alice = Engine(
            unlock(tmp_path / "alice", "passphrase of alice"),
            transport=network,
            clock_ms=clock,
            timeouts=SHORT,
        )
        with frozen_socket() as port:
            network.point("relay.test", port)
            with pytest.raises(RelayUnavailable) as info:
                run(alice.send_text(group_id, "held by a frozen relay"))
            # The request budget ended it, not the relay or a lucky retry.
            assert f"no answer within {SHORT.budget:g} s" in str(info.value)
            report = run(alice.sync())
            assert report.unsent == 1
            assert any("unreachable" in warning for warning in report.warnings)
        network.restore("relay.test")
        run(alice.sync())
        run(bob.sync())
        said = [m.text for m in bob.messages(group_id) if m.kind == "text"]
        assert said == ["held by a frozen relay"]
    finally:
        run(alice.close())
        run(bob.close())
        app.close()


def caucus(home: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(CAUCUS_HOME=str(home), CAUCUS_PASSPHRASE="passphrase", CAUCUS_KDF_COST="interactive")
    env.pop("CAUCUS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.socket
@pytest.mark.slow
def test_caucus_send_to_a_frozen_relay_exits_queued_within_the_documented_bound(
    tmp_path: Path,
) -> None:
    """With the default limits: one write to a frozen relay ends after the request
    budget (``DEFAULT_TIMEOUTS.budget``); before, it took ~200 s."""
    home = tmp_path / "alice"
    relay = EmbeddedRelay(tmp_path / "relay.db").start()
    try:
        url = relay.url
        assert caucus(home, "init", "--name", "Alice", "--relay", url, timeout=120).returncode == 0
        assert caucus(home, "group", "create", "Union", timeout=120).returncode == 0
    finally:
        relay.stop()
    port = int(url.rsplit(":", 1)[1])
    # Process start and profile unlock get a generous allowance; the relay part must stay
    # within one request budget, far below the old 5 x 40 s.
    bound = DEFAULT_TIMEOUTS.total(DEFAULT_TIMEOUTS.attempt) + 60
    with frozen_socket(port):
        sent = caucus(home, "send", "Union", "held by a frozen relay", timeout=bound)
    assert sent.returncode == 3, sent.stderr
    assert "queued" in sent.stderr and "Traceback" not in sent.stderr


def test_the_documented_limits_are_the_defaults() -> None:
    """docs/protocol.md section 7.6 quotes these figures."""
    t = DEFAULT_TIMEOUTS
    assert (t.connect, t.attempt, t.budget, t.health) == (3.0, 10.0, 20.0, 3.0)
    assert t.total(t.attempt) == 20.0
    assert t.poll(25) == 35.0 and t.poll(60) == 40.0
    assert t.total(t.poll(25)) == 35.0
    assert 26.0 <= t.transfer(MAX_CHUNK_BYTES) < 26.01


@pytest.mark.timeout(120)
def test_a_long_poll_gets_its_wait_on_top_of_the_short_limit(tmp_path: Path) -> None:
    """A long poll is not cut by the write limit: with one attempt limited to 0.5 s, a
    fetch that asks the relay to hold it for 2 s still gets its (empty) answer."""
    clock = Clock()
    network = Network()
    app = make_relay(tmp_path, clock)
    network.serve("relay.test", app)
    alice = make_engine(tmp_path, "alice", network, clock)
    try:
        group_id = run(alice.create_group("Union"))
        session = alice.session(group_id)
        assert session.keys is not None
        client = RelayClient(
            "http://relay.test",
            transport=network,
            timeouts=RelayTimeouts(attempt=0.5, budget=0.5, poll_margin=30.0),
        )

        async def poll() -> int:
            keys = session.keys
            assert keys is not None
            result = await client.fetch(session.mailbox_id, keys.mailbox_cap, 10**6, wait=2)
            await client.aclose()
            return len(result.items)

        assert run(poll()) == 0
    finally:
        run(alice.close())
        app.close()
