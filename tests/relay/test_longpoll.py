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


async def test_waiters_at_other_positions_are_not_answered_for_each_other(
    client: Client,
) -> None:
    """Woken waiters share a read only when they asked the same question: one waiting
    after item 1 gets item 2; one waiting after (not yet existing) item 5 keeps waiting."""
    box = await client.new_mailbox()
    await client.post(box, b"one")
    current = asyncio.create_task(client.fetch(box, box.cap, after=1, wait=20))
    ahead = asyncio.create_task(client.fetch(box, box.cap, after=5, wait=20))
    await until(lambda: client.app.relay.waiting == 2)
    await client.post(box, b"two")
    _response, frames = await asyncio.wait_for(current, 10)
    assert frames == [(2, b"two")]
    await until(lambda: client.app.relay.waiting == 1)  # woken, read, waiting again
    assert not ahead.done()
    for seq in (3, 4, 5, 6):
        await client.post(box, b"item %d" % seq)
    _response, frames = await asyncio.wait_for(ahead, 10)
    assert frames == [(6, b"item 6")]


@pytest.mark.sqlite_only
async def test_one_commit_wakes_many_waiters_with_one_read(client: Client) -> None:
    """The waiters of one mailbox woken by one commit ask the database once between them
    (``Relay._shared_read``), not once each: what keeps 1,000 waiters fast."""
    box = await client.new_mailbox()
    waiters = [asyncio.create_task(client.fetch(box, box.cap, wait=20)) for _ in range(30)]
    await until(lambda: client.app.relay.waiting == 30)
    reads: list[str] = []
    reader = client.app.relay._reader()  # this event loop's read connection
    reader.set_trace_callback(  # type: ignore[attr-defined]
        lambda sql: reads.append(sql) if "epoch_first FROM queues" in sql else None
    )
    try:
        await client.post(box, b"broadcast")
        results = await asyncio.wait_for(asyncio.gather(*waiters), 10)
    finally:
        reader.set_trace_callback(None)  # type: ignore[attr-defined]
    assert all(frames == [(1, b"broadcast")] for _, frames in results)
    assert len(reads) == 1


async def test_a_shared_answer_is_not_reused_after_the_next_commit(client: Client) -> None:
    """An answer is shared only until the next commit is notified: a read after that
    commit sees its item, however soon it comes."""
    import functools

    from relay import store

    box = await client.new_mailbox()
    relay = client.app.relay
    read = functools.partial(
        store.fetch_mailbox,
        mid=bytes.fromhex(box.mid),
        cap_hash=client.app._caps.of_header(auth(box.cap)["Authorization"].encode()),
        after=0,
        limit=100,
        max_bytes=1 << 20,
    )
    assert relay._shared_read(read).rows == []
    assert relay._shared_read(read).rows == []  # shared: no commit since
    await client.post(box, b"new")
    assert relay._shared_read(read).rows == [(1, b"new")]
