"""One relay process per SQLite file: a second one is refused at start, the first is unharmed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_encode, bearer_header
from relay.codec import decode_frames
from relay.config import RelayConfig
from relay.http import create_app
from relay.lockfile import DatabaseLock, DatabaseLocked
from tests.relay.test_socket import ROOT, RelayProcess

pytestmark = [pytest.mark.socket, pytest.mark.timeout(90)]


def test_second_process_on_the_same_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "relay.db"
    first = RelayProcess(db)
    try:
        with httpx.Client(base_url=first.url, timeout=10) as http:
            mid, cap = os.urandom(16).hex(), os.urandom(32)
            body = {"cap_hash": b64url_encode(cap_hash(cap)), "head": b64url_encode(bytes(32))}
            assert http.put(f"/v1/mailboxes/{mid}", json=body).status_code == 201
            headers = {"Authorization": bearer_header(cap)}
            assert http.post(f"/v1/mailboxes/{mid}/items", content=b"one", headers=headers)

            second = subprocess.run(
                [sys.executable, "-m", "relay", "serve", "--db", str(db), "--port", "0"],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 1
            assert "listening" not in second.stdout
            lines = second.stderr.strip().splitlines()
            assert lines[-1].startswith("caucus-relay: cannot start: another relay process")

            # the first process still serves, numbering continues where it was
            reply = http.post(f"/v1/mailboxes/{mid}/items", content=b"two", headers=headers)
            assert reply.json() == {"seq": 2}
            got = http.get(f"/v1/mailboxes/{mid}/items", headers=headers)
            assert decode_frames(got.content) == [(1, b"one"), (2, b"two")]
    finally:
        assert first.stop() == 0
    # once the first has stopped, the file can be served again
    again = RelayProcess(db)
    assert again.stop() == 0


def test_lock_is_per_database_and_released_on_close(tmp_path: Path) -> None:
    app = create_app(RelayConfig(db_path=tmp_path / "a.db"))
    app.relay.start()
    with pytest.raises(DatabaseLocked):
        DatabaseLock(tmp_path / "a.db").acquire()
    other = DatabaseLock(tmp_path / "b.db")
    other.acquire()  # another file is not affected
    other.release()
    app.close()
    lock = DatabaseLock(tmp_path / "a.db")
    lock.acquire()
    assert lock.held
    lock.release()
