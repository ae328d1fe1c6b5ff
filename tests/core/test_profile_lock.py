"""One profile, one process: the lock file, its refcount within a process, the refusal of
a second engine and of a second process, and two real `caucus send` racing on one profile
against a real relay process (docs/protocol.md section 7.1)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.engine import Engine
from app.core.errors import ProfileInUse
from app.core.profile import create_profile_with_key, open_with_key, unlock
from app.core.profile_lock import LOCK_NAME
from tests.core.harness import run
from tests.core.test_cli import RelayProcess, caucus, last_line

PASSPHRASE = "passphrase alice"


def make_profile(home: Path) -> tuple[Engine, bytes]:
    db, key = create_profile_with_key(
        home,
        name="Alice",
        relay_url="http://127.0.0.1:9",
        passphrase=PASSPHRASE,
        rng=os.urandom,
        now=0,
        cost="interactive",
    )
    return Engine(db), key


def locked_by_someone(home: Path) -> bool:
    """Whether a fresh open file description can take the lock (flock is per description,
    so this test's own holders count as "someone")."""
    fd = os.open(home / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CAUCUS_PASSPHRASE=PASSPHRASE, CAUCUS_KDF_COST="interactive")
    env.pop("CAUCUS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_second_engine_in_one_process_is_refused_but_a_reader_is_not(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    engine, key = make_profile(home)
    assert locked_by_someone(home)

    second = unlock(home, PASSPHRASE)  # a second connection of this process: allowed
    with pytest.raises(ProfileInUse, match=f"the profile in {home} already has an engine"):
        Engine(second)
    second.close()

    reader = open_with_key(home, key)  # the desktop app's reader beside its engine
    assert reader.one("SELECT name FROM profile")[0] == "Alice"
    run(engine.close())
    assert locked_by_someone(home), "the reader still holds the process's lock"
    reader.close()
    assert not locked_by_someone(home), "the last connection closed: the lock is gone"

    again = Engine(unlock(home, PASSPHRASE))  # the engine slot was freed with its engine
    run(again.close())
    assert not locked_by_someone(home)


def test_another_process_is_refused_with_one_clear_line(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    engine, _ = make_profile(home)
    fingerprint = engine.fingerprint

    refused = cli(home, "fingerprint")
    assert refused.returncode == 1
    assert refused.stderr == (
        f"caucus: the profile in {home.resolve()} is open in another Caucus process"
        f" (pid {os.getpid()})\n"
    )
    assert refused.stdout == ""

    run(engine.close())
    allowed = cli(home, "fingerprint")
    assert allowed.returncode == 0, allowed.stderr
    assert last_line(allowed) == fingerprint


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    process.start()
    yield process
    process.stop()


@pytest.mark.socket
def test_two_sends_racing_on_one_profile_lose_and_reuse_nothing(
    tmp_path: Path, relay: RelayProcess
) -> None:
    """Two `caucus send` started at once: whichever gets the lock sends; the other fails
    at once with the lock message (the CLI does not wait). Either way every message
    reported sent reaches the receiver, and none was sealed with a used counter (a
    receiver drops such a message as a replay, so it would be missing below)."""
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    caucus(alice, "init", "--name", "Alice", "--relay", relay.url)
    caucus(bob, "init", "--name", "Bob", "--relay", relay.url)
    caucus(alice, "group", "create", "Freelancers")
    caucus(bob, "join", last_line(caucus(alice, "invite", "Freelancers")))
    caucus(alice, "sync")
    caucus(bob, "sync")

    env = dict(os.environ, CAUCUS_PASSPHRASE="passphrase alice", CAUCUS_KDF_COST="interactive")
    env.pop("CAUCUS_DEBUG", None)
    lock_line = f"caucus: the profile in {alice.resolve()} is open in another Caucus process"
    sent: list[str] = []
    collisions = 0
    for pair in range(4):
        texts = [f"pair {pair} first", f"pair {pair} second"]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "app", "--home", str(alice), "send", "Freelancers", t],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for t in texts
        ]
        results = [(p, *p.communicate(timeout=120)) for p in procs]
        ok = [t for t, (p, _, _) in zip(texts, results, strict=True) if p.returncode == 0]
        refused = [err for p, _, err in results if p.returncode != 0]
        assert ok, "at least one of the two gets the profile"
        for err in refused:
            assert err.startswith(lock_line) and err.count("\n") == 1, err
        collisions += len(refused)
        sent.extend(ok)

    caucus(bob, "sync")
    received = [
        m
        for m in json.loads(caucus(bob, "messages", "Freelancers", "--json").stdout)
        if m["kind"] == "text"  # not the line saying Bob joined
    ]
    assert sorted(m["text"] for m in received) == sorted(sent)
    assert all(m["warning"] is None for m in received)
    mine = [
        m
        for m in json.loads(caucus(alice, "messages", "Freelancers", "--json").stdout)
        if m["kind"] == "text"
    ]
    assert sorted(m["text"] for m in mine) == sorted(sent), "a refused send stores nothing"
    assert {m["status"] for m in mine} == {"sent"}
    assert len(sent) + collisions == 8
