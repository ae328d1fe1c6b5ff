"""Long-poll: a waiting fetch returns the new item once it is committed, or empty after W."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import nacl.signing
import pytest

from relay.codec import decode_frames
from tests.relay.conftest import Client, auth
from tests.relay.test_inboxes import make_inbox, signed

pytestmark = pytest.mark.anyio


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition()`` holds (polled, at most about 10 s)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition did not become true")


async def test_waiting_fetch_wakes_on_new_item(client: Client) -> None:
    box = await client.new_mailbox()
    await client.post(box, b"old")
    waiting = asyncio.create_task(client.fetch(box, box.cap, after=1, wait=20))
    await until(lambda: client.app.relay.waiting == 1)
    assert not waiting.done()
    posted = await client.post(box, b"new")
    # it wakes for the item: wait_for gives up long before the 20 s wait would end
    response, frames = await asyncio.wait_for(waiting, 10)
    assert response.status_code == 200
    assert frames == [(posted.json()["seq"], b"new")]
    assert client.app.relay.waiting == 0


async def test_wait_expires_with_empty_answer(client: Client) -> None:
    box = await client.new_mailbox()
    response, frames = await client.fetch(box, box.cap, wait=0.3)
    assert response.status_code == 200 and frames == [] and response.content == b""
    assert response.headers["x-caucus-last"] == "0"


async def test_many_waiters_all_wake(client: Client) -> None:
    box = await client.new_mailbox()
    waiters = [asyncio.create_task(client.fetch(box, box.cap, wait=20)) for _ in range(30)]
    await until(lambda: client.app.relay.waiting == 30)
    await client.post(box, b"broadcast")
    results = await asyncio.wait_for(asyncio.gather(*waiters), 10)
    assert all(frames == [(1, b"broadcast")] for _, frames in results)
    assert client.app.relay.waiting == 0


async def test_commit_wakes_old_epoch_waiter_with_the_commit(client: Client) -> None:
    """A member waiting with the old capability receives the commit that ends its epoch."""
    import os

    box = await client.new_mailbox()
    waiting = asyncio.create_task(client.fetch(box, box.cap, wait=20))
    await until(lambda: client.app.relay.waiting == 1)
    await client.commit(box, box.cap, box.head, os.urandom(32), os.urandom(32), b"commit!")
    _response, frames = await asyncio.wait_for(waiting, 10)
    assert frames == [(1, b"commit!")]
    ended, _ = await client.fetch(box, box.cap, after=1, wait=20)
    assert ended.status_code == 410


async def test_other_mailbox_does_not_wake(client: Client) -> None:
    box, other = await client.new_mailbox(), await client.new_mailbox()
    waiting = asyncio.create_task(client.fetch(box, box.cap, wait=1))
    await until(lambda: client.app.relay.waiting == 1)
    await client.post(other, b"elsewhere")
    _response, frames = await asyncio.wait_for(waiting, 10)
    assert frames == []


async def test_inbox_long_poll(client: Client) -> None:
    key = nacl.signing.SigningKey.generate()
    iid = await make_inbox(client.http, key)
    waiting = asyncio.create_task(
        client.http.get(f"/v1/inboxes/{iid}/items", params={"wait": 20}, headers=signed(key, iid))
    )
    await until(lambda: client.app.relay.waiting == 1)
    await client.http.post(f"/v1/inboxes/{iid}/items", content=b"welcome")
    response = await asyncio.wait_for(waiting, 10)
    assert decode_frames(response.content) == [(1, b"welcome")]


async def test_close_answers_waiters_at_once(client: Client) -> None:
    box = await client.new_mailbox()
    waiting = asyncio.create_task(client.fetch(box, box.cap, wait=25))
    await until(lambda: client.app.relay.waiting == 1)
    client.app.relay.begin_shutdown()
    response, frames = await asyncio.wait_for(waiting, 10)
    assert response.status_code == 200 and frames == []


async def test_disconnect_during_wait_frees_the_waiter(client: Client) -> None:
    """An ASGI disconnect ends the wait; the app stays healthy."""
    box = await client.new_mailbox()
    disconnect = asyncio.Event()
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": box.path + "/items",
        "query_string": b"wait=25",
        "headers": [(b"authorization", auth(box.cap)["Authorization"].encode())],
    }
    call = asyncio.create_task(client.app(scope, receive, send))
    await until(lambda: client.app.relay.waiting == 1)
    disconnect.set()
    await asyncio.wait_for(call, 10)
    assert client.app.relay.waiting == 0
    assert (await client.post(box, b"still fine")).status_code == 200
