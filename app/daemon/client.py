"""``caucus rpc METHOD [PARAMS]``: one request to a running daemon, no passphrase and no
key derivation. Prints the result as one line of JSON (what ``--json`` prints); an error
goes to stderr as ``caucus: MESSAGE`` with the exit status the CLI command would have.
``subscribe`` prints its result, then each notification as a line until the daemon stops.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any, TextIO

from app.core.api import ClientError
from app.daemon.protocol import ErrorCode, dump

__all__ = ["call"]

_REQUEST_ID = 1


def _params(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        params = json.loads(text)
    except ValueError:
        raise ClientError("the params are not valid JSON") from None
    if not isinstance(params, dict):
        raise ClientError('the params must be a JSON object, e.g. {"group": "Freelancers"}')
    return params


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        hint = "start one with 'caucus daemon'"
        raise ClientError(f"no Caucus daemon answers on {path}; {hint}") from None
    except OSError as exc:
        sock.close()
        raise ClientError(f"cannot reach the daemon on {path}: {exc.strerror}") from None
    return sock


def call(path: Path, method: str, params_text: str | None, out: TextIO = sys.stdout) -> int:
    """Send one request and print its answer; returns the exit status."""
    params = _params(params_text)
    request = {"jsonrpc": "2.0", "id": _REQUEST_ID, "method": method, "params": params}
    streaming = method == "subscribe"
    with _connect(path) as sock, sock.makefile("rb") as lines:
        sock.sendall(dump(request))
        answered = False
        for line in lines:
            message = json.loads(line)
            if message.get("id") == _REQUEST_ID and ("result" in message or "error" in message):
                if "error" in message:
                    error = message["error"]
                    print(f"caucus: {error.get('message')}", file=sys.stderr)
                    return _exit_status(error.get("code"))
                answered = True
                print(json.dumps(message["result"], ensure_ascii=False), file=out, flush=True)
                if not streaming:
                    return 0
            elif streaming and "method" in message:
                print(json.dumps(message, ensure_ascii=False), file=out, flush=True)
    if streaming and answered:
        return 0  # the daemon stopped
    raise ClientError("the daemon closed the connection without an answer")


def _exit_status(code: object) -> int:
    if not isinstance(code, int):
        return 1
    try:
        return ErrorCode(code).exit_status
    except ValueError:
        return 1
