"""HTTP client for the relay API (docs/protocol.md section 6), with retries and back-off.

Only transport failures, timeouts and 5xx answers are retried; a 4xx answer is the relay's
verdict and raises ``RelayRejected`` at once. Every request has a time limit per attempt,
sized by its kind, and one for all its attempts together (``RelayTimeouts``, protocol
section 7.6), so a relay that accepts connections and never answers costs a bounded time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import nacl.signing

from app.core.errors import RelayRejected, RelayUnavailable
from crypto.document.stream import MAX_CHUNK_BYTES
from crypto.errors import MalformedData, TooLarge, UsageError
from crypto.relay_auth import inbox_auth_header

__all__ = ["DEFAULT_TIMEOUTS", "FetchResult", "RelayClient", "RelayTimeouts", "b64"]

_FRAME = struct.Struct(">QI")
_GENERATION = re.compile(r"[0-9a-f]{32}")
MAX_WAIT = 30
# A fetch answers at most 8 MiB of items (protocol 6.2) plus frame headers; nothing
# legitimate is larger, and a relay sending more is cut off.
MAX_RESPONSE = 9 * 1024 * 1024


@dataclass(frozen=True)
class RelayTimeouts:
    """How long the client waits for a relay, in seconds (docs/protocol.md section 7.6).

    One attempt of a write or small read may take ``attempt`` (connecting included, at
    most ``connect`` of it); a long-poll fetch ``wait + poll_margin``; a blob chunk
    ``attempt`` plus its size at ``min_rate`` bytes/s. All attempts of one request
    together, back-off included, take at most ``max(budget, one attempt)``.
    """

    connect: float = 3.0
    attempt: float = 10.0
    budget: float = 20.0
    poll_margin: float = 10.0
    min_rate: float = 64 * 1024
    health: float = 3.0

    def __post_init__(self) -> None:
        values = (
            self.connect,
            self.attempt,
            self.budget,
            self.poll_margin,
            self.min_rate,
            self.health,
        )
        if min(values) <= 0:
            raise UsageError("relay timeouts must be positive")

    def poll(self, wait: float) -> float:
        """The limit of one long-poll attempt that asks the relay to wait ``wait`` s."""
        return min(max(wait, 0), MAX_WAIT) + self.poll_margin

    def transfer(self, size: int) -> float:
        """The limit of one attempt that sends or receives ``size`` bytes of a blob."""
        return self.attempt + size / self.min_rate

    def total(self, attempt: float) -> float:
        """The limit of all attempts of one request whose attempts take ``attempt``."""
        return max(self.budget, attempt)


DEFAULT_TIMEOUTS = RelayTimeouts()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class FetchResult:
    """Items returned by one fetch, as (sequence number, bytes), in relay order."""

    items: tuple[tuple[int, bytes], ...]
    last: int
    generation: str | None = None
    """The relay's generation id (``X-Caucus-Generation``); it changes when the relay is
    restored from a backup and may hand out sequence numbers again.  None from a relay
    that does not send it."""

    @property
    def empty(self) -> bool:
        return not self.items


def parse_frames(body: bytes) -> tuple[tuple[int, bytes], ...]:
    """Split a fetch body into frames; anything malformed raises ``MalformedData``."""
    items = []
    view = memoryview(body)
    pos = 0
    previous = -1
    while pos < len(body):
        if len(body) - pos < _FRAME.size:
            raise MalformedData("truncated frame header from the relay")
        seq, size = _FRAME.unpack_from(view, pos)
        pos += _FRAME.size
        if size > len(body) - pos:
            raise MalformedData("truncated frame from the relay")
        if seq <= previous:
            raise MalformedData("relay frames are not in increasing order")
        items.append((seq, bytes(view[pos : pos + size])))
        previous = seq
        pos += size
    return tuple(items)


class RelayClient:
    """One relay, reached over HTTP. ``transport`` lets tests run the relay in-process."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retries: int = 4,
        backoff: float = 0.25,
        clock_ms: Callable[[], int] | None = None,
        timeouts: RelayTimeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=_httpx_timeout(timeouts, timeouts.attempt),
        )
        self._retries = retries
        self._backoff = backoff
        self._clock_ms = clock_ms

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, int] | None = None,
        expect: tuple[int, ...] = (200,),
        retry: bool = True,
        limit: float | None = None,
    ) -> httpx.Response:
        """One request with retries; ``limit`` is the time of one attempt (default: a
        write or small read), and all attempts together stay within ``timeouts.total``."""
        attempt_limit = self.timeouts.attempt if limit is None else limit
        total = self.timeouts.total(attempt_limit)
        try:
            async with asyncio.timeout(total):
                return await self._attempts(
                    method,
                    path,
                    content=content if json_body is None else json.dumps(json_body).encode(),
                    headers=headers,
                    params=params,
                    expect=expect,
                    attempts=self._retries + 1 if retry else 1,
                    limit=attempt_limit,
                )
        except TimeoutError:
            raise RelayUnavailable(
                f"relay {self.base_url} unreachable (no answer within {total:g} s)"
            ) from None

    async def _attempts(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None,
        headers: dict[str, str] | None,
        params: dict[str, int] | None,
        expect: tuple[int, ...],
        attempts: int,
        limit: float,
    ) -> httpx.Response:
        delay = self._backoff
        last_error = "no attempt"
        for attempt in range(attempts):
            try:
                request = self._client.build_request(
                    method,
                    path,
                    content=content,
                    headers=headers,
                    params=params,
                    timeout=_httpx_timeout(self.timeouts, limit),
                )
                # httpx's limits are per connect/read/write step; this one bounds the
                # whole attempt, so a relay trickling bytes cannot stretch it either.
                async with asyncio.timeout(limit):
                    response = await self._read_bounded(request)
            except httpx.TransportError as exc:
                last_error = type(exc).__name__
            except TimeoutError:
                last_error = f"no answer within {limit:g} s"
            else:
                if response.status_code in expect:
                    return response
                if response.status_code < 500 and response.status_code != 429:
                    raise _rejection(response)
                last_error = f"HTTP {response.status_code}"
            if attempt + 1 < attempts:
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 (jitter)
                delay = min(delay * 2, 8.0)
        raise RelayUnavailable(f"relay {self.base_url} unreachable ({last_error})")

    async def _read_bounded(self, request: httpx.Request) -> httpx.Response:
        """Send and read the answer, refusing one larger than any legitimate answer."""
        response = await self._client.send(request, stream=True)
        try:
            parts: list[bytes] = []
            total = 0
            async for part in response.aiter_bytes():
                total += len(part)
                if total > MAX_RESPONSE:
                    raise TooLarge("the relay sent an oversized answer")
                parts.append(part)
        finally:
            await response.aclose()
            # httpx binds a streamed response and its stream to each other; that cycle
            # would keep this answer (and the request body, up to 1 MiB for a blob
            # chunk) alive until the cyclic collector runs. Cut it so both go now.
            response.stream = httpx.ByteStream(b"")
        return httpx.Response(
            response.status_code, headers=response.headers, content=b"".join(parts)
        )

    # -- mailboxes -------------------------------------------------------------------

    async def create_mailbox(self, mailbox_id: bytes, cap_hash: bytes, head: bytes) -> None:
        await self._request(
            "PUT",
            f"/v1/mailboxes/{mailbox_id.hex()}",
            json_body={"cap_hash": b64(cap_hash), "head": b64(head)},
            headers={"content-type": "application/json"},
            expect=(201,),
        )

    async def post_item(self, mailbox_id: bytes, cap: bytes, item: bytes) -> int:
        response = await self._request(
            "POST",
            f"/v1/mailboxes/{mailbox_id.hex()}/items",
            content=item,
            headers=_bearer(cap),
        )
        return _seq(response)

    async def post_commit(
        self,
        mailbox_id: bytes,
        cap: bytes,
        prev_head: bytes,
        new_head: bytes,
        new_cap_hash: bytes,
        item: bytes,
    ) -> int:
        response = await self._request(
            "POST",
            f"/v1/mailboxes/{mailbox_id.hex()}/commits",
            content=prev_head + new_head + new_cap_hash + item,
            headers=_bearer(cap),
        )
        return _seq(response)

    async def fetch(
        self, mailbox_id: bytes, cap: bytes, after: int, *, limit: int = 1000, wait: float = 0
    ) -> FetchResult:
        response = await self._request(
            "GET",
            f"/v1/mailboxes/{mailbox_id.hex()}/items",
            headers=_bearer(cap),
            params={"after": after, "limit": limit, "wait": int(min(wait, MAX_WAIT))},
            limit=self.timeouts.poll(wait),
        )
        return _fetch_result(response)

    async def delete_mailbox(self, mailbox_id: bytes, cap: bytes) -> None:
        await self._request(
            "DELETE", f"/v1/mailboxes/{mailbox_id.hex()}", headers=_bearer(cap), expect=(204,)
        )

    # -- blobs -----------------------------------------------------------------------

    async def create_blob(self, blob_id: bytes, cap_hash: bytes, size: int, chunks: int) -> None:
        await self._request(
            "PUT",
            f"/v1/blobs/{blob_id.hex()}",
            json_body={"cap_hash": b64(cap_hash), "size": size, "chunks": chunks},
            headers={"content-type": "application/json"},
            expect=(201,),
        )

    async def put_blob_chunk(self, blob_id: bytes, cap: bytes, index: int, data: bytes) -> None:
        await self._request(
            "PUT",
            f"/v1/blobs/{blob_id.hex()}/chunks/{index}",
            content=data,
            headers=_bearer(cap),
            expect=(204,),
            limit=self.timeouts.transfer(len(data)),
        )

    async def get_blob_chunk(self, blob_id: bytes, cap: bytes, index: int) -> bytes:
        response = await self._request(
            "GET",
            f"/v1/blobs/{blob_id.hex()}/chunks/{index}",
            headers=_bearer(cap),
            limit=self.timeouts.transfer(MAX_CHUNK_BYTES),
        )
        return response.content

    async def delete_blob(self, blob_id: bytes, cap: bytes) -> None:
        await self._request(
            "DELETE", f"/v1/blobs/{blob_id.hex()}", headers=_bearer(cap), expect=(204,)
        )

    # -- inboxes ---------------------------------------------------------------------

    async def create_inbox(self, inbox_id: bytes, auth_key: bytes) -> None:
        await self._request(
            "PUT",
            f"/v1/inboxes/{inbox_id.hex()}",
            json_body={"auth_key": b64(auth_key)},
            headers={"content-type": "application/json"},
            expect=(201,),
        )

    async def post_inbox(self, inbox_id: bytes, item: bytes) -> int:
        response = await self._request("POST", f"/v1/inboxes/{inbox_id.hex()}/items", content=item)
        return _seq(response)

    async def fetch_inbox(
        self,
        inbox_id: bytes,
        auth: nacl.signing.SigningKey,
        now_ms: int,
        after: int,
        *,
        wait: float = 0,
    ) -> FetchResult:
        response = await self._request(
            "GET",
            f"/v1/inboxes/{inbox_id.hex()}/items",
            headers={"x-caucus-auth": inbox_auth_header(auth, inbox_id, now_ms)},
            params={"after": after, "limit": 1000, "wait": int(min(wait, MAX_WAIT))},
            limit=self.timeouts.poll(wait),
        )
        return _fetch_result(response)

    async def delete_inbox_items(
        self, inbox_id: bytes, auth: nacl.signing.SigningKey, now_ms: int, upto: int
    ) -> None:
        await self._request(
            "DELETE",
            f"/v1/inboxes/{inbox_id.hex()}/items",
            headers={"x-caucus-auth": inbox_auth_header(auth, inbox_id, now_ms)},
            params={"upto": upto},
            expect=(204,),
        )

    async def health(self) -> bool:
        limit = self.timeouts.health
        try:
            async with asyncio.timeout(limit):
                response = await self._client.get(
                    "/health", timeout=_httpx_timeout(self.timeouts, limit)
                )
        except (httpx.TransportError, TimeoutError):
            return False
        return response.status_code == 200


