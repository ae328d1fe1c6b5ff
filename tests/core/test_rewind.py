"""A relay restored from an older backup (issue #9, item 5): a real relay process, its
real ``caucus-relay backup`` and ``restore``, real profiles. Sequence numbers are handed
out again after the restore; every member still gets every message sent after it, is
warned, and the messages the restore lost are posted again by their senders."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.engine import Engine
from app.core.profile import create_profile
from app.core.rewind import REWIND_KIND
from tests.core.harness import befriend, run
from tests.core.test_cli import RelayProcess

pytestmark = pytest.mark.socket


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    process.start()
    yield process
    process.stop()


def relay_admin(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "relay", *args], check=True, capture_output=True)


def member(tmp_path: Path, name: str, relay_url: str) -> Engine:
    db = create_profile(
        tmp_path / name,
        name=name,
        relay_url=relay_url,
        passphrase=f"passphrase of {name}",
        rng=os.urandom,
        now=int(time.time() * 1000),
        cost="interactive",
    )
    return Engine(db)


def texts(engine: Engine, group_id: bytes) -> list[str]:
    return [m.text for m in engine.messages(group_id) if m.kind == "text"]  # not event lines


def rewind_warnings(engine: Engine, group_id: bytes) -> list[str]:
    return [
        str(row[0])
        for row in engine.db.all(
            "SELECT detail FROM warnings WHERE group_id = ? AND kind = ?", (group_id, REWIND_KIND)
        )
    ]


def test_nothing_sent_after_a_restore_is_missed(tmp_path: Path, relay: RelayProcess) -> None:
    names = ("alice", "bob", "carol", "dave")
    alice, bob, carol, dave = engines = [member(tmp_path, n, relay.url) for n in names]
    backup = tmp_path / "relay-backup.db"
    after = [f"after the restore {i}" for i in range(1, 7)]
    everything = ["before the backup", "lost 1", "lost 2", "lost 3", "lost 4", *after]

    async def scenario() -> None:
        group_id = await alice.create_group("Freelancers")
        await befriend(alice, group_id, bob, carol, dave)
        for engine in engines:
            await engine.sync()
        await alice.send_text(group_id, "before the backup")
        for engine in engines:
            await engine.sync()
        relay_admin("backup", "--db", str(relay.db), "--out", str(backup))
        # Acknowledged by the relay, then lost by the restore. Carol reads them; Dave,
        # offline, does not.
        await alice.send_text(group_id, "lost 1")
        await bob.send_text(group_id, "lost 2")
        await alice.send_text(group_id, "lost 3")
        await bob.send_text(group_id, "lost 4")
        for engine in (alice, bob, carol):
            await engine.sync()
        assert texts(carol, group_id)[-4:] == ["lost 1", "lost 2", "lost 3", "lost 4"]
        cursor_before = carol.session(group_id).cursor

        relay.stop()
        relay_admin("restore", "--from", str(backup), "--db", str(relay.db))
        relay.start()

        # Bob and Alice send before they sync: the relay hands out the lost numbers again.
        for i, text in enumerate(after):
            await (bob if i % 2 == 0 else alice).send_text(group_id, text)
        carol_report = await carol.sync()
        # The senders notice the rewind too and post the messages it lost again.
        await alice.sync()
        await bob.sync()
        await carol.sync()
        dave_report = await dave.sync()

        # Four of the six messages sent after the restore sit at or below the cursor
        # Carol had: the silent loss.
        reused = carol.db.all(
            "SELECT relay_seq FROM messages WHERE group_id = ? AND text LIKE 'after the %'",
            (group_id,),
        )
        assert sum(int(row[0]) <= cursor_before for row in reused) == 4

        carol_texts = texts(carol, group_id)
        assert sorted(carol_texts) == sorted(everything), carol_texts  # each once
        assert [t for t in carol_texts if t in after] == after
        assert any("restored from an older copy" in w for w in carol_report.warnings)
        assert len(rewind_warnings(carol, group_id)) == 1

        # Dave was behind: he gets the messages sent after the restore and, posted again
        # by their senders, those the restore lost.
        dave_texts = texts(dave, group_id)
        assert sorted(dave_texts) == sorted(everything), dave_texts
        assert any("restored from an older copy" in w for w in dave_report.warnings)
        assert len(rewind_warnings(dave, group_id)) == 1
        for engine in (alice, bob):
            assert sorted(texts(engine, group_id)) == sorted(everything)
            assert len(rewind_warnings(engine, group_id)) == 1
            assert all(
                m.status == "sent"
                for m in engine.messages(group_id)
                if m.is_mine and m.kind == "text"
            )

    async def main() -> None:
        try:
            await scenario()
        finally:
            for engine in engines:
                await engine.close()

    run(main())
