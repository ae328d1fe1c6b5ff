"""JSON-RPC 2.0 over newline-delimited JSON: parsing a request line, building replies.

Error codes: the standard ones (-32700 parse error, -32600 invalid request, -32601
unknown method, -32602 bad params, -32603 internal error), plus ``-32000 - N`` for a
failure the command line reports with exit status N and the same one-line message:
-32001 (an error, exit status 1) and -32003 (accepted but queued: the relay is down).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

__all__ = [
    "MAX_LINE",
    "ErrorCode",
    "Request",
    "RpcError",
    "dump",
    "error_reply",
    "notification",
    "parse_request",
    "result_reply",
]

MAX_LINE = 1024 * 1024  # bytes in one request line, newline excluded

RequestId = str | int | None


class ErrorCode(IntEnum):
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    FAILED = -32001  # the CLI's exit status 1
    QUEUED = -32003  # the CLI's exit status 3

    @property
    def exit_status(self) -> int:
        """The exit status ``caucus rpc`` gives for this error, as the CLI command would."""
        if self is ErrorCode.QUEUED:
            return 3
        if self is ErrorCode.INTERNAL_ERROR:
            return 70
        if self is ErrorCode.FAILED:
            return 1
        return 2  # the request itself was wrong, as a usage error of the CLI


class RpcError(Exception):
    """A failure to answer as a JSON-RPC error object; the message is one line."""

    def __init__(self, code: ErrorCode, message: str, request_id: RequestId = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any]
    id: RequestId
    is_notification: bool  # no "id" member: no reply is sent


def parse_request(line: bytes) -> Request:
    """One request from one line; raises ``RpcError`` (with the id when it was readable)."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise RpcError(ErrorCode.PARSE_ERROR, "the line is not valid JSON") from None
    if not isinstance(data, dict):
        raise RpcError(ErrorCode.INVALID_REQUEST, "a request is one JSON object per line")
    request_id = data.get("id")
    if not isinstance(request_id, str | int | type(None)) or isinstance(request_id, bool):
        raise RpcError(ErrorCode.INVALID_REQUEST, "the id must be a string, a number or null")
    if data.get("jsonrpc") != "2.0":
        raise RpcError(ErrorCode.INVALID_REQUEST, 'the request needs "jsonrpc": "2.0"', request_id)
    method = data.get("method")
    if not isinstance(method, str):
        raise RpcError(ErrorCode.INVALID_REQUEST, "the request needs a method name", request_id)
    params = data.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RpcError(ErrorCode.INVALID_PARAMS, "params must be a JSON object", request_id)
    return Request(method, params, request_id, "id" not in data)


def dump(message: dict[str, Any]) -> bytes:
    """One message as one line: compact, UTF-8, newline-terminated."""
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def result_reply(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_reply(error: RpcError) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": error.request_id,
        "error": {"code": int(error.code), "message": error.message},
    }


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}
