"""Typed commands for linked devices (docs/protocol.md 8), for the desktop app."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.commands import Command
from app.core.devices import DeviceView
from app.core.engine import Engine
from app.core.errors import ClientError
from crypto.device_link import LinkCode
from crypto.errors import CaucusError

__all__ = ["LinkDevice", "ListDevices", "RemoveDevice", "link_code_relay_url"]


@dataclass(frozen=True)
class LinkDevice(Command[str]):
    """Returns the link code to show on this (the first) device."""

    async def run(self, engine: Engine) -> str:
        return await engine.link_device()


@dataclass(frozen=True)
class ListDevices(Command[list[DeviceView]]):
    async def run(self, engine: Engine) -> list[DeviceView]:
        return engine.devices.list()


@dataclass(frozen=True)
class RemoveDevice(Command[int]):
    """Removes a linked device from every group; returns how many."""

    device_id: str

    async def run(self, engine: Engine) -> int:
        return await engine.devices.remove(self.device_id)


def link_code_relay_url(text: str) -> str:
    """The relay URL a ``caucus://link#…`` code carries; ``ClientError`` if it is none."""
    try:
        return LinkCode.parse(text).relay_url
    except CaucusError as exc:
        raise ClientError(f"{exc}: copy the whole code your other computer shows") from None
