"""``caucus daemon`` and ``caucus rpc`` over real processes: a real relay process, two
profiles each served by a real daemon subprocess, JSON-RPC over their Unix sockets
(docs/daemon.md)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli_json import message_json
from app.core.events import MessageAdded, SyncProgress
from app.core.views import MessageView
from app.daemon.methods import event_notification
from app.daemon.protocol import MAX_LINE, ErrorCode, RpcError, parse_request
from tests.core.test_cli import RelayProcess, caucus

pytestmark = pytest.mark.socket

WAIT = 120.0  # bound on any one wait; never reached unless something is broken


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "relay.db")
    process.start()
    yield process
    process.stop()


class DaemonProcess:
    """``caucus --home HOME daemon``, started and waited for until it listens."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.socket = home / "daemon.sock"
        env = dict(
            os.environ,
            CAUCUS_PASSPHRASE=f"passphrase {home.name}",
            CAUCUS_KDF_COST="interactive",
        )
        env.pop("CAUCUS_DEBUG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--home", str(home), "daemon"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        seen = []
        for line in self.proc.stdout:
            seen.append(line)
            if line.startswith("caucus daemon listening on "):
                return
        self.proc.wait(WAIT)
        raise RuntimeError(f"the daemon did not start: {''.join(seen)}")

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Rpc:
    """One connection to a daemon: requests, their replies, and notifications kept."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT)
        self.sock.connect(str(path))
        self.lines = self.sock.makefile("rb")
        self.last_id = 0
        self.notifications: list[dict[str, Any]] = []

    def close(self) -> None:
        self.lines.close()
        self.sock.close()

    def read(self) -> dict[str, Any]:
        line = self.lines.readline()
        if not line:
            raise EOFError("the daemon closed the connection")
        message: dict[str, Any] = json.loads(line)
        return message

    def reply(self, request_id: object) -> dict[str, Any]:
        while True:
            message = self.read()
            if "method" in message and "id" not in message:
                self.notifications.append(message)
            elif message.get("id") == request_id:
                return message

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.last_id += 1
        request: dict[str, Any] = {"jsonrpc": "2.0", "id": self.last_id, "method": method}
        if params is not None:
            request["params"] = params
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        return self.reply(self.last_id)

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        answer = self.call(method, params)
        assert "result" in answer, answer
        return answer["result"]

    def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.call(method, params)
        assert "error" in answer, answer
        error: dict[str, Any] = answer["error"]
        return error

    def wait_for(self, method: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The params of the first ``method`` notification that ``match`` accepts."""
        deadline = time.monotonic() + WAIT
        seen = 0
        while time.monotonic() < deadline:
            for note in self.notifications[seen:]:
                if note["method"] == method and match(note["params"]):
                    params: dict[str, Any] = note["params"]
                    return params
            seen = len(self.notifications)
            message = self.read()
            if "method" in message:
                self.notifications.append(message)
        raise AssertionError(f"no {method} notification: {self.notifications}")


def rpc_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``caucus rpc`` with no passphrase anywhere: the zero-KDF path for scripts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCUS_")}
    return subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), "rpc", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def test_a_message_sent_through_one_daemon_reaches_the_others_subscriber(
    tmp_path: Path, relay: RelayProcess
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    caucus(alice, "init", "--name", "Alice", "--relay", relay.url)
    caucus(bob, "init", "--name", "Bob", "--relay", relay.url)
    caucus(alice, "group", "create", "Freelancers")

    daemons = [DaemonProcess(alice), DaemonProcess(bob)]
    streaming: subprocess.Popen[str] | None = None
    try:
        for daemon in daemons:
            assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o600
        to_alice, to_bob = Rpc(alice / "daemon.sock"), Rpc(bob / "daemon.sock")
        assert to_bob.result("subscribe") == {"subscribed": True}
        streaming = subprocess.Popen(
            [sys.executable, "-m", "app", "--home", str(bob), "rpc", "subscribe"],
            env={k: v for k, v in os.environ.items() if not k.startswith("CAUCUS_")},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert streaming.stdout is not None
        assert json.loads(streaming.stdout.readline()) == {"subscribed": True}

        code = to_alice.result("invite", {"group": "Freelancers"})["code"]
        assert to_bob.result("join", {"code": code}) == {"requested": True}
        joined = to_bob.wait_for("group_joined", lambda p: p["name"] == "Freelancers")
        group_id = joined["group"]
        assert [g["id"] for g in to_bob.result("groups")] == [group_id]

        sent = rpc_cli(alice, "send", json.dumps({"group": "Freelancers", "text": "Vote at 6"}))
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["text"] == "Vote at 6"

        note = to_bob.wait_for("message", lambda p: p["message"]["text"] == "Vote at 6")
        assert note["group"] == group_id
        assert (note["message"]["sender"], note["message"]["status"]) == ("Alice", "received")
        for line in streaming.stdout:  # `caucus rpc subscribe`: the same, one per line
            streamed = json.loads(line)
            # Bob's own join comes first, as an event line; then Alice's words.
            if streamed["method"] == "message" and streamed["params"]["message"]["kind"] == "text":
                assert streamed["params"] == note
                break
        else:
            raise AssertionError("`caucus rpc subscribe` ended without the message")
        over_socket = to_bob.result("messages", {"group": group_id})
        assert [(m["kind"], m["text"]) for m in over_socket] == [
            ("event", "Bob joined with Alice's invite"),
            ("text", "Vote at 6"),
        ]
        assert to_bob.result("messages", {"group": group_id, "limit": 1}) == over_socket[-1:]
        members = to_alice.result("members", {"group": "Freelancers"})
        assert sorted(m["name"] for m in members) == ["Alice", "Bob"]

        locked = caucus(bob, "send", "Freelancers", "behind the daemon's back", check=False)
        assert locked.returncode == 1
        assert "is open in another Caucus process" in locked.stderr

        to_alice.close()
        to_bob.close()
        assert daemons[1].stop() == 0
        assert not (bob / "daemon.sock").exists()
        assert streaming.wait(WAIT) == 0  # the stream ends with the daemon
    finally:
        for daemon in daemons:
            daemon.stop()
        if streaming is not None and streaming.poll() is None:
            streaming.kill()
            streaming.wait()
    assert not (alice / "daemon.sock").exists()

    # The daemon answers exactly what the CLI prints with --json.
    printed = caucus(bob, "messages", group_id, "--json").stdout
    assert json.loads(printed) == over_socket


def test_errors_stale_sockets_and_a_second_daemon(tmp_path: Path, relay: RelayProcess) -> None:
    home = tmp_path / "dana"
    caucus(home, "init", "--name", "Dana", "--relay", relay.url)
    cli_error = caucus(home, "messages", "Nope", "--json", check=False).stderr.strip()
    assert cli_error == "caucus: no group 'Nope'"

    path = home / "daemon.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a socket file nobody listens on: a daemon that was killed
    stale.close()
    daemon = DaemonProcess(home)
    try:
        rpc = Rpc(path)
        rpc.sock.sendall(b'{"jsonrpc": "2.0", "id": 7, "method": \n')
        assert rpc.reply(None)["error"]["code"] == -32700
        assert rpc.error("launch")["code"] == -32601
        assert rpc.error("members", {})["code"] == -32602
        assert rpc.error("messages", {"group": "Nope", "limit": "ten"})["code"] == -32602
        assert rpc.error("groups", {"extra": 1})["code"] == -32602
        failed = rpc.error("messages", {"group": "Nope"})
        assert failed["code"] == -32001
        assert f"caucus: {failed['message']}" == cli_error
        # a line just under the limit is read (and its unknown parameter refused)
        padding = "x" * (MAX_LINE - 100)
        assert rpc.error("version", {"pad": padding})["code"] == -32602
        assert rpc.result("version")["version"].startswith("caucus ")
        # a request without an id is a notification: answered by nothing at all
        rpc.sock.sendall(b'{"jsonrpc": "2.0", "method": "groups"}\n')
        rpc.sock.sendall(b'{"jsonrpc": "2.0", "id": "next", "method": "groups"}\n')
        assert rpc.read() == {"jsonrpc": "2.0", "id": "next", "result": []}

        through_cli = rpc_cli(home, "messages", '{"group": "Nope"}')
        assert (through_cli.returncode, through_cli.stderr) == (1, cli_error + "\n")
        assert rpc_cli(home, "launch").returncode == 2

        huge = Rpc(path)
        try:
            huge.sock.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "' + b"x" * MAX_LINE)
            huge.sock.sendall(b'"}\n')
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon stopped reading once the line passed 1 MiB
        refused = huge.read()
        assert refused["error"]["code"] == -32600 and "1 MiB" in refused["error"]["message"]
        with pytest.raises(EOFError):
            huge.read()
        huge.close()

        second = caucus(home, "daemon", check=False)
        assert second.returncode == 1
        assert second.stderr == f"caucus: a Caucus daemon already answers on {path}\n"
        other = tmp_path / "erin"
        caucus(other, "init", "--name", "Erin", "--relay", relay.url)
        elsewhere = caucus(other, "daemon", "--socket", str(path), check=False)
        assert "already answers" in elsewhere.stderr
        assert rpc.result("version")  # the first daemon is unharmed
        rpc.close()
    finally:
        status = daemon.stop()
    assert status == 0
    assert not path.exists()
    no_daemon = rpc_cli(home, "groups")
    assert no_daemon.returncode == 1 and "no Caucus daemon answers" in no_daemon.stderr


def test_ballots_and_votes_over_the_socket(tmp_path: Path, relay: RelayProcess) -> None:
    home = tmp_path / "alice"
    caucus(home, "init", "--name", "Alice", "--relay", relay.url)
    caucus(home, "group", "create", "Freelancers")
    caucus(home, "sync")  # registers Alice's ballot key, so she is eligible
    created = caucus(
        home, "ballot", "create", "Freelancers",
        "--question", "Accept the rate card?",
        "--option", "Accept", "--option", "Reject",
        "--closes-in", "1h",
    )  # fmt: skip
    ballot_id = created.stdout.strip().splitlines()[-1]
    printed = json.loads(caucus(home, "ballot", "list", "Freelancers", "--json").stdout)
    cli_refusal = caucus(home, "ballot", "vote", ballot_id, "Maybe", check=False).stderr.strip()
    assert cli_refusal.startswith("caucus: no option 'Maybe'")

    daemon = DaemonProcess(home)
    try:
        rpc = Rpc(daemon.socket)
        assert rpc.result("ballots", {"group": "Freelancers"}) == printed
        refused = rpc.error("vote", {"ballot": ballot_id, "choice": "Maybe"})
        assert (refused["code"], f"caucus: {refused['message']}") == (-32001, cli_refusal)
        assert rpc.error("vote", {"ballot": ballot_id})["code"] == -32602
        cast = rpc.result("vote", {"ballot": ballot_id[:12], "choice": "Reject"})
        assert cast == {"revision": 0, "posted": True, "voted": "1 of 1 have voted"}
        (after,) = rpc.result("ballots", {"group": "Freelancers"})
        assert (after["turnout"], after["my_revision"]) == (1, 0)
        rpc.close()
    finally:
        status = daemon.stop()
    assert status == 0
    listed = json.loads(caucus(home, "ballot", "list", "Freelancers", "--json").stdout)
    assert listed == [after]


@pytest.mark.parametrize(
    ("line", "code", "request_id"),
    [
        (b"\xff\xfe", ErrorCode.PARSE_ERROR, None),
        (b'{"jsonrpc": "2.0", "id": 1, "method"', ErrorCode.PARSE_ERROR, None),
        (b"[1, 2]", ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc": "2.0", "id": true, "method": "groups"}', ErrorCode.INVALID_REQUEST, None),
        (b'{"id": 4, "method": "groups"}', ErrorCode.INVALID_REQUEST, 4),
        (b'{"jsonrpc": "2.0", "id": 5, "method": 7}', ErrorCode.INVALID_REQUEST, 5),
        (b'{"jsonrpc": "2.0", "id": 6, "method": "m", "params": [1]}', ErrorCode.INVALID_PARAMS, 6),
    ],
)
def test_malformed_requests_get_their_error_code(
    line: bytes, code: ErrorCode, request_id: object
) -> None:
    with pytest.raises(RpcError) as caught:
        parse_request(line)
    assert (caught.value.code, caught.value.request_id) == (code, request_id)


def test_requests_and_notifications_parse() -> None:
    request = parse_request(b'{"jsonrpc": "2.0", "id": "a", "method": "send", "params": {}}')
    assert (request.method, request.id, request.is_notification) == ("send", "a", False)
    assert parse_request(b'{"jsonrpc": "2.0", "method": "sync"}').is_notification


def test_a_message_event_is_shaped_as_messages_json() -> None:
    view = MessageView(
        row_id=3, group_id=bytes(range(16)), channel_id=bytes(16), message_id=None,
        sender_name="Bob", sender_fingerprint="ab" * 32, text="hi", sent_at=1_700_000_000_000,
        status="received", warning=None, is_mine=False,
    )  # fmt: skip
    method, params = event_notification(MessageAdded(view)) or ("", {})
    assert (method, params) == (
        "message",
        {"group": view.group_id.hex(), "message": message_json(view)},
    )
    assert event_notification(SyncProgress(view.group_id, 1)) is None
