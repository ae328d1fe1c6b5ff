"""Files attached to messages between three real engines on the real relay (protocol
4.1.2): every member lists them and gets the same bytes; a blob the relay altered or
swapped is refused with nothing written; a file over the limit is refused before any
upload; the relay never sees a file's content or name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.cli_json import message_json
from app.core.attachments import AttachmentUnavailable
from app.core.engine import Engine
from app.core.errors import AlreadyExists, ClientError
from app.core.relay_client import b64
from app.core.store import attachments as store
from app.core.store import conversation as conversation_store
from crypto.attachment import MAX_ATTACHMENT_SIZE
from tests.core.harness import (
    Clock,
    RecordingTransport,
    Traffic,
    befriend,
    make_engine,
    make_relay,
    run,
    sync_all,
)

CANARY = b"CANARY-attachment-7f3a9c"
NAME_CANARY = "CANARYNAME-minutes.pdf"


class TamperingTransport(httpx.AsyncBaseTransport):
    """Passes requests on; while ``active``, answers blob chunk downloads with one byte
    of the relay's stored chunk flipped. ``inner`` may be replaced during a test."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.active = False
        self.tampered = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not (self.active and request.method == "GET" and "/chunks/" in request.url.path):
            return response
        content = bytearray(await response.aread())
        if response.status_code == 200:
            content[len(content) // 2] ^= 0x01
            self.tampered += 1
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(content)
        )


class Substitute(httpx.AsyncBaseTransport):
    """Answers every chunk download with chunk 0 of another blob: a valid stream, but
    under another content key, as a relay that swaps blobs would."""

    def __init__(self, inner: httpx.AsyncBaseTransport, blob_id: bytes, capability: bytes) -> None:
        self.inner = inner
        self.path = f"/v1/blobs/{blob_id.hex()}/chunks/0"
        self.authorization = f"Bearer {b64(capability)}"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "/chunks/" in request.url.path:
            headers = dict(request.headers)
            headers["authorization"] = self.authorization
            url = request.url.copy_with(path=self.path)
            request = httpx.Request("GET", url, headers=headers)
        return await self.inner.handle_async_request(request)


@dataclass
class World:
    alice: Engine
    bob: Engine
    carol: Engine
    traffic: Traffic
    tamper: TamperingTransport


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    traffic = Traffic()
    tamper = TamperingTransport(RecordingTransport(httpx.ASGITransport(app=app), traffic))
    alice, bob, carol = (
        make_engine(tmp_path, name, tamper, clock, display_name=name.capitalize())
        for name in ("alice", "bob", "carol")
    )
    yield World(alice, bob, carol, traffic, tamper)
    for engine in (alice, bob, carol):
        run(engine.close())
    app.close()