def _httpx_timeout(timeouts: RelayTimeouts, limit: float) -> httpx.Timeout:
    return httpx.Timeout(limit, connect=min(timeouts.connect, limit))


def _bearer(cap: bytes) -> dict[str, str]:
    return {"authorization": f"Bearer {b64(cap)}"}


def _seq(response: httpx.Response) -> int:
    try:
        seq = response.json()["seq"]
    except (ValueError, KeyError, TypeError):
        raise MalformedData("relay answer has no sequence number") from None
    if not isinstance(seq, int) or seq < 0:
        raise MalformedData("relay answer has an invalid sequence number")
    return seq


def _fetch_result(response: httpx.Response) -> FetchResult:
    items = parse_frames(response.content)
    try:
        last = int(response.headers.get("x-caucus-last", "0"))
    except ValueError:
        raise MalformedData("relay sent an invalid X-Caucus-Last header") from None
    generation = response.headers.get("x-caucus-generation")
    if generation is not None and _GENERATION.fullmatch(generation) is None:
        raise MalformedData("relay sent an invalid X-Caucus-Generation header")
    return FetchResult(items, last, generation)


def _rejection(response: httpx.Response) -> RelayRejected:
    try:
        doc = response.json()
        code = str(doc.get("error", "unknown"))[:64]
        detail = str(doc.get("detail", ""))[:200]
    except ValueError:
        code, detail = "unknown", ""
    return RelayRejected(response.status_code, code, detail)
