"""Pinned messages: message content type 7 (protocol 4.1.3).

``bytes16 target | u8 on``: pin (1) or unpin (0) the message with id ``target`` (the
first 16 bytes of its ``message_hash``). Who may pin is decided by the receiver against
the roster of the epoch the pin was sent in (organizers only); that rule lives in the
client (``app/core/pins_receive.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crypto.content import PARSERS, ContentType
from crypto.conversation import MESSAGE_ID_BYTES
from crypto.errors import MalformedData, UsageError
from crypto.wire import Reader, Writer

__all__ = ["MAX_PINS", "PinBody"]

MAX_PINS = 20
"""Most messages pinned in one group at once; a pin beyond it is refused by every client."""


@dataclass(frozen=True, slots=True)
class PinBody:
    """Pin or unpin one message of the group."""

    content_type: ClassVar[ContentType] = ContentType.PIN

    target: bytes
    on: bool = True

    def encode(self) -> bytes:
        if len(self.target) != MESSAGE_ID_BYTES:
            raise UsageError(f"target must be {MESSAGE_ID_BYTES} bytes")
        return bytes(Writer().fixed(self.target, MESSAGE_ID_BYTES).u8(1 if self.on else 0))

    @classmethod
    def decode(cls, data: bytes) -> PinBody:
        reader = Reader(data)
        target = reader.fixed(MESSAGE_ID_BYTES)
        flag = reader.u8()
        reader.finish()
        if flag not in (0, 1):
            raise MalformedData("pin flag is not 0 or 1")
        return cls(target, flag == 1)


PARSERS[ContentType.PIN] = PinBody.decode
