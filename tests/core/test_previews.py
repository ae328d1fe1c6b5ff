"""Image previews of attached files with real engines on the real relay: a small PNG is
fetched into memory byte for byte; a file that only claims to be an image, or a large
one, gets no preview; and the magic bytes decide, not the name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.engine import Engine
from app.core.errors import ClientError
from app.core.previews import PREVIEW_MAX, image_kind, previewable
from tests.core.harness import Clock, befriend, make_engine, make_relay, run
from tests.core.pictures import png


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    clock = Clock()
    app = make_relay(tmp_path, clock)
    transport = httpx.ASGITransport(app=app)
    alice, bob = (
        make_engine(tmp_path, name, transport, clock, display_name=name.capitalize())
        for name in ("alice", "bob")
    )
    yield alice, bob
    for engine in (alice, bob):
        run(engine.close())
    app.close()


def test_magic_bytes_and_the_automatic_download_rule() -> None:
    assert image_kind(png(2, 2)) == "png"
    assert image_kind(b"\xff\xd8\xff\xe0" + bytes(20)) == "jpeg"
    assert image_kind(b"GIF89a" + bytes(20)) == "gif"
    assert image_kind(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "webp"
    assert image_kind(b"RIFF\x10\x00\x00\x00WAVEfmt ") is None
    assert image_kind(b"<svg xmlns=...>") is None  # SVG is code, not a picture: never
    assert previewable("image/png", PREVIEW_MAX) and not previewable("image/png", PREVIEW_MAX + 1)
    assert not previewable("image/svg+xml", 100) and not previewable("application/pdf", 100)


def test_a_small_image_is_fetched_and_others_get_no_preview(
    pair: tuple[Engine, Engine], tmp_path: Path
) -> None:
    alice, bob = pair
    picture = tmp_path / "strike.png"
    picture.write_bytes(png(40, 30))
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is no picture at all, whatever its name says")
    large = tmp_path / "poster.png"
    large.write_bytes(png(8, 8) + bytes(PREVIEW_MAX))

    async def scenario() -> None:
        group_id = await alice.create_group("Couriers")
        await befriend(alice, group_id, bob)
        for path in (picture, fake, large):
            await alice.attachments.send(group_id, [path], path.stem)
        await bob.sync()
        ids = {m.text: m.message_id for m in bob.messages(group_id) if m.attachments}
        strike, fake_id, poster = ids["strike"], ids["fake"], ids["poster"]
        assert strike is not None and fake_id is not None and poster is not None
        assert await bob.previews.fetch(group_id, strike) == picture.read_bytes()
        with pytest.raises(ClientError, match="not a PNG, JPEG, GIF or WebP"):
            await bob.previews.fetch(group_id, fake_id)
        with pytest.raises(ClientError, match="gets no preview"):
            await bob.previews.fetch(group_id, poster)

    run(scenario())
