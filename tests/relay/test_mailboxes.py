"""Group mailboxes through the real app: items, commits, epochs and every error answer."""

from __future__ import annotations

import asyncio
import os

import pytest

from crypto.key_schedule import cap_hash
from crypto.relay_auth import b64url_decode, b64url_encode
from tests.relay.conftest import Client, Mailbox, auth, new_id

pytestmark = pytest.mark.anyio


async def test_health_and_openapi(client: Client) -> None:
    health = await client.http.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["work_bits"] == 0  # no proof of work in quiet times
    doc = (await client.http.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")


async def test_create_append_fetch(client: Client) -> None:
    box = await client.new_mailbox()
    seqs = []
    for n in range(5):
        response = await client.post(box, b"item %d" % n)
        assert response.status_code == 200
        seqs.append(response.json()["seq"])
    assert seqs == [1, 2, 3, 4, 5]

    response, frames = await client.fetch(box, box.cap)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-caucus-last"] == "5"
    assert frames == [(n + 1, b"item %d" % n) for n in range(5)]

    response, frames = await client.fetch(box, box.cap, after=3, limit=1)
    assert frames == [(4, b"item 3")]
    assert response.headers["x-caucus-last"] == "5"

    response, frames = await client.fetch(box, box.cap, after=5)
    assert response.status_code == 200 and response.content == b"" and frames == []


async def test_create_twice_is_exists(client: Client) -> None:
    box = await client.new_mailbox()
    again = await client.http.put(
        box.path, json={"cap_hash": b64url_encode(os.urandom(32)), "head": b64url_encode(bytes(32))}
    )
    assert again.status_code == 409 and again.json()["error"] == "exists"


async def test_wrong_or_missing_capability(client: Client) -> None:
    box = await client.new_mailbox()
    wrong = await client.post(box, b"x", cap=os.urandom(32))
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
    missing = await client.http.post(box.path + "/items", content=b"x")
    assert missing.status_code == 403
    response, _ = await client.fetch(box, os.urandom(32))
    assert response.status_code == 403
    malformed = await client.http.post(
        box.path + "/items", content=b"x", headers={"Authorization": "Bearer !!"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "bad_request"


async def test_unknown_mailbox_is_not_found(client: Client) -> None:
    ghost = Mailbox(new_id(), os.urandom(32), bytes(32))
    response = await client.post(ghost, b"x")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    response, _ = await client.fetch(ghost, ghost.cap)
    assert response.status_code == 404


async def test_empty_item_is_refused(client: Client) -> None:
    box = await client.new_mailbox()
    response = await client.post(box, b"")
    assert response.status_code == 400


async def test_commit_moves_head_and_epoch(client: Client) -> None:
    box = await client.new_mailbox()
    await client.post(box, b"one")
    new_head, new_cap = os.urandom(32), os.urandom(32)
    response = await client.commit(box, box.cap, box.head, new_head, new_cap, b"the commit")
    assert response.status_code == 200 and response.json() == {"seq": 2}

    # the old capability can no longer write, and says so distinctly from a wrong one
    stale = await client.post(box, b"late", cap=box.cap)
    assert stale.status_code == 409 and stale.json()["error"] == "stale_epoch"
    stale_commit = await client.commit(box, box.cap, new_head, os.urandom(32), os.urandom(32))
    assert stale_commit.status_code == 409 and stale_commit.json()["error"] == "stale_epoch"

    # the next commit must name the new head
    wrong = await client.commit(box, new_cap, box.head, os.urandom(32), os.urandom(32))
    assert wrong.status_code == 409
    assert wrong.json()["error"] == "head_mismatch"
    assert b64url_decode(wrong.json()["head"]) == new_head
    assert (await client.post(box, b"epoch 1", cap=new_cap)).json() == {"seq": 3}


async def test_commit_cannot_reuse_a_capability(client: Client) -> None:
    box = await client.new_mailbox()
    response = await client.commit(box, box.cap, box.head, os.urandom(32), box.cap)
    assert response.status_code == 400


async def test_commit_body_too_short(client: Client) -> None:
    box = await client.new_mailbox()
    response = await client.http.post(
        box.path + "/commits", content=bytes(96), headers=auth(box.cap)
    )
    assert response.status_code == 400


async def test_removed_member_reads_only_up_to_the_closing_commit(client: Client) -> None:
    """A member holding only epoch 0's capability sees items 1..commit, then 410."""
    box = await client.new_mailbox()
    await client.post(box, b"e0 a")
    await client.post(box, b"e0 b")
    cap1 = os.urandom(32)
    commit = await client.commit(box, box.cap, box.head, os.urandom(32), cap1, b"remove B")
    assert commit.json() == {"seq": 3}
    await client.post(box, b"e1 secret", cap=cap1)
    await client.post(box, b"e1 more", cap=cap1)

    response, frames = await client.fetch(box, box.cap)
    assert [seq for seq, _ in frames] == [1, 2, 3]
    assert response.headers["x-caucus-last"] == "3"
    assert all(b"e1" not in item for _, item in frames)

    ended, _ = await client.fetch(box, box.cap, after=3)
    assert ended.status_code == 410 and ended.json()["error"] == "epoch_ended"
    # even a long-poll answers at once
    ended, _ = await asyncio.wait_for(client.fetch(box, box.cap, after=3, wait=20), 10)
    assert ended.status_code == 410

    # the new epoch's capability starts after the commit
    response, frames = await client.fetch(box, cap1)
    assert frames == [(4, b"e1 secret"), (5, b"e1 more")]
    assert response.headers["x-caucus-last"] == "5"


async def test_new_epoch_without_items_reports_its_start(client: Client) -> None:
    box = await client.new_mailbox()
    cap1 = os.urandom(32)
    await client.commit(box, box.cap, box.head, os.urandom(32), cap1)
    response, frames = await client.fetch(box, cap1)
    assert frames == [] and response.headers["x-caucus-last"] == "1"


async def test_walk_forward_epoch_by_epoch(client: Client) -> None:
    """An offline member catches up through three epochs with the caps commits carry."""
    box = await client.new_mailbox()
    caps = [box.cap]
    head = box.head
    for epoch in range(3):
        await client.post(box, b"msg in %d" % epoch, cap=caps[-1])
        new_head, new_cap = os.urandom(32), os.urandom(32)
        assert (await client.commit(box, caps[-1], head, new_head, new_cap)).status_code == 200
        head = new_head
        caps.append(new_cap)
    seen: list[int] = []
    after = 0
    for cap in caps[:-1]:
        _, frames = await client.fetch(box, cap, after=after)
        seen.extend(seq for seq, _ in frames)
        after = frames[-1][0]
        ended, _ = await client.fetch(box, cap, after=after)
        assert ended.status_code == 410
    assert seen == list(range(1, 7))


async def test_two_concurrent_commits_exactly_one_lands(client: Client) -> None:
    box = await client.new_mailbox()
    for _round in range(5):
        attempts = [
            client.commit(box, box.cap, box.head, os.urandom(32), os.urandom(32)) for _ in range(2)
        ]
        results = await asyncio.gather(*attempts)
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409]
        loser = next(r for r in results if r.status_code == 409)
        assert loser.json()["error"] in {"stale_epoch", "head_mismatch"}
        box = await client.new_mailbox()


async def test_many_concurrent_commits_exactly_one_lands(client: Client) -> None:
    box = await client.new_mailbox()
    await client.post(box, b"before")
    caps = [os.urandom(32) for _ in range(20)]
    results = await asyncio.gather(
        *(client.commit(box, box.cap, box.head, os.urandom(32), cap) for cap in caps)
    )
    winners = [cap for cap, r in zip(caps, results, strict=True) if r.status_code == 200]
    assert len(winners) == 1
    assert (await client.post(box, b"after", cap=winners[0])).json() == {"seq": 3}


async def test_items_racing_a_commit_never_land_after_it(client: Client) -> None:
    """No item of an old epoch can appear after the commit that closed it."""
    box = await client.new_mailbox()
    cap1 = os.urandom(32)
    posts = [client.post(box, b"old %d" % n) for n in range(30)]
    commit = client.commit(box, box.cap, box.head, os.urandom(32), cap1)
    results = await asyncio.gather(*posts[:15], commit, *posts[15:])
    commit_seq = results[15].json()["seq"]
    accepted = [r.json()["seq"] for r in results if r.status_code == 200]
    assert all(seq <= commit_seq for seq in accepted)
    refused = [r for r in results if r.status_code != 200]
    assert all(r.json()["error"] == "stale_epoch" for r in refused)
    _, frames = await client.fetch(box, cap1)
    assert frames == []


async def test_delete_mailbox(client: Client) -> None:
    box = await client.new_mailbox()
    await client.post(box, b"x")
    cap1 = os.urandom(32)
    await client.commit(box, box.cap, box.head, os.urandom(32), cap1)
    stale = await client.http.delete(box.path, headers=auth(box.cap))
    assert stale.status_code == 409 and stale.json()["error"] == "stale_epoch"
    wrong = await client.http.delete(box.path, headers=auth(os.urandom(32)))
    assert wrong.status_code == 403
    deleted = await client.http.delete(box.path, headers=auth(cap1))
    assert deleted.status_code == 204 and deleted.content == b""
    response, _ = await client.fetch(box, cap1)
    assert response.status_code == 404
    # the id may be created afresh
    again = await client.http.put(
        box.path, json={"cap_hash": b64url_encode(cap_hash(cap1)), "head": b64url_encode(box.head)}
    )
    assert again.status_code == 201


async def test_concurrent_appends_get_distinct_consecutive_seqs(client: Client) -> None:
    box = await client.new_mailbox()
    results = await asyncio.gather(*(client.post(box, b"n%d" % n) for n in range(100)))
    seqs = sorted(r.json()["seq"] for r in results)
    assert seqs == list(range(1, 101))
    _, frames = await client.fetch(box, box.cap)
    by_seq = dict(frames)
    for n, r in enumerate(results):
        assert by_seq[r.json()["seq"]] == b"n%d" % n
