"""Encrypted backups and restores (docs/protocol.md section 9), with real profiles and
the real relay in-process: what a restored member can do, that it never seals with a
message key already used, and that every bad file changes nothing."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.core.backup import create_backup, read_recovery_words, restore_backup
from app.core.backup_schedule import BackupSchedule, Schedule
from app.core.engine import Engine
from app.core.errors import AlreadyExists, ClientError, WrongPassphrase
from app.core.profile import unlock
from app.core.send_gate import SendHeld
from crypto.backup import RecoveryKey
from crypto.errors import CaucusError, DecryptionFailed, MalformedData, UnsupportedVersion
from crypto.group_log import Role
from crypto.items import ItemType, peek_item
from crypto.key_schedule import EpochKeys
from crypto.message import open_sender_data
from tests.core.harness import Clock, befriend, make_engine, make_relay, run, sync_all

NEW_PASSPHRASE = "quartz lantern meadow violin"
HOUR = 3_600_000


class ItemLog(httpx.AsyncBaseTransport):
    """Keeps every item posted to a group mailbox (the relay's copy of them)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.items: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        path = request.url.path
        if request.method == "POST" and "/mailboxes/" in path and path.endswith("/items"):
            await response.aread()
            if response.status_code == 200:
                self.items.append(body)
        return response


@dataclass
class World:
    tmp: Path
    clock: Clock
    log: ItemLog
    alice: Engine
    bob: Engine
    group_id: bytes
    opened: list[Engine]

    def open_restored(self, home: Path, passphrase: str = NEW_PASSPHRASE) -> Engine:
        engine = Engine(unlock(home, passphrase), transport=self.log, clock_ms=self.clock)
        self.opened.append(engine)
        return engine


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    log = ItemLog(httpx.ASGITransport(app=app))
    alice = make_engine(tmp_path, "alice", log, clock)
    bob = make_engine(tmp_path, "bob", log, clock)

    async def setup() -> bytes:
        group_id = await alice.create_group("Night Shift")
        await befriend(alice, group_id, bob)
        await sync_all(alice, bob, alice, bob)
        return group_id

    w = World(tmp_path, clock, log, alice, bob, run(setup()), [])
    yield w
    for engine in (alice, bob, *w.opened):
        run(engine.close())
    app.close()


def _backup(w: World, name: str = "alice.caucus-backup") -> tuple[Path, RecoveryKey]:
    made = create_backup(w.alice.db, w.tmp / "alice", w.tmp / name, rng=os.urandom, now=w.clock())
    assert made.recovery_words is not None
    assert len(made.recovery_words.split()) == 24
    return made.path, read_recovery_words(made.recovery_words)


def _restore(path: Path, key: RecoveryKey, home: Path, *, replace: bool = False) -> object:
    return restore_backup(
        path,
        key,
        home,
        NEW_PASSPHRASE,
        rng=os.urandom,
        now=1,
        cost="interactive",
        replace=replace,
    )


def _warnings(engine: Engine, group_id: bytes) -> list[str]:
    rows = engine.db.all("SELECT kind, detail FROM warnings WHERE group_id = ?", (group_id,))
    return [f"{kind}: {detail}" for kind, detail in rows]


def test_a_restored_member_never_seals_with_a_used_message_key(world: World) -> None:
    """The original sends after the backup; the restored copy sends next: everyone gets
    every message without a warning and no (sender, epoch, counter) is used twice."""
    w = world
    gid = w.group_id
    epoch_keys: dict[int, EpochKeys] = {}

    def snapshot() -> None:
        keys = w.bob.session(gid).keys
        assert keys is not None
        epoch_keys[keys.epoch] = keys

    def send(engine: Engine, text: str) -> None:
        w.clock.advance(seconds=1)  # the history is shown in the order of sending times
        run(engine.send_text(gid, text))

    send(w.alice, "before the backup")
    path, key = _backup(w)
    send(w.alice, "after the backup 1")
    send(w.alice, "after the backup 2")
    run(w.bob.sync())
    snapshot()

    home = w.tmp / "alice-restored"
    _restore(path, key, home)
    restored = w.open_restored(home)
    assert restored.identity.public_key == w.alice.identity.public_key
    send(restored, "from the restored copy 1")
    send(restored, "from the restored copy 2")
    run(w.bob.sync())
    snapshot()
    run(restored.sync())

    texts = [
        "before the backup",
        "after the backup 1",
        "after the backup 2",
        "from the restored copy 1",
        "from the restored copy 2",
    ]
    for engine in (w.bob, restored):
        # The restored copy sent before it had synced: its own rows come first there, as
        # for anyone who sends while behind; by sending time the history is the same.
        said = [m for m in engine.messages(gid) if m.kind == "text"]  # not the event lines
        shown = sorted(said, key=lambda m: m.sent_at)
        assert [m.text for m in shown] == texts, engine.name
        assert [m.warning for m in said] == [None] * 5
        assert _warnings(engine, gid) == []
    assert len(epoch_keys) == 2  # the restored copy entered an epoch of its own

    # The old computer is still running and sends again: it cannot open the restored
    # copy's epoch (its box went to a key only the restored copy holds), so nothing it
    # seals reaches anyone, and it seals nothing in that epoch.
    with contextlib.suppress(CaucusError):
        send(w.alice, "from the old computer")
    run(w.bob.sync())
    assert "from the old computer" not in [m.text for m in w.bob.messages(gid)]
    assert w.alice.session(gid).keys.epoch not in (None, max(epoch_keys))  # type: ignore[union-attr]

    used: list[tuple[int, int, int]] = []
    for item in dict.fromkeys(w.log.items):  # the same bytes posted twice are one item
        if item[1] != ItemType.MESSAGE:
            continue  # a commit, a freshness head, a help-mailbox item
        _, kind, epoch = peek_item(item)
        if kind != ItemType.MESSAGE or epoch not in epoch_keys:
            continue
        envelope = open_sender_data(epoch_keys[epoch], item)
        used.append((envelope.sender_index, envelope.epoch, envelope.counter))
    assert len(used) >= 5
    assert len(used) == len(set(used)), used


def test_a_restored_organizer_keeps_its_role_and_votes(world: World) -> None:
    w = world
    gid = w.group_id
    run(sync_all(w.alice, w.bob, w.alice, w.bob))  # ballot keys registered and spread
    early = run(
        w.alice.ballots.create(
            gid, "Strike on Friday?", closes_at=w.clock.now + HOUR, options=("Yes", "No")
        )
    )
    run(sync_all(w.bob, w.alice))
    path, key = _backup(w)
    home = w.tmp / "alice-restored"
    _restore(path, key, home)
    restored = w.open_restored(home)
    state, _ = restored.group_state(gid)
    assert state.role_of(restored.identity.public_key) == Role.ORGANIZER
    run(restored.sync())
    run(restored.ballots.vote(early, "Yes", delay_ms=0))
    late = run(
        restored.ballots.create(
            gid, "And on Saturday?", closes_at=w.clock.now + HOUR, options=("Yes", "No")
        )
    )
    run(sync_all(w.bob, restored))
    run(restored.ballots.vote(late, "No", delay_ms=0))
    run(w.bob.ballots.vote(late, "Yes", delay_ms=0))
    run(sync_all(restored, w.bob, restored))
    for ballot_id in (early, late):
        run(restored.ballots.close(ballot_id))
    run(sync_all(w.bob, restored))
    assert restored.ballots.results(gid, early)["counts"] == {"Yes": 1, "No": 0}
    assert restored.ballots.results(gid, late)["counts"] == {"Yes": 1, "No": 1}
    assert w.bob.ballots.results(gid, late)["counts"] == {"Yes": 1, "No": 1}
    assert restored.ballots.results(gid, early)["mine"] == {"counted": True, "choice": "Yes"}


def test_a_stolen_backup_reveals_nothing_without_its_recovery_key(world: World) -> None:
    w = world
    canary = "canary-7f3a9e1c-in-the-history"
    run(w.alice.send_text(w.group_id, canary))
    run(w.bob.sync())
    path, key = _backup(w)
    raw = path.read_bytes()
    # The profile keeps only the public half: no column of any table holds the recovery
    # key or the private key it derives, so a seized unlocked profile opens no backup.
    secrets = (key.secret, bytes(key.private_key()))
    for (table,) in w.alice.db.all("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in w.alice.db.all(f'SELECT * FROM "{table}"'):
            for value in row:
                if isinstance(value, bytes):
                    assert not any(secret in value for secret in secrets), table
    assert w.alice.db.one("SELECT public_key FROM backup_settings")[0] == key.public_key()
    for needle in (canary.encode(), canary.encode("utf-16-le"), b"alice", b"Night Shift"):
        assert needle not in raw
    assert b"SQLite format" not in raw
    assert w.alice.identity.public_key not in raw


def test_later_backups_need_no_recovery_key_and_open_with_the_first(world: World) -> None:
    w = world
    _, key = _backup(w, "first.caucus-backup")
    run(w.alice.send_text(w.group_id, "between the two"))
    second = create_backup(
        w.alice.db, w.tmp / "alice", w.tmp / "second.caucus-backup", rng=os.urandom, now=2
    )
    assert second.recovery_words is None  # shown once, at the first backup only
    home = w.tmp / "restored"
    _restore(second.path, key, home)
    restored = w.open_restored(home)
    assert "between the two" in [m.text for m in restored.messages(w.group_id)]


@pytest.mark.parametrize(
    ("damage", "error", "line"),
    [
        ("wrong-key", DecryptionFailed, "the recovery key does not open this backup"),
        ("flipped-byte", DecryptionFailed, "does not authenticate"),
        ("truncated", MalformedData, "truncated"),
        ("cut-at-chunk", MalformedData, "truncated"),
        ("appended", MalformedData, "data after its end"),
        ("other-format", MalformedData, "not a Caucus backup file"),
        ("other-version", UnsupportedVersion, "format version 2"),
        ("empty", MalformedData, "not a Caucus backup file"),
    ],
)
def test_a_bad_backup_file_is_one_line_and_creates_nothing(
    world: World, damage: str, error: type[Exception], line: str
) -> None:
    w = world
    path, key = _backup(w)
    raw = bytearray(path.read_bytes())
    if damage == "wrong-key":
        key = RecoveryKey.generate(os.urandom)
    elif damage == "flipped-byte":
        raw[len(raw) // 2] ^= 0x01
    elif damage == "truncated":
        del raw[len(raw) - 100 :]
    elif damage == "cut-at-chunk":
        del raw[129 + 4 + 65536 + 17 :]  # header, then exactly the first whole chunk
    elif damage == "appended":
        raw += b"\0" * 8
    elif damage == "other-format":
        raw[:8] = b"SQLite f"
    elif damage == "other-version":
        raw[8] = 2
    elif damage == "empty":
        raw = bytearray()
    path.write_bytes(bytes(raw))
    before = sorted(p.name for p in w.tmp.iterdir())
    home = w.tmp / "restored"
    with pytest.raises(error) as caught:
        _restore(path, key, home)
    assert line in str(caught.value)
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in w.tmp.iterdir()) == before  # nothing created


def test_restore_refuses_a_folder_that_holds_a_profile(world: World) -> None:
    w = world
    path, key = _backup(w)
    bob_home = w.tmp / "bob"
    before = {p.name: p.stat().st_mtime_ns for p in bob_home.iterdir()}
    with pytest.raises(AlreadyExists, match="a profile already exists"):
        _restore(path, key, bob_home)
    assert {p.name: p.stat().st_mtime_ns for p in bob_home.iterdir()} == before


def test_mistyped_recovery_words_are_one_line_without_the_words() -> None:
    words = RecoveryKey.generate(os.urandom).words().split()
    with pytest.raises(ClientError, match="24 words, not 23"):
        read_recovery_words(" ".join(words[:-1]))
    swapped = [*words[:-2], words[-1], words[-2]]
    if swapped != words:
        with pytest.raises(ClientError) as caught:
            read_recovery_words(" ".join(swapped))
        assert words[-1] not in str(caught.value)
    with pytest.raises(ClientError, match="not on the word list"):
        read_recovery_words(" ".join([*words[:-1], "caucusx"]))


def test_a_forgotten_passphrase_is_replaced_only_once_the_new_profile_opens(
    world: World,
) -> None:
    w = world
    path, key = _backup(w)
    home = w.tmp / "alice"
    run(w.alice.close())
    w.alice = w.bob  # closed once by the fixture, as bob
    w.opened.remove(w.bob) if w.bob in w.opened else None
    # A damaged file replaces nothing: the old profile stays where it was.
    damaged = w.tmp / "damaged.caucus-backup"
    damaged.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(MalformedData):
        _restore(damaged, key, home, replace=True)
    assert (home / "profile.db").exists()
    assert not list(w.tmp.glob("alice.replaced-*"))
    result = _restore(path, key, home, replace=True)
    aside = result.replaced  # type: ignore[attr-defined]
    assert aside is not None and (aside / "profile.db").exists()
    with pytest.raises(WrongPassphrase):
        unlock(home, "passphrase of alice").close()
    restored = w.open_restored(home)
    assert restored.group_ids() == [w.group_id]


def test_a_member_restored_from_before_its_key_rotation_sends_nothing(world: World) -> None:
    """The original replaced its delivery key after the backup: the restored copy cannot
    open the group's later epochs (key recovery answers go to the new key too), so it
    holds its queue and says why, instead of sealing anything."""
    w = world
    gid = w.group_id
    path, key = _backup(w)
    run(w.alice.delivery_keys.rotate(gid))
    run(w.bob.sync())
    home = w.tmp / "alice-restored"
    _restore(path, key, home)
    restored = w.open_restored(home)
    posted = len(w.log.items)
    with pytest.raises(SendHeld, match="re-invite"):
        run(restored.send_text(gid, "never sealed"))
    run(restored.sync())
    run(w.bob.sync())
    assert "never sealed" not in [m.text for m in w.bob.messages(gid)]
    row = restored.db.one("SELECT item FROM messages WHERE text = 'never sealed'")
    assert row is not None and row[0] is None  # queued, never sealed
    assert not any(i[1] == ItemType.MESSAGE for i in w.log.items[posted:])


def test_periodic_backups_run_when_due_and_keep_the_last_n(world: World) -> None:
    w = world
    schedule = BackupSchedule(w.alice.db, w.tmp / "alice")
    folder = w.tmp / "periodic"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a backup: never pruned")
    with pytest.raises(ClientError, match="first backup"):
        schedule.configure(folder, Schedule.DAILY, 2)
    first = schedule.back_up_now(folder, rng=os.urandom, now=w.clock())
    assert first.recovery_words is not None
    schedule.configure(folder, Schedule.DAILY, 2)
    assert not schedule.due(w.clock())  # the first backup was just made
    made = []
    for _ in range(3):
        w.clock.advance(days=1)
        assert schedule.due(w.clock())
        backup = schedule.run_if_due(rng=os.urandom, now=w.clock())
        assert backup is not None and backup.recovery_words is None
        assert schedule.run_if_due(rng=os.urandom, now=w.clock()) is None  # not due again
        made.append(backup.path.name)
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == sorted([*made[-2:], "notes.txt"])
    schedule.configure(folder, Schedule.OFF, 2)
    w.clock.advance(days=30)
    assert schedule.run_if_due(rng=os.urandom, now=w.clock()) is None


def test_a_failed_first_backup_keeps_no_key_nobody_was_shown(world: World) -> None:
    w = world
    blocker = w.tmp / "not-a-folder"
    blocker.write_text("a file where the backup's folder should be")
    with pytest.raises(ClientError, match="cannot write the backup") as caught:
        create_backup(
            w.alice.db, w.tmp / "alice", blocker / "x.caucus-backup", rng=os.urandom, now=1
        )
    assert "\n" not in str(caught.value)
    assert w.alice.db.one("SELECT count(*) FROM backup_settings")[0] == 0
    path, key = _backup(w)  # the next one makes the key and shows it
    assert path.exists() and key.public_key() == bytes(
        w.alice.db.one("SELECT public_key FROM backup_settings")[0]
    )


def test_a_backup_into_a_missing_folder_is_refused_and_makes_no_folder(world: World) -> None:
    """A folder on a drive that is not plugged in: the backup must not land on this
    computer's own disk under the same path."""
    w = world
    unplugged = w.tmp / "media" / "usb-stick" / "caucus"
    with pytest.raises(ClientError, match="does not exist") as caught:
        create_backup(
            w.alice.db, w.tmp / "alice", unplugged / "x.caucus-backup", rng=os.urandom, now=1
        )
    assert "\n" not in str(caught.value) and str(unplugged) in str(caught.value)
    assert not (w.tmp / "media").exists()
    assert w.alice.db.one("SELECT count(*) FROM backup_settings")[0] == 0

    _backup(w)  # a first backup made the key; now the periodic one, into a folder gone
    schedule = BackupSchedule(w.alice.db, w.tmp / "alice")
    schedule.configure(unplugged, Schedule.DAILY, 3)
    w.clock.advance(days=2)
    with pytest.raises(ClientError, match="does not exist"):
        schedule.run_if_due(rng=os.urandom, now=w.clock())
    assert not (w.tmp / "media").exists()
