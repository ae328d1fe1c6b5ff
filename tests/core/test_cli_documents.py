"""``caucus doc ...`` over a real relay process: publish, list, get, ack, verify, and the
output contract (document id last, --json, one-line errors, verify without a profile)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.test_cli import RelayProcess, caucus, last_line

pytestmark = pytest.mark.socket


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    process.start()
    yield process
    process.stop()


def verify_without_profile(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``caucus doc verify`` with no profile, no passphrase and an empty home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCUS_")}
    env["CAUCUS_HOME"] = str(tmp_path / "nobody")
    return subprocess.run(
        [sys.executable, "-m", "app", "doc", "verify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_publish_list_get_ack_verify(tmp_path: Path, server: RelayProcess, minisign: str) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    caucus(alice, "init", "--name", "Alice", "--relay", server.url)
    caucus(bob, "init", "--name", "Bob", "--relay", server.url)
    caucus(alice, "group", "create", "Freelancers")
    caucus(bob, "join", last_line(caucus(alice, "invite", "Freelancers")))
    caucus(alice, "sync")
    caucus(bob, "sync")

    content = os.urandom(1_300_000)
    source = tmp_path / "contract.pdf"
    source.write_bytes(content)
    published = caucus(
        alice,
        "doc",
        "publish",
        "Freelancers",
        str(source),
        "--title",
        "Contract 2025",
        "--note",
        "Read before Friday",
    )
    document_id = last_line(published)
    assert re.fullmatch(r"[0-9a-f]{32}", document_id)

    caucus(bob, "sync")
    (listed,) = json.loads(caucus(bob, "doc", "list", "Freelancers", "--json").stdout)
    assert listed["id"] == document_id
    assert (listed["title"], listed["version"], listed["filename"], listed["size"]) == (
        "Contract 2025",
        1,
        "contract.pdf",
        len(content),
    )
    assert listed["trusted"] is True
    assert listed["trust"] == "signed by Alice (organizer), verified"
    assert [v["version"] for v in listed["history"]] == [1]

    refused = caucus(
        bob, "doc", "publish", "Freelancers", str(source), "--title", "Mine", check=False
    )
    assert refused.returncode == 1
    assert refused.stderr == "caucus: only organizers can publish documents\n"

    out = tmp_path / "exported" / "contract.pdf"
    out.parent.mkdir()
    got = caucus(bob, "doc", "get", document_id[:8], "--out", str(out))
    assert got.stdout.splitlines()[0] == "signed by Alice (organizer), verified"
    assert out.read_bytes() == content
    signature = Path(str(out) + ".minisig")
    (key,) = out.parent.glob("caucus-*.pub")
    assert signature.is_file()

    stock = subprocess.run(
        [minisign, "-Vm", str(out), "-p", str(key)], capture_output=True, text=True, check=False
    )
    assert stock.returncode == 0, stock.stderr
    ours = verify_without_profile(tmp_path, str(out))
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.startswith("Signature and comment signature verified\n")
    assert "Contract 2025" in ours.stdout
    explicit = verify_without_profile(
        tmp_path, str(out), "--sig", str(signature), "--key", str(key)
    )
    assert explicit.returncode == 0, explicit.stderr

    changed = bytearray(content)
    changed[-1] ^= 1
    out.write_bytes(bytes(changed))
    stock = subprocess.run(
        [minisign, "-Vm", str(out), "-p", str(key)], capture_output=True, text=True, check=False
    )
    assert stock.returncode != 0
    failed = verify_without_profile(tmp_path, str(out))
    assert failed.returncode == 1
    assert failed.stderr.startswith("caucus: signature verification failed")
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr

    caucus(bob, "doc", "ack", document_id)
    caucus(alice, "sync")
    (seen,) = json.loads(caucus(alice, "doc", "list", "Freelancers", "--json").stdout)
    assert [a["name"] for a in seen["acknowledged_by"]] == ["Bob"]
    human = caucus(alice, "doc", "list", "Freelancers").stdout
    assert "acknowledged by Bob" in human and "Contract 2025" in human

    second = tmp_path / "contract-v2.pdf"
    second.write_bytes(b"second version")
    again = caucus(
        alice,
        "doc",
        "publish",
        "Freelancers",
        str(second),
        "--title",
        "Contract 2025",
        "--doc",
        document_id[:10],
    )
    assert last_line(again) == document_id
    caucus(bob, "sync")
    (listed,) = json.loads(caucus(bob, "doc", "list", "Freelancers", "--json").stdout)
    assert [v["version"] for v in listed["history"]] == [2, 1]


def test_doc_errors_are_one_line(tmp_path: Path, server: RelayProcess) -> None:
    home = tmp_path / "dana"
    caucus(home, "init", "--name", "Dana", "--relay", server.url)
    caucus(home, "group", "create", "Freelancers")
    for args, message in (
        (("doc", "get", "0123456789", "--out", str(tmp_path / "x")), "no document"),
        (("doc", "ack", "abc"), "at least 8"),
        (
            ("doc", "publish", "Freelancers", str(tmp_path / "missing.pdf"), "--title", "T"),
            "no file",
        ),
    ):
        result = caucus(home, *args, check=False)
        assert result.returncode == 1, result
        assert message in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    missing = verify_without_profile(tmp_path, str(tmp_path / "nothing.pdf"))
    assert missing.returncode == 1 and "no signature file" in missing.stderr
