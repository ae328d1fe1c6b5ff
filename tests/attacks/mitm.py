"""A man in the middle in front of a real relay process, who knows which member sends
each request (every member's engine talks through its own transport) and keeps its own
headers consistent with what it shows each member.

What it can do, per member: hide items from fetch answers (``hide``), answer a request
itself or refuse it (``intercept``), rewrite an answer (``rewrite``), and record every
byte both ways (``exchanges``, ``seen``, ``traffic``) for canary greps and for an
attacker who later seizes a profile. ``heal`` stops every rule; what a member's cursor
has already passed stays missed, as with a real relay that stops misbehaving.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from relay.codec import decode_frames, encode_frames

Direction = Literal["up", "down"]

_BOX_PATH = re.compile(r"^/v1/(mailboxes|inboxes)/([0-9a-f]{32})/(items|commits)$")
_COMMIT_PREFIX = 96  # prev_head | new_head | new_cap_hash before the commit item


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, as the member saw it (after any rule applied)."""

    member: str
    method: str
    path: str
    query: str
    request_body: bytes
    status: int
    response_body: bytes


@dataclass(frozen=True)
class Seen:
    """One item that crossed the adversary: posted by a member (``up``) or shown to one
    (``down``). ``box`` is ``"mailboxes/<hex>"`` or ``"inboxes/<hex>"``."""

    member: str
    direction: Direction
    box: str
    seq: int
    item: bytes


@dataclass(frozen=True)
class FetchedItem:
    """What a hiding rule decides on: the member asking, the mailbox or inbox, the item."""

    member: str
    box: str
    seq: int
    item: bytes


HideRule = Callable[[FetchedItem], bool]
InterceptRule = Callable[[str, httpx.Request, bytes], httpx.Response | None]
RewriteRule = Callable[[str, httpx.Request, httpx.Response], httpx.Response | None]


class Adversary:
    """Shared by every member's transport; rules apply to the members they name."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.seen: list[Seen] = []
        self._hide: list[HideRule] = []
        self._intercept: list[InterceptRule] = []
        self._rewrite: list[RewriteRule] = []
        # (member, box) -> sequence numbers hidden from that member, so X-Caucus-Last
        # never gives the hidden tail away.
        self._hidden: dict[tuple[str, str], set[int]] = {}

    def transport(self, member: str) -> httpx.AsyncBaseTransport:
        return _MemberTransport(self, member)

    def hide(self, rule: HideRule) -> Callable[[], None]:
        """Hide every fetched item for which ``rule`` is true; returns an undo."""
        self._hide.append(rule)
        return lambda: self._hide.remove(rule)

    def intercept(self, rule: InterceptRule) -> Callable[[], None]:
        """``rule(member, request, body)`` may answer instead of the relay (the request
        then never reaches it); ``None`` lets it through. Returns an undo."""
        self._intercept.append(rule)
        return lambda: self._intercept.remove(rule)

    def rewrite(self, rule: RewriteRule) -> Callable[[], None]:
        """``rule(member, request, response)`` may replace the relay's answer."""
        self._rewrite.append(rule)
        return lambda: self._rewrite.remove(rule)

    def heal(self) -> None:
        """Stop misbehaving from now on."""
        self._hide.clear()
        self._intercept.clear()
        self._rewrite.clear()
        self._hidden.clear()

    def items(self, *, member: str | None = None, direction: Direction | None = None) -> list[Seen]:
        return [
            seen
            for seen in self.seen
            if (member is None or seen.member == member)
            and (direction is None or seen.direction == direction)
        ]

    def traffic(self) -> bytes:
        """Every byte of every request and answer, for canary greps."""
        parts: list[bytes] = []
        for exchange in self.exchanges:
            parts.append(f"{exchange.method} {exchange.path}?{exchange.query}\n".encode())
            parts.append(exchange.request_body)
            parts.append(exchange.response_body)
        return b"".join(parts)

    # -- the transport's side -------------------------------------------------------

    def _filter(
        self, member: str, box: str, after: int, body: bytes
    ) -> tuple[bytes, int | None, bool]:
        """Frames with hidden items taken out; the highest sequence number seen (or
        None); whether anything was hidden."""
        frames = decode_frames(body)
        hidden = self._hidden.setdefault((member, box), set())
        kept: list[tuple[int, bytes]] = []
        for seq, item in frames:
            if seq in hidden or any(
                rule(FetchedItem(member, box, seq, item)) for rule in list(self._hide)
            ):
                hidden.add(seq)
                continue
            kept.append((seq, item))
        top = frames[-1][0] if frames else None
        return encode_frames(kept), top, len(kept) != len(frames)

    def _consistent_last(self, member: str, box: str, last: int) -> int:
        hidden = self._hidden.get((member, box), set())
        while last in hidden:
            last -= 1
        return last


