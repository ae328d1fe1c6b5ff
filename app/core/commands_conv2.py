"""Typed commands for pins, the group description and "send anyway" (issue #12): what
the desktop app submits through its bridge (``app.core.api`` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.commands import Command
from app.core.engine import Engine
from app.core.pin_views import PinView

__all__ = ["DescribeGroup", "ListPins", "PinMessage", "SendAnyway"]


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
