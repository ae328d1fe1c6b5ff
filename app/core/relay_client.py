"""HTTP client for the relay API (docs/protocol.md section 6), with retries and back-off.

Transport failures, timeouts, 5xx answers and 429 ("relay busy") are retried, honouring
the relay's ``Retry-After``; a relay that stays busy for the whole retry budget raises
``RelayBusy`` (a ``RelayUnavailable``), never "unreachable". A 429 ``work_required`` on a
creation is answered by solving the relay's proof-of-work challenge
(``crypto.relay_work``) off the event loop. Any other 4xx answer is the relay's verdict
and raises ``RelayRejected`` at once. Every request has a time limit per attempt, sized
by its kind, and one for all its attempts together (``RelayTimeouts``, protocol section
7.6), so a relay that accepts connections and never answers costs a bounded time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import re
import struct
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import nacl.signing

from app.core.errors import ClockOff, RelayBusy, RelayRejected, RelayUnavailable
from crypto.document.stream import MAX_CHUNK_BYTES
from crypto.errors import MalformedData, TooLarge, UsageError
from crypto.relay_auth import b64url_decode, inbox_auth_header
from crypto.relay_work import (
    WORK_HEADER,
    WorkChallenge,
    WorkKind,
    solve_work,
    work_header,
)

__all__ = [
    "DEFAULT_TIMEOUTS",
    "MAX_SEQ",
    "FetchResult",
    "RelayClient",
    "RelayTimeouts",
    "b64",
    "parse_frames",
]

_FRAME = struct.Struct(">QI")
# Every number the client takes from the relay is bounded where it is parsed (protocol
# 7.2, "Numbers from the relay"): sequence numbers (frame seqs, ``X-Caucus-Last``, a
# POST's ``seq``) and proof-of-work buckets lie in 0..2**53-1, so they fit SQLite's
# integer and a float exactly. A relay numbering one item per microsecond reaches it
# after 285 years; anything above is a lie, refused as ``MalformedData`` before it can
# move a cursor or overflow a column.
MAX_SEQ = 2**53 - 1
MAX_TIME_MS = 2**53 - 1  # a relay's time as it may say it (JSON-safe integers)
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,15})")
_RETRY_AFTER = re.compile(r"[0-9]{1,6}")
_GENERATION = re.compile(r"[0-9a-f]{32}")
MAX_WAIT = 30
# A fetch answers at most 8 MiB of items (protocol 6.2) plus frame headers; nothing
# legitimate is larger, and a relay sending more is cut off.
MAX_RESPONSE = 9 * 1024 * 1024
# The longest we wait on one busy answer's Retry-After; longer demands are cut to this
# (the request's time budget still ends in RelayBusy, and the next sync tries again).
MAX_RETRY_AFTER = 30.0
# The most proof of work a creation will do: 2**24 hashes, seconds on a laptop.
MAX_WORK_BITS = 24
_BUSY = (429, 503)

log = logging.getLogger("caucus.relay_client")


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


def parse_frames(body: bytes, after: int = -1) -> tuple[tuple[int, bytes], ...]:
    """Split a fetch body into frames; anything malformed raises ``MalformedData``.

    Sequence numbers must rise strictly, start above ``after`` (the fetch asked for the
    items after it) and stay within ``MAX_SEQ``.
    """
    items = []
    view = memoryview(body)
    pos = 0
    previous = after
    while pos < len(body):
        if len(body) - pos < _FRAME.size:
            raise MalformedData("truncated frame header from the relay")
        seq, size = _FRAME.unpack_from(view, pos)
        pos += _FRAME.size
        if size > len(body) - pos:
            raise MalformedData("truncated frame from the relay")
        if seq <= previous:
            if previous == after:
                raise MalformedData(f"relay sent item {seq}, not after {after} as asked")
            raise MalformedData("relay frames are not in increasing order")
        if seq > MAX_SEQ:
            raise MalformedData(f"relay sent sequence number {seq}, above 2**53-1")
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
        max_retry_after: float = MAX_RETRY_AFTER,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
        self._max_retry_after = max_retry_after
        self._sleep = sleep

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
        creates: tuple[WorkKind, bytes] | None = None,
    ) -> httpx.Response:
        """One request with retries; ``limit`` is the time of one attempt (default: a
        write or small read), and all attempts together stay within ``timeouts.total``.
        ``creates`` names the resource a creation makes, for a proof of work."""
        attempt_limit = self.timeouts.attempt if limit is None else limit
        total = self.timeouts.total(attempt_limit)
        state = _Attempts()
        try:
            async with asyncio.timeout(total):
                return await self._attempts(
                    method,
                    path,
                    content=content if json_body is None else json.dumps(json_body).encode(),
                    headers=dict(headers or {}),
                    params=params,
                    expect=expect,
                    attempts=self._retries + 1 if retry else 1,
                    limit=attempt_limit,
                    creates=creates,
                    state=state,
                )
        except TimeoutError:
            if state.busy:
                raise RelayBusy(
                    f"relay {self.base_url} busy ({state.last_error}) for {total:g} s;"
                    " try again later"
                ) from None
            raise RelayUnavailable(
                f"relay {self.base_url} unreachable (no answer within {total:g} s)"
            ) from None

    async def _attempts(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None,
        headers: dict[str, str],
        params: dict[str, int] | None,
        expect: tuple[int, ...],
        attempts: int,
        limit: float,
        creates: tuple[WorkKind, bytes] | None,
        state: _Attempts,
    ) -> httpx.Response:
        delay = self._backoff
        for attempt in range(attempts):
            wait: float | None = None
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
                state.last_error, state.busy = type(exc).__name__, False
            except TimeoutError:
                state.last_error, state.busy = f"no answer within {limit:g} s", False
            else:
                status = response.status_code
                if status in expect:
                    return response
                if status < 500 and status != 429:
                    raise _rejection(response)
                state.last_error, state.busy = f"HTTP {status}", status in _BUSY
                challenge = _work_challenge(response) if creates is not None else None
                if creates is not None and challenge is not None:
                    headers[WORK_HEADER] = await _solve(challenge, *creates)
                    wait = 0.0
                elif state.busy:
                    wait = _retry_after(response, self._max_retry_after)
            if attempt + 1 < attempts:
                if wait is None:
                    wait = delay * (0.5 + random.random())  # noqa: S311 (jitter)
                    delay = min(delay * 2, 8.0)
                if state.busy and wait:
                    log.info("relay busy, retrying in %.1f s", wait)
                await self._sleep(wait)
        if state.busy:
            raise RelayBusy(
                f"relay {self.base_url} busy ({state.last_error}) after {attempts} tries;"
                " try again later"
            )
        raise RelayUnavailable(f"relay {self.base_url} unreachable ({state.last_error})")

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
            creates=(WorkKind.MAILBOX, mailbox_id),
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
        return _fetch_result(response, after)

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
            creates=(WorkKind.BLOB, blob_id),
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
            creates=(WorkKind.INBOX, inbox_id),
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
        with _clock_checked(now_ms):
            response = await self._request(
                "GET",
                f"/v1/inboxes/{inbox_id.hex()}/items",
                headers={"x-caucus-auth": inbox_auth_header(auth, inbox_id, now_ms)},
                params={"after": after, "limit": 1000, "wait": int(min(wait, MAX_WAIT))},
                limit=self.timeouts.poll(wait),
            )
        return _fetch_result(response, after)

    async def delete_inbox_items(
        self, inbox_id: bytes, auth: nacl.signing.SigningKey, now_ms: int, upto: int
    ) -> None:
        with _clock_checked(now_ms):
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
    if type(seq) is not int or not 0 < seq <= MAX_SEQ:
        raise MalformedData("relay answer has an invalid sequence number")
    return seq


def _fetch_result(response: httpx.Response, after: int) -> FetchResult:
    items = parse_frames(response.content, after)
    raw_last = response.headers.get("x-caucus-last", "0")
    if _DECIMAL.fullmatch(raw_last) is None or int(raw_last) > MAX_SEQ:
        raise MalformedData("relay sent an invalid X-Caucus-Last header")
    last = int(raw_last)
    generation = response.headers.get("x-caucus-generation")
    if generation is not None and _GENERATION.fullmatch(generation) is None:
        raise MalformedData("relay sent an invalid X-Caucus-Generation header")
    return FetchResult(items, last, generation)


@contextmanager
def _clock_checked(sent_ms: int) -> Iterator[None]:
    """A signed request the relay refused for its time says so in words a person can act
    on: this computer's clock is off, and by how much."""
    try:
        yield
    except RelayRejected as exc:
        if exc.code != "stale_auth":
            raise
        raise ClockOff(exc, sent_ms) from None