class _MemberTransport(httpx.AsyncBaseTransport):
    def __init__(self, adversary: Adversary, member: str) -> None:
        self.adversary = adversary
        self.member = member

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        adversary = self.adversary
        response: httpx.Response | None = None
        for rule in list(adversary._intercept):
            response = rule(self.member, request, body)
            if response is not None:
                break
        if response is None:
            response = await self._forward(request, body)
        for rewrite in list(adversary._rewrite):
            replaced = rewrite(self.member, request, response)
            if replaced is not None:
                response = replaced
        content = response.content
        self._record(request, body, response.status_code, content)
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def _forward(self, request: httpx.Request, body: bytes) -> httpx.Response:
        match = _BOX_PATH.match(request.url.path)
        is_fetch = request.method == "GET" and match is not None
        url = request.url
        while True:
            answer = await _send(request.method, url, request.headers, body)
            if not is_fetch or answer.status_code != 200 or match is None:
                return answer
            box = f"{match.group(1)}/{match.group(2)}"
            after = int(url.params.get("after", "0"))
            filtered, top, hid = self.adversary._filter(self.member, box, after, answer.content)
            headers = dict(answer.headers)
            headers.pop("content-length", None)
            last = headers.get("x-caucus-last")
            if last is not None:
                headers["x-caucus-last"] = str(
                    self.adversary._consistent_last(self.member, box, int(last))
                )
            waiting = float(url.params.get("wait", "0")) > 0
            if hid and not filtered and waiting and top is not None:
                # Everything new was hidden: keep the member waiting, as a relay with
                # nothing to say would, instead of answering at once with nothing.
                url = url.copy_merge_params({"after": str(top)})
                continue
            return httpx.Response(answer.status_code, headers=headers, content=filtered)

    def _record(self, request: httpx.Request, body: bytes, status: int, content: bytes) -> None:
        adversary = self.adversary
        adversary.exchanges.append(
            Exchange(
                self.member,
                request.method,
                request.url.path,
                request.url.query.decode(),
                body,
                status,
                content,
            )
        )
        match = _BOX_PATH.match(request.url.path)
        if match is None or status != 200:
            return
        box = f"{match.group(1)}/{match.group(2)}"
        if request.method == "POST":
            item = body[_COMMIT_PREFIX:] if match.group(3) == "commits" else body
            seq = int(json.loads(content).get("seq", -1))
            adversary.seen.append(Seen(self.member, "up", box, seq, item))
        elif request.method == "GET":
            for seq, item in decode_frames(content):
                adversary.seen.append(Seen(self.member, "down", box, seq, item))


async def _send(method: str, url: httpx.URL, headers: httpx.Headers, body: bytes) -> httpx.Response:
    # A fresh connection per request: the engines under test outlive event loops.
    async with httpx.AsyncClient(timeout=60) as client:
        forwarded = client.build_request(method, url, headers=headers, content=body)
        response = await client.send(forwarded)
        await response.aread()
        return response
