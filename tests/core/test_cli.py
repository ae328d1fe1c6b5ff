"""The CLI contract over a real relay process on a loopback socket: three people on one
machine, an unreachable relay, a client killed mid-sync, and clean one-line errors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.socket


class RelayProcess:
    """``python -m relay serve`` on port 0 (the OS picks a free one); a restart after
    ``stop`` comes back on the port it got first, so profiles keep their relay URL."""

    def __init__(self, db: Path, port: int = 0) -> None:
        self.db = db
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "relay",
                "serve",
                "--db",
                str(self.db),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                # the kill test floods one group faster than the default 50 writes/s
                "--rate",
                "5000",
                "--burst",
                "5000",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("caucus-relay listening on "):
                self.port = int(line.strip().rsplit(":", 1)[1])
                return
            if self.proc.poll() is not None:
                break
        raise RuntimeError("relay did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    process.start()
    yield process
    process.stop()


def caucus(
    home: Path, *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        CAUCUS_HOME=str(home),
        CAUCUS_PASSPHRASE=f"passphrase {home.name}",
        CAUCUS_KDF_COST="interactive",
    )
    env.pop("CAUCUS_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"caucus {args} failed: {result.stderr}")
    return result


def peek_message_count(home: Path, key: bytes) -> int:
    """Read a profile that another process holds open (and locked), as the test's spy:
    a raw SQLCipher connection beside the profile API, which would refuse it."""
    from sqlcipher3 import dbapi2 as sqlcipher

    conn = sqlcipher.connect(str(home / "profile.db"))
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        # Messages received, not the line about our own join (content type 0).
        row = conn.execute("SELECT count(*) FROM messages WHERE content_type != 0").fetchone()
        return int(row[0])
    finally:
        conn.close()


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1]


def _said(stdout: str) -> list[dict[str, object]]:
    """The messages members wrote, from ``messages --json`` (not the lines about joins)."""
    return [m for m in json.loads(stdout) if m["kind"] == "text"]


def test_three_people_on_one_machine(tmp_path: Path, relay: RelayProcess) -> None:
    alice, bob, carol = (tmp_path / n for n in ("alice", "bob", "carol"))
    for home, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
        caucus(home, "init", "--name", name, "--relay", relay.url)
    group_id = last_line(caucus(alice, "group", "create", "Freelancers"))
    assert re.fullmatch(r"[0-9a-f]{32}", group_id)

    for home in (bob, carol):
        code = last_line(caucus(alice, "invite", "Freelancers"))
        assert code.startswith("caucus://join#")
        if home == bob:
            caucus(home, "join", code)
        else:  # the code from standard input: not in /proc/PID/cmdline
            caucus(home, "join", "-", stdin=code + "\n")
        caucus(alice, "sync")
        caucus(home, "sync")

    caucus(bob, "send", "Freelancers", "Day rate survey tomorrow?")
    caucus(carol, "send", group_id, "Yes, 10am")
    for home in (alice, bob, carol):
        caucus(home, "sync")

    messages = json.loads(caucus(alice, "messages", "Freelancers", "--json").stdout)
    messages = [m for m in messages if m["kind"] == "text"]  # the join lines are events
    assert [(m["sender"], m["text"]) for m in messages] == [
        ("Bob", "Day rate survey tomorrow?"),
        ("Carol", "Yes, 10am"),
    ]
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", m["sent_at"]) for m in messages
    )

    members = json.loads(caucus(carol, "members", "Freelancers", "--json").stdout)
    carol_fp = last_line(caucus(carol, "fingerprint"))
    assert {(m["name"], m["role"]) for m in members} == {
        ("Alice", "organizer"),
        ("Bob", "member"),
        ("Carol", "member"),
    }
    assert carol_fp in {m["fingerprint"] for m in members}

    caucus(alice, "remove", "Freelancers", carol_fp)
    caucus(alice, "send", "Freelancers", "Carol is gone; new plan")
    caucus(bob, "sync")
    caucus(carol, "sync")
    bob_texts = [
        m["text"] for m in json.loads(caucus(bob, "messages", "Freelancers", "--json").stdout)
    ]
    carol_texts = [
        m["text"] for m in json.loads(caucus(carol, "messages", "Freelancers", "--json").stdout)
    ]
    assert "Carol is gone; new plan" in bob_texts
    assert "Carol is gone; new plan" not in carol_texts
    assert len(json.loads(caucus(bob, "members", "Freelancers", "--json").stdout)) == 2


def test_channels_rename_mute_and_leave(tmp_path: Path, relay: RelayProcess) -> None:
    """Issue #12's group life on the command line: an announcements channel only
    organizers post in, a rename every member sees, a mute, and leaving."""
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for home, name in ((alice, "Alice"), (bob, "Bob")):
        caucus(home, "init", "--name", name, "--relay", relay.url)
    caucus(alice, "group", "create", "Couriers")
    caucus(bob, "join", last_line(caucus(alice, "invite", "Couriers")))
    caucus(alice, "sync")
    caucus(bob, "sync")

    channel_id = last_line(
        caucus(alice, "channel", "create", "Couriers", "news", "--announcements")
    )
    assert re.fullmatch(r"[0-9a-f]{32}", channel_id)
    caucus(alice, "send", "Couriers", "Strike ballot on Friday", "--channel", "news")
    caucus(bob, "sync")
    channels = json.loads(caucus(bob, "channel", "list", "Couriers", "--json").stdout)
    assert {"id": channel_id, "name": "news", "announcements": True} in channels
    news = json.loads(caucus(bob, "messages", "Couriers", "--channel", "news", "--json").stdout)
    assert [m["text"] for m in news] == ["Strike ballot on Friday"]
    refused = caucus(bob, "send", "Couriers", "me too", "--channel", "news", check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1

    caucus(alice, "group", "rename", "Couriers", "Couriers' Union")
    caucus(bob, "sync")
    groups = json.loads(caucus(bob, "group", "list", "--json").stdout)
    assert [(g["name"], g["muted"]) for g in groups] == [("Couriers' Union", False)]
    caucus(bob, "group", "mute", "Couriers' Union")
    groups = json.loads(caucus(bob, "group", "list", "--json").stdout)
    assert [g["muted"] for g in groups] == [True]

    caucus(bob, "leave", "Couriers' Union")
    caucus(alice, "sync")
    members = json.loads(caucus(alice, "members", "Couriers' Union", "--json").stdout)
    assert [m["name"] for m in members] == ["Alice"]


def test_errors_are_one_line_without_traceback(tmp_path: Path, relay: RelayProcess) -> None:
    home = tmp_path / "dana"
    missing = caucus(home, "messages", "Nope", "--json", check=False)
    assert missing.returncode != 0
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    assert "no profile" in missing.stderr

    caucus(home, "init", "--name", "Dana", "--relay", relay.url)
    again = caucus(home, "init", "--name", "Dana", "--relay", relay.url, check=False)
    assert again.returncode != 0 and "already exists" in again.stderr

    env = dict(os.environ, CAUCUS_HOME=str(home), CAUCUS_PASSPHRASE="wrong")
    wrong = subprocess.run(
        [sys.executable, "-m", "app", "fingerprint"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode != 0
    assert wrong.stderr.strip() == "caucus: wrong passphrase"

    unknown = caucus(home, "send", "No such group", "hi", check=False)
    assert unknown.returncode != 0 and "no group" in unknown.stderr
    no_code = caucus(home, "join", "-", stdin="\n", check=False)
    assert no_code.returncode == 1
    assert no_code.stderr == "caucus: no invite code on standard input\n"

    bad_code = caucus(home, "join", "caucus://join#not-a-code", check=False)
    assert bad_code.returncode != 0 and "Traceback" not in bad_code.stderr
    assert bad_code.stderr.count("\n") == 1


def test_message_sent_while_relay_is_down_goes_out_later(
    tmp_path: Path, relay: RelayProcess
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    caucus(alice, "init", "--name", "Alice", "--relay", relay.url)
    caucus(bob, "init", "--name", "Bob", "--relay", relay.url)
    caucus(alice, "group", "create", "Freelancers")
    caucus(bob, "join", last_line(caucus(alice, "invite", "Freelancers")))
    caucus(alice, "sync")
    caucus(bob, "sync")

    relay.stop()
    queued = caucus(alice, "send", "Freelancers", "sent while offline", check=False)
    assert queued.returncode == 3
    assert "queued" in queued.stderr and "Traceback" not in queued.stderr
    pending = _said(caucus(alice, "messages", "Freelancers", "--json").stdout)
    assert [(m["text"], m["status"]) for m in pending] == [("sent while offline", "pending")]

    relay.start()
    caucus(alice, "sync")
    caucus(bob, "sync")
    caucus(bob, "sync")
    received = _said(caucus(bob, "messages", "Freelancers", "--json").stdout)
    assert [m["text"] for m in received] == ["sent while offline"]
    sent = _said(caucus(alice, "messages", "Freelancers", "--json").stdout)
    assert [m["status"] for m in sent] == ["sent"]


def test_client_killed_mid_sync_loses_and_duplicates_nothing(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """SIGKILL the client during a large catch-up; the next sync completes it exactly."""
    import asyncio

    import httpx

    from app.core.engine import Engine
    from app.core.profile import unlock, unlock_with_key

    alice, bob = tmp_path / "alice", tmp_path / "bob"
    caucus(alice, "init", "--name", "Alice", "--relay", relay.url)
    caucus(bob, "init", "--name", "Bob", "--relay", relay.url)
    caucus(alice, "group", "create", "Freelancers")
    caucus(bob, "join", last_line(caucus(alice, "invite", "Freelancers")))
    caucus(alice, "sync")
    caucus(bob, "sync")

    total = 2500

    async def flood() -> None:
        engine = Engine(unlock(alice, "passphrase alice"))
        group_id = engine.resolve_group("Freelancers")
        for i in range(total):
            await engine.send_text(group_id, f"message {i}")
        await engine.close()

    asyncio.run(flood())
    db, key = unlock_with_key(bob, "passphrase bob")
    db.close()
    env = dict(
        os.environ,
        CAUCUS_HOME=str(bob),
        CAUCUS_PASSPHRASE="passphrase bob",
        CAUCUS_KDF_COST="interactive",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "sync"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen = 0
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        seen = peek_message_count(bob, key)
        if 0 < seen < total:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sync finished before it could be killed"
    assert 0 < seen < total
    caucus(bob, "sync")
    texts = [m["text"] for m in _said(caucus(bob, "messages", "Freelancers", "--json").stdout)]
    assert texts == [f"message {i}" for i in range(total)]
    assert httpx.get(relay.url + "/health").status_code == 200