def _rejection(response: httpx.Response) -> RelayRejected:
    relay_time_ms: int | None = None
    try:
        doc = response.json()
        code = str(doc.get("error", "unknown"))[:64]
        detail = str(doc.get("detail", ""))[:200]
        said = doc.get("relay_time_ms")
        if type(said) is int and 0 <= said <= MAX_TIME_MS:
            relay_time_ms = said
    except (ValueError, AttributeError):  # not JSON, or JSON but not an object
        code, detail = "unknown", ""
    return RelayRejected(response.status_code, code, detail, relay_time_ms=relay_time_ms)


class _Attempts:
    """What the attempts of one request saw last (read when its time budget runs out)."""

    __slots__ = ("busy", "last_error")

    def __init__(self) -> None:
        self.last_error = "no attempt"
        self.busy = False


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    """The relay's ``Retry-After`` in seconds (whole seconds only), capped; else None."""
    value = response.headers.get("retry-after", "")
    if _RETRY_AFTER.fullmatch(value) is None:  # ASCII digits only ("²".isdigit() is True)
        return None
    return min(float(value), cap)


def _work_challenge(response: httpx.Response) -> WorkChallenge | None:
    """The proof-of-work challenge of a 429 ``work_required`` answer, if it is one."""
    if response.status_code != 429:
        return None
    try:
        doc = response.json()
        if doc.get("error") != "work_required":
            return None
        bits, bucket, seed = doc["work_bits"], doc["work_bucket"], doc["work_seed"]
        if type(bits) is not int or type(bucket) is not int or not isinstance(seed, str):
            raise MalformedData("malformed proof-of-work challenge from the relay")
        if not 0 <= bucket <= MAX_SEQ:
            raise MalformedData("proof-of-work bucket from the relay out of range")
        return WorkChallenge(bits, bucket, b64url_decode(seed))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise MalformedData("malformed proof-of-work challenge from the relay") from None


async def _solve(challenge: WorkChallenge, kind: WorkKind, resource_id: bytes) -> str:
    """Solve in a worker thread (the event loop keeps running); refuse absurd demands."""
    if challenge.bits > MAX_WORK_BITS:
        raise RelayBusy(
            f"relay busy: it asks for {challenge.bits} bits of proof of work "
            f"(this client does at most {MAX_WORK_BITS}); try again later"
        )
    log.info("relay busy, solving a %d-bit proof of work", challenge.bits)
    stamp = await asyncio.to_thread(solve_work, challenge, kind, resource_id)
    if stamp is None:  # only with max_tries, which we do not pass
        raise RelayBusy("relay busy: proof of work not found")
    return work_header(stamp)
