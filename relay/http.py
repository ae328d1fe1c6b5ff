"""HTTP framing of the relay: a small hand-written ASGI app with a table-driven router.

No framework sits on the hot path (plain Starlette routing alone halves throughput on
these machines).  This module only turns requests into ``Relay`` calls and results or
``RelayError`` into responses; it reads bodies incrementally and refuses them as soon as
they pass the endpoint's limit.  It never logs paths, ids, headers or bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from http import HTTPStatus
from importlib import resources
from typing import Any

from relay import codec, limits
from relay.backend import open_backend
from relay.capabilities import CapabilityHashes
from relay.config import RelayConfig
from relay.connections import (
    CONNECTION_SCOPE_KEY,
    DISCONNECT_SCOPE_KEY,
    ONE_WRITE_MAX,
    SEND_WHOLE_SCOPE_KEY,
)
from relay.errors import RelayError
from relay.logic import COMMIT_HEADER_SIZE, Clock, Relay
from relay.metrics import RelayMetrics, stored_bytes
from relay.store import Fetched

__all__ = ["RelayApp", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

log = logging.getLogger("caucus.relay")

_JSON = b"application/json"
_BINARY = b"application/octet-stream"
_ID = object()  # placeholder for a 32-hex id in a route pattern
_INDEX = object()  # placeholder for a chunk number


class _ClientGone(Exception):
    """The client disconnected while we were reading its body: nothing to answer."""


class _Request:
    """What a handler needs from one HTTP request; headers are looked up once."""

    __slots__ = (
        "auth",
        "content_length",
        "inbox_auth",
        "params",
        "query",
        "receive",
        "scope",
        "websocket",
        "work",
    )

    def __init__(self, scope: Scope, receive: Receive, params: list[str]) -> None:
        self.receive = receive
        self.scope = scope
        self.params = params
        self.query: bytes = scope.get("query_string", b"")
        self.auth: bytes | None = None
        self.inbox_auth: bytes | None = None
        self.content_length: bytes | None = None
        self.websocket = False
        self.work: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                self.auth = value
            elif name == b"x-caucus-auth":
                self.inbox_auth = value
            elif name == b"content-length":
                self.content_length = value
            elif name == b"upgrade":
                self.websocket = value.lower() == b"websocket"
            elif name == b"x-caucus-work":
                self.work = value

    async def body(self, limit: int) -> bytes:
        """The whole body, refused with 413 once it is known to exceed ``limit``."""
        if self.content_length is not None:
            if not self.content_length.isdigit() or len(self.content_length) > 18:
                raise RelayError("bad_request", "invalid Content-Length")
            if int(self.content_length) > limit:
                raise RelayError("too_large", f"body larger than {limit} bytes")
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if total > limit:
                    raise RelayError("too_large", f"body larger than {limit} bytes")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def on_disconnect(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` once the client goes away (ends a long-poll early); returns
        a function that stops watching.  Under our uvicorn protocol the connection reports
        it (``relay.connections``); elsewhere a task reads ``receive`` until it says so."""
        watch = self.scope.get(DISCONNECT_SCOPE_KEY)
        if watch is not None:
            stop_watching: Callable[[], None] = watch(callback)
            return stop_watching
        task = asyncio.ensure_future(self._disconnected())
        task.add_done_callback(lambda done: None if done.cancelled() else callback())

        def stop() -> None:
            task.cancel()

        return stop

    async def _disconnected(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return


class _Response:
    """Status, body and extra headers of one answer."""

    __slots__ = ("_wire", "body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: bytes = _JSON,
        headers: Headers | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self._wire: bytes | None = None

    def wire(self) -> bytes:
        """The whole HTTP/1.1 answer as sent (a success: its headers are our own values),
        encoded once: long-polls woken by one commit write the same bytes."""
        wire = self._wire
        if wire is None:
            head = _STATUS_LINES[self.status]
            if self.status != 204:
                head += b"content-type: %s\r\ncontent-length: %d\r\n" % (
                    self.content_type,
                    len(self.body),
                )
            for name, value in self.headers or ():
                head += b"%s: %s\r\n" % (name, value)
            wire = self._wire = head + b"\r\n" + self.body
        return wire


_STATUS_LINES = {
    status: b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())
    for status in (200, 201, 204)
}


_NO_CONTENT = _Response(204)


def _seq(status: int, seq: int) -> _Response:
    return _Response(status, b'{"seq":%d}' % seq)


def _error(error: RelayError) -> _Response:
    payload: dict[str, object] = {"error": error.code, "detail": error.detail}
    payload.update(error.extra)
    headers: Headers = []
    if error.retry_after is not None:
        headers.append((b"retry-after", str(error.retry_after).encode()))
    if isinstance(error, _MethodNotAllowed):
        headers.append((b"allow", error.allow))
    if error.code == "too_large" or error is _NO_WEBSOCKET:  # do not read the rest
        headers.append((b"connection", b"close"))
    return _Response(error.status, codec.json_bytes(payload), headers=headers)


Handler = Callable[["RelayApp", _Request], Awaitable[_Response]]


class RelayApp:
    """The ASGI application.  Build it with ``create_app``."""

    def __init__(self, relay: Relay, openapi: bytes, metrics: RelayMetrics | None = None) -> None:
        self.relay = relay
        self.metrics = metrics
        self._openapi = openapi
        config = relay.config
        self._max_wait = config.max_wait_s
        self._limits = config
        self._caps = CapabilityHashes()
        self._per_address = config.create_per_address_per_s > 0
        self._last_frames: tuple[Fetched, _Response] | None = None

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Finish queued writes and close the database; the app answers 503 afterwards."""
        self.relay.close()

    def __enter__(self) -> RelayApp:
        self.relay.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RelayApp]:
        """``async with app.running():`` starts storage now and closes it on exit."""
        self.relay.start()
        try:
            yield self
        finally:
            self.close()

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await _refuse_websocket(scope, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.relay.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.relay.begin_shutdown()
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        parts = path.split("/")
        response: _Response
        metrics = self.metrics
        started = time.perf_counter() if metrics is not None else 0.0
        handler: Handler | None = None
        try:
            handler, params = _route(parts, scope["method"])
            request = _Request(scope, receive, params)
            client = scope.get("client")
            connection = scope.get(CONNECTION_SCOPE_KEY)  # set by relay/connections.py
            limits.CONNECTION.set(connection or limits.connection_key(client))
            if self._per_address:  # an operator option; otherwise the address is not read
                limits.ADDRESS.set(client[0] if client else None)
            if request.websocket:
                raise _NO_WEBSOCKET
            response = await handler(self, request)
        except RelayError as error:
            self.relay.record_error(error.code)
            response = _error(error)
        except _ClientGone:
            return
        except Exception as exc:
            log.error("internal error: %s", type(exc).__name__)
            log.debug("internal error", exc_info=True)
            self.relay.record_error("internal")
            response = _error(RelayError("internal", "internal error"))
        send_whole = scope.get(SEND_WHOLE_SCOPE_KEY)
        # a success in one write, its headers not parsed again by uvicorn
        if (
            send_whole is not None
            and response.status in _STATUS_LINES
            and len(response.body) <= ONE_WRITE_MAX
            and send_whole(response.wire())
        ):
            if metrics is not None:
                metrics.observe(handler, response.status, time.perf_counter() - started)
            return
        headers: Headers = []
        if response.status != 204:
            headers.append((b"content-type", response.content_type))
            headers.append((b"content-length", b"%d" % len(response.body)))
        if response.headers:
            headers.extend(response.headers)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        if metrics is not None:
            metrics.observe(handler, response.status, time.perf_counter() - started)

    # ------------------------------------------------------------------ handlers

    async def _health(self, request: _Request) -> _Response:
        self.relay.start()
        work = self.relay.work_challenge()
        return _Response(
            200,
            codec.json_bytes(
                {
                    "status": "ok",
                    "generation": self.relay.generation,
                    "work_bits": work.bits,
                    "work_bucket": work.bucket,
                    "work_seed": work.seed,
                }
            ),
        )

    def _generation(self) -> bytes:
        return self.relay.generation.encode()

    def _frames(self, fetched: Fetched) -> _Response:
        """The answer to a fetch; long-polls woken by one commit share one ``Fetched``
        (``Relay._shared_read``) and so one encoded answer, not one encoding each."""
        last = self._last_frames
        if last is not None and last[0] is fetched:
            return last[1]
        response = _frames(fetched.rows, fetched.visible_last, self._generation())
        self._last_frames = (fetched, response)
        return response

    async def _openapi_json(self, request: _Request) -> _Response:
        return _Response(200, self._openapi)

    async def _create_mailbox(self, request: _Request) -> _Response:
        mid = codec.parse_id(request.params[0])
        fields = codec.parse_json_fields(
            await request.body(self._limits.max_json_bytes),
            {"cap_hash": "b64:32", "head": "b64:32"},
        )
        seq = await self.relay.create_mailbox(
            mid, _bytes(fields["cap_hash"]), _bytes(fields["head"]), work=request.work
        )
        return _seq(201, seq)

    async def _post_item(self, request: _Request) -> _Response:
        mid = codec.parse_id(request.params[0])
        cap = self._caps.of_header(request.auth)
        item = await request.body(self._limits.max_item_bytes)
        return _seq(200, await self.relay.append_mailbox_item(mid, cap, item))

    async def _post_commit(self, request: _Request) -> _Response:
        mid = codec.parse_id(request.params[0])
        cap = self._caps.of_header(request.auth)
        body = await request.body(COMMIT_HEADER_SIZE + self._limits.max_commit_item_bytes)
        return _seq(200, await self.relay.commit(mid, cap, body))

    async def _get_items(self, request: _Request) -> _Response:
        mid = codec.parse_id(request.params[0])
        cap = self._caps.of_header(request.auth)
        fetch = codec.parse_fetch_query(request.query, self._max_wait)
        fetched = await self.relay.fetch_mailbox(mid, cap, fetch, request.on_disconnect)
        return self._frames(fetched)

    async def _delete_mailbox(self, request: _Request) -> _Response:
        mid = codec.parse_id(request.params[0])
        cap = self._caps.of_header(request.auth)
        await self.relay.delete_mailbox(mid, cap)
        return _NO_CONTENT

    async def _create_inbox(self, request: _Request) -> _Response:
        iid = codec.parse_id(request.params[0])
        fields = codec.parse_json_fields(
            await request.body(self._limits.max_json_bytes), {"auth_key": "b64:32"}
        )
        return _seq(
            201, await self.relay.create_inbox(iid, _bytes(fields["auth_key"]), work=request.work)
        )

    async def _post_inbox_item(self, request: _Request) -> _Response:
        iid = codec.parse_id(request.params[0])
        item = await request.body(self._limits.max_inbox_item_bytes)
        return _seq(200, await self.relay.append_inbox_item(iid, item))

    async def _get_inbox_items(self, request: _Request) -> _Response:
        iid = codec.parse_id(request.params[0])
        fetch = codec.parse_fetch_query(request.query, self._max_wait)
        fetched = await self.relay.fetch_inbox(
            iid, request.inbox_auth, fetch, request.on_disconnect
        )
        return self._frames(fetched)

    async def _delete_inbox_items(self, request: _Request) -> _Response:
        iid = codec.parse_id(request.params[0])
        upto = codec.parse_upto_query(request.query)
        await self.relay.delete_inbox_items(iid, request.inbox_auth, upto)
        return _NO_CONTENT

    async def _create_blob(self, request: _Request) -> _Response:
        bid = codec.parse_id(request.params[0])
        fields = codec.parse_json_fields(
            await request.body(self._limits.max_json_bytes),
            {"cap_hash": "b64:32", "size": "uint", "chunks": "uint"},
        )
        await self.relay.create_blob(
            bid,
            _bytes(fields["cap_hash"]),
            _int(fields["size"]),
            _int(fields["chunks"]),
            work=request.work,
        )
        return _Response(201, b"{}")

    async def _put_chunk(self, request: _Request) -> _Response:
        bid = codec.parse_id(request.params[0])
        index = codec.parse_chunk_index(request.params[1])
        cap = self._caps.of_header(request.auth)
        data = await request.body(self._limits.max_chunk_bytes)
        await self.relay.put_chunk(bid, cap, index, data)
        return _NO_CONTENT

    async def _get_chunk(self, request: _Request) -> _Response:
        bid = codec.parse_id(request.params[0])
        index = codec.parse_chunk_index(request.params[1])
        cap = self._caps.of_header(request.auth)
        return _Response(200, await self.relay.get_chunk(bid, cap, index), _BINARY)

    async def _delete_blob(self, request: _Request) -> _Response:
        bid = codec.parse_id(request.params[0])
        cap = self._caps.of_header(request.auth)
        await self.relay.delete_blob(bid, cap)
        return _NO_CONTENT


_NO_WEBSOCKET = RelayError("bad_request", "WebSocket is not supported; use the HTTP API")


async def _refuse_websocket(scope: Scope, send: Send) -> None:
    """Deny a WebSocket handshake with a 400 JSON answer (403 if the server cannot)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        response = _error(_NO_WEBSOCKET)
        headers: Headers = [
            (b"content-type", _JSON),
            (b"content-length", b"%d" % len(response.body)),
        ]
        await send({"type": "websocket.http.response.start", "status": 400, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": response.body})
    else:
        await send({"type": "websocket.close", "code": 1008})


def _bytes(value: bytes | int) -> bytes:
    if not isinstance(value, bytes):
        raise RelayError("bad_request", "expected base64url bytes")
    return value


def _int(value: bytes | int) -> int:
    if not isinstance(value, int):
        raise RelayError("bad_request", "expected an integer")
    return value


def _frames(rows: list[tuple[int, bytes]], visible_last: int, generation: bytes) -> _Response:
    headers = [(b"x-caucus-last", b"%d" % visible_last), (b"x-caucus-generation", generation)]
    return _Response(200, codec.encode_frames(rows), _BINARY, headers)


# Route table: path pattern (after the leading "/") -> method -> handler.
_ROUTES: list[tuple[tuple[object, ...], dict[str, Handler]]] = [
    (("health",), {"GET": RelayApp._health}),
    (("openapi.json",), {"GET": RelayApp._openapi_json}),
    (
        ("v1", "mailboxes", _ID),
        {"PUT": RelayApp._create_mailbox, "DELETE": RelayApp._delete_mailbox},
    ),
    (("v1", "mailboxes", _ID, "items"), {"POST": RelayApp._post_item, "GET": RelayApp._get_items}),
    (("v1", "mailboxes", _ID, "commits"), {"POST": RelayApp._post_commit}),
    (("v1", "inboxes", _ID), {"PUT": RelayApp._create_inbox}),
    (
        ("v1", "inboxes", _ID, "items"),
        {
            "POST": RelayApp._post_inbox_item,
            "GET": RelayApp._get_inbox_items,
            "DELETE": RelayApp._delete_inbox_items,
        },
    ),
    (("v1", "blobs", _ID), {"PUT": RelayApp._create_blob, "DELETE": RelayApp._delete_blob}),
    (
        ("v1", "blobs", _ID, "chunks", _INDEX),
        {"PUT": RelayApp._put_chunk, "GET": RelayApp._get_chunk},
    ),
]


def _index_routes() -> tuple[tuple[int, ...], dict[tuple[str, ...], dict[str, Handler]]]:
    """Index the table by its literal segments, so a lookup is one dict access.

    Placeholders may only sit at positions no route uses for a literal; checked here.
    """
    holes = tuple(
        sorted({i for pattern, _ in _ROUTES for i, p in enumerate(pattern) if p in (_ID, _INDEX)})
    )
    index: dict[tuple[str, ...], dict[str, Handler]] = {}
    for pattern, methods in _ROUTES:
        key = tuple(p if isinstance(p, str) else "" for p in pattern)
        if any(isinstance(p, str) for i, p in enumerate(pattern) if i in holes) or key in index:
            raise ValueError("ambiguous route table")
        index[key] = methods
    return holes, index


_HOLES, _INDEX_BY_SHAPE = _index_routes()


def _route(parts: list[str], method: str) -> tuple[Handler, list[str]]:
    """Match ``"/a/b/c".split("/")``; ids are validated by the handler (400, not 404)."""
    if parts[0] or len(parts) < 2:
        raise RelayError("not_found", "no such endpoint")
    segments = parts[1:]
    params: list[str] = []
    for i in _HOLES:
        if i < len(segments):
            params.append(segments[i])
            segments[i] = ""
    methods = _INDEX_BY_SHAPE.get(tuple(segments))
    if methods is None:
        raise RelayError("not_found", "no such endpoint")
    handler = methods.get(method)
    if handler is None:
        raise _MethodNotAllowed(", ".join(sorted(methods)).encode())
    return handler, params


class _MethodNotAllowed(RelayError):
    def __init__(self, allow: bytes) -> None:
        super().__init__("method_not_allowed", "method not allowed on this endpoint")
        self.allow = allow


def _route_labels() -> dict[Handler, tuple[str, str]]:
    """(route template, method) of every handler: the metrics' labels, free of ids."""
    labels: dict[Handler, tuple[str, str]] = {}
    for pattern, methods in _ROUTES:
        template = "/" + "/".join(
            p if isinstance(p, str) else "{id}" if p is _ID else "{index}" for p in pattern
        )
        for method, handler in methods.items():
            labels[handler] = (template, method)
    return labels


def _load_openapi() -> bytes:
    return resources.files("relay").joinpath("openapi.json").read_bytes()


def create_app(config: RelayConfig, *, clock: Clock | None = None) -> RelayApp:
    """The relay as an ASGI app; storage opens on first use (or lifespan startup).

    In-process: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=app))`` works
    without lifespan events; call ``app.close()`` (or use ``with app:`` /
    ``async with app.running():``) when done so queued writes finish and files close.
    """
    relay = Relay(config) if clock is None else Relay(config, clock)
    metrics = None
    if config.metrics:
        metrics = RelayMetrics(
            _route_labels(),
            waiting=lambda: relay.waiting,
            stored=lambda: stored_bytes(open_backend(config)),
        )
    return RelayApp(relay, _load_openapi(), metrics)