def _file(folder: Path, name: str, size: int) -> Path:
    data = os.urandom(size // 2) + CANARY + os.urandom(size - size // 2 - len(CANARY))
    path = folder / name
    path.write_bytes(data)
    return path


async def _group(world: World) -> bytes:
    group_id = await world.alice.create_group("Couriers")
    await befriend(world.alice, group_id, world.bob, world.carol)
    return group_id


def _only_id(engine: Engine, group_id: bytes) -> bytes:
    found = [m.message_id for m in engine.messages(group_id) if m.attachments]
    assert len(found) == 1 and found[0] is not None
    return found[0]


def test_every_member_lists_and_gets_identical_bytes(world: World, tmp_path: Path) -> None:
    big = _file(tmp_path, NAME_CANARY, 2 * (1 << 20) + 12_345)  # three relay chunks
    small = _file(tmp_path, "note.txt", 100)

    async def scenario() -> bytes:
        group_id = await _group(world)
        await world.alice.attachments.send(group_id, [big, small], "the minutes")
        await sync_all(world.bob, world.carol)
        return group_id

    group_id = run(scenario())
    expected = [
        {"name": NAME_CANARY, "size": big.stat().st_size, "media_type": "application/pdf"},
        {"name": "note.txt", "size": 100, "media_type": "text/plain"},
    ]
    for engine in (world.alice, world.bob, world.carol):
        (shown,) = [message_json(m) for m in engine.messages(group_id) if m.attachments]
        assert shown["attachments"] == expected and shown["text"] == "the minutes"
    message_id = _only_id(world.carol, group_id)
    for who, engine in (("bob", world.bob), ("carol", world.carol), ("alice", world.alice)):
        out = tmp_path / f"got-{who}"
        out.mkdir()
        written = run(engine.attachments.get(group_id, message_id, out))
        assert written == out / NAME_CANARY and written.read_bytes() == big.read_bytes()
        second = run(engine.attachments.get(group_id, message_id, out / "n.txt", index=1))
        assert second.read_bytes() == small.read_bytes()
    # An existing file is kept unless the member says --force.
    target = tmp_path / "got-bob" / NAME_CANARY
    target.write_bytes(b"mine")
    with pytest.raises(AlreadyExists):
        run(world.bob.attachments.get(group_id, message_id, target))
    assert target.read_bytes() == b"mine"
    run(world.bob.attachments.get(group_id, message_id, target, force=True))
    assert target.read_bytes() == big.read_bytes()
    # The relay saw neither the content nor the file's name.
    wire = world.traffic.blob()
    assert CANARY not in wire and NAME_CANARY.encode() not in wire
    assert b"the minutes" not in wire


def test_a_tampered_blob_is_refused_and_nothing_is_written(world: World, tmp_path: Path) -> None:
    source = _file(tmp_path, "plan.bin", 5000)

    async def scenario() -> bytes:
        group_id = await _group(world)
        await world.alice.attachments.send(group_id, [source])
        await sync_all(world.bob)
        return group_id

    group_id = run(scenario())
    message_id = _only_id(world.bob, group_id)
    out = tmp_path / "plan-copy.bin"
    world.tamper.active = True
    with pytest.raises(AttachmentUnavailable, match="damaged or is not the file"):
        run(world.bob.attachments.get(group_id, message_id, out))
    assert world.tamper.tampered >= 1
    assert not out.exists() and list(tmp_path.glob(".plan-copy.bin.*")) == []
    world.tamper.active = False
    run(world.bob.attachments.get(group_id, message_id, out))
    assert out.read_bytes() == source.read_bytes()


def test_a_substituted_blob_is_refused(world: World, tmp_path: Path) -> None:
    """The relay serves another attachment's blob (a valid stream under another key)."""
    first = _file(tmp_path, "a.bin", 3000)
    second = _file(tmp_path, "b.bin", 3000)

    async def scenario() -> tuple[bytes, list[bytes]]:
        group_id = await _group(world)
        await world.alice.attachments.send(group_id, [first])
        await world.alice.attachments.send(group_id, [second])
        await sync_all(world.bob)
        ids = [m.message_id for m in world.bob.messages(group_id) if m.attachments]
        return group_id, [i for i in ids if i is not None]

    group_id, (first_id, second_id) = run(scenario())
    target = conversation_store.target(world.bob.db, group_id, second_id)
    assert target is not None
    other = store.load(world.bob.db, target.row_id)[0].keys
    world.tamper.inner = Substitute(world.tamper.inner, other.blob_id, other.blob_capability)
    out = tmp_path / "a-copy.bin"
    with pytest.raises(AttachmentUnavailable, match="not the file its sender attached"):
        run(world.bob.attachments.get(group_id, first_id, out))
    assert not out.exists()


def test_over_the_limit_is_refused_before_any_upload(world: World, tmp_path: Path) -> None:
    huge = tmp_path / "huge.iso"
    with huge.open("wb") as handle:
        handle.truncate(MAX_ATTACHMENT_SIZE + 1)  # sparse: no 100 MiB written

    async def scenario() -> bytes:
        return await _group(world)

    group_id = run(scenario())
    before = len(world.traffic.chunks)
    with pytest.raises(ClientError, match="larger than 100 MiB"):
        run(world.alice.attachments.send(group_id, [huge], "too big"))
    assert len(world.traffic.chunks) == before  # not one request
    assert not any(m.attachments for m in world.alice.messages(group_id))


def test_a_deleted_message_keeps_no_file_key(world: World, tmp_path: Path) -> None:
    source = _file(tmp_path, "old.bin", 2000)

    async def scenario() -> tuple[bytes, bytes]:
        group_id = await _group(world)
        await world.alice.attachments.send(group_id, [source], "wrong file")
        await sync_all(world.bob)
        message_id = _only_id(world.bob, group_id)
        await world.alice.conversation.delete(group_id, message_id)
        await sync_all(world.bob)
        return group_id, message_id

    group_id, message_id = run(scenario())
    for engine in (world.alice, world.bob):
        assert engine.db.all("SELECT count(*) FROM attachments")[0][0] == 0
        assert not any(m.attachments for m in engine.messages(group_id))
        with pytest.raises(ClientError, match="deleted"):
            run(engine.attachments.get(group_id, message_id, tmp_path / "x.bin"))
