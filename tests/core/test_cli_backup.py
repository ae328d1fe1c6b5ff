"""``caucus backup create|restore`` as a person runs it, against a real relay process."""

from __future__ import annotations

import os
from pathlib import Path

from crypto.backup import RecoveryKey
from tests.core.test_cli import RelayProcess, caucus, last_line, relay

__all__ = ["relay"]  # the fixture, used by name


def _words(result) -> str:
    words = last_line(result)
    assert len(words.split()) == 24
    return words


def test_backup_restore_and_a_forgotten_passphrase(tmp_path: Path, relay: RelayProcess) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    caucus(alice, "init", "--name", "Alice", "--relay", relay.url)
    caucus(bob, "init", "--name", "Bob", "--relay", relay.url)
    caucus(alice, "group", "create", "Depot")
    code = last_line(caucus(alice, "invite", "Depot"))
    caucus(bob, "join", code)
    caucus(alice, "sync")
    caucus(bob, "sync")
    caucus(alice, "send", "Depot", "kept in the backup")
    backup = tmp_path / "alice.caucus-backup"
    first = caucus(alice, "backup", "create", "--out", str(backup))
    words = _words(first)
    again = caucus(alice, "backup", "create", "--out", str(tmp_path / "second.caucus-backup"))
    assert words not in again.stdout  # the recovery key is printed once only

    restored = tmp_path / "alice-new"
    result = caucus(restored, "backup", "restore", str(backup), stdin=words + "\n")
    assert f"Profile restored in {restored}" in result.stdout
    caucus(restored, "send", "Depot", "from the restored profile")
    caucus(bob, "sync")
    shown = caucus(bob, "messages", "Depot").stdout
    assert "kept in the backup" in shown and "from the restored profile" in shown
    assert "warning" not in caucus(bob, "sync").stderr

    # A wrong recovery key: one line, exit status 1, nothing created.
    wrong = RecoveryKey.generate(os.urandom).words()  # valid words of another key
    target = tmp_path / "never"
    failed = caucus(target, "backup", "restore", str(backup), stdin=wrong + "\n", check=False)
    assert failed.returncode == 1
    assert failed.stderr == "caucus: the recovery key does not open this backup\n"
    assert not target.exists()

    # A home that holds a profile is refused without --replace ...
    refused = caucus(alice, "backup", "restore", str(backup), stdin=words + "\n", check=False)
    assert refused.returncode == 1 and "already exists" in refused.stderr
    # ... and with it (a forgotten passphrase) the old one is moved aside once the new
    # one opens; the new passphrase opens the profile.
    replaced = caucus(alice, "backup", "restore", "--replace", str(backup), stdin=words + "\n")
    assert "was moved to" in replaced.stdout
    assert list(tmp_path.glob("alice.replaced-*"))
    assert "kept in the backup" in caucus(alice, "messages", "Depot").stdout


def test_a_restore_that_cannot_start_says_so_before_asking_for_the_recovery_key(
    tmp_path: Path,
) -> None:
    """A missing backup file, or a folder that holds a profile, is named at once: nobody
    types 24 words for a restore that cannot start (standard input is empty here, so
    asking for the key first would fail on the key instead)."""
    missing = tmp_path / "nowhere.caucus-backup"
    target = tmp_path / "new-profile"
    failed = caucus(target, "backup", "restore", str(missing), stdin="", check=False)
    assert failed.returncode == 1
    assert failed.stderr == f"caucus: no backup file {missing}\n"
    assert not target.exists()

    existing = tmp_path / "alice"
    caucus(existing, "init", "--name", "Alice", "--relay", "http://127.0.0.1:9")
    backup = tmp_path / "some.caucus-backup"
    backup.write_bytes(b"not read: the folder is refused first")
    refused = caucus(existing, "backup", "restore", str(backup), stdin="", check=False)
    assert refused.returncode == 1
    assert "a profile already exists in" in refused.stderr
    assert refused.stderr.count("\n") == 1
