"""Typed commands for pins, the group description, "send anyway" and file transfers
with progress and cancel (issue #12): what
the desktop app submits through its bridge (``app.core.api`` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.core.commands import Command
from app.core.engine import Engine
from app.core.pin_views import PinView
from app.core.transfer import Transfer
from app.core.views import DEFAULT_CHANNEL, MessageView

__all__ = [
    "DescribeGroup",
    "FetchPreview",
    "ListPins",
    "PinMessage",
    "SaveAttachmentTracked",
    "SendAnyway",
    "SendFilesTracked",
]


@dataclass(frozen=True)
class PinMessage(Command[None]):
    """Pin (``on``) or unpin a message, as an organizer."""

    group_id: bytes
    message_id: bytes
    on: bool = True

    async def run(self, engine: Engine) -> None:
        if self.on:
            await engine.pins.pin(self.group_id, self.message_id)
        else:
            await engine.pins.unpin(self.group_id, self.message_id)


@dataclass(frozen=True)
class ListPins(Command[list[PinView]]):
    group_id: bytes

    async def run(self, engine: Engine) -> list[PinView]:
        return engine.pins.pins(self.group_id)


@dataclass(frozen=True)
class DescribeGroup(Command[None]):
    """Set the group's description (empty removes it), as an organizer."""

    group_id: bytes
    text: str

    async def run(self, engine: Engine) -> None:
        await engine.description.describe(self.group_id, self.text)


@dataclass(frozen=True)
class SendAnyway(Command[int]):
    """The user's explicit override of a held group (docs/protocol.md 4.4, like
    ``caucus send --unconfirmed``): its queue goes out now although no recent organizer
    head confirms the group is current. Returns how many queued messages went out."""

    group_id: bytes

    async def run(self, engine: Engine) -> int:
        engine.freshness.send_anyway(self.group_id)
        return await engine.flush_outbox()


@dataclass(frozen=True)
class SendFilesTracked(Command[MessageView]):
    """``SendFiles`` with progress and cancel (``transfer``): cancelled while files
    upload, nothing is sent and the uploaded parts are deleted."""

    group_id: bytes
    paths: tuple[Path, ...]
    text: str = ""
    channel_id: bytes = DEFAULT_CHANNEL
    transfer: Transfer = field(default_factory=Transfer, compare=False)

    async def run(self, engine: Engine) -> MessageView:
        return await engine.attachments.send(
            self.group_id, list(self.paths), self.text, self.channel_id, self.transfer
        )


@dataclass(frozen=True)
class SaveAttachmentTracked(Command[Path]):
    """``SaveAttachment`` with progress and cancel: cancelled, nothing is written."""

    group_id: bytes
    message_id: bytes
    out: Path
    index: int = 0
    force: bool = True
    transfer: Transfer = field(default_factory=Transfer, compare=False)

    async def run(self, engine: Engine) -> Path:
        return await engine.attachments.get(
            self.group_id,
            self.message_id,
            self.out,
            index=self.index,
            force=self.force,
            transfer=self.transfer,
        )


@dataclass(frozen=True)
class FetchPreview(Command[bytes]):
    """The verified bytes of a small attached image, in memory (``app/core/previews``)."""

    group_id: bytes
    message_id: bytes
    index: int = 0

    async def run(self, engine: Engine) -> bytes:
        return await engine.previews.fetch(self.group_id, self.message_id, self.index)
