"""Content types carried in a message body, and their strict codecs (protocol 4.1).

A message says its ``content_type``; ``parse_content`` picks the decoder from
``PARSERS``.  Ballots (types 16-31) and documents (32-47) are reserved: their modules
register by adding a member to ``ContentType`` and an entry to ``PARSERS`` here, so the
list of everything a message can carry stays in this one file.  Unknown types raise
``MalformedData``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Protocol

from crypto.errors import MalformedData, TooLarge, UsageError
from crypto.wire import Writer

__all__ = [
    "BALLOT_TYPES",
    "DEFAULT_CHANNEL",
    "DOCUMENT_TYPES",
    "MAX_TEXT",
    "PARSERS",
    "UNION_TYPES",
    "Content",
    "ContentType",
    "TextBody",
    "parse_content",
]

BALLOT_TYPES = range(16, 32)
"""Content types reserved for ballots."""

DOCUMENT_TYPES = range(32, 48)
"""Content types reserved for documents."""

UNION_TYPES = range(48, 64)
"""Content types reserved for union tools: rate reports and the k threshold (48-51),
client reports (52-55), dispute cases (56-63); docs/union-tools.md."""

DEFAULT_CHANNEL = bytes(16)
"""The channel every group has without a CHANNEL log entry."""

MAX_TEXT = 65_536
_TEXT_AT = 16 + 4  # channel id, text length
_U32 = struct.Struct(">I")
"""Largest text of a text message, in UTF-8 bytes."""


class ContentType(IntEnum):
    """The ``content_type`` byte of a message."""

    TEXT = 1
    REPLY = 2  # crypto/conversation.py: replies, edits, deletes, reactions (4.1.1)
    EDIT = 3
    DELETE = 4
    REACTION = 5
    ATTACHMENT = 6  # crypto/attachment.py: files attached to a message (4.1.2)
    PIN = 7  # crypto/pins.py: pin or unpin a message (4.1.3)


class Content(Protocol):
    """What every decoded body offers: its type and its canonical encoding."""

    content_type: ClassVar[ContentType]

    def encode(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class TextBody:
    """A text message in a channel: ``bytes16 channel_id | str(65536) text``.

    The text is any non-empty UTF-8 string of at most ``MAX_TEXT`` bytes; rendering
    (escaping, trimming) is the viewer's business, not the protocol's.
    """

    content_type: ClassVar[ContentType] = ContentType.TEXT

    channel_id: bytes
    text: str

    def __post_init__(self) -> None:
        if len(self.channel_id) != 16:
            raise UsageError("channel id must be 16 bytes")
        if not self.text:
            raise UsageError("text must not be empty")

    def encode(self) -> bytes:
        """Canonical bytes; raises ``UsageError`` for text over ``MAX_TEXT`` bytes or
        text that is not encodable (lone surrogates)."""
        try:
            raw = self.text.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError("text is not encodable as UTF-8") from None
        if len(raw) > MAX_TEXT:
            raise UsageError(f"text longer than {MAX_TEXT} UTF-8 bytes")
        return bytes(Writer().fixed(self.channel_id, 16).var(raw, MAX_TEXT))

    @classmethod
    def decode(cls, data: bytes) -> TextBody:
        """Strict inverse of ``encode``; raises ``MalformedData`` (or ``TooLarge``).

        Parsed with one ``struct`` call rather than a ``Reader`` (every message of a
        catch-up is one), with ``Reader``'s checks, errors and order."""
        data = bytes(data)
        size = len(data)
        if size < _TEXT_AT:
            raise MalformedData("truncated input")
        (length,) = _U32.unpack_from(data, 16)
        if length > MAX_TEXT:
            raise TooLarge(f"field of {length} bytes exceeds the limit of {MAX_TEXT}")
        end = _TEXT_AT + length
        if end > size:
            raise MalformedData("truncated input")
        try:
            text = data[_TEXT_AT:end].decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedData("text field is not valid UTF-8") from None
        if end < size:
            raise MalformedData(f"{size - end} unexpected trailing bytes")
        if not text:
            raise MalformedData("text message is empty")
        return cls(data[:16], text)


PARSERS: dict[int, Callable[[bytes], Content]] = {
    ContentType.TEXT: TextBody.decode,
}
# Types 2-5 (replies, edits, deletions, reactions) are registered by crypto/conversation.py,
# imported at the end of this module so that every importer of PARSERS sees them.
"""Decoder of each registered content type; extend it here when adding a type."""


def parse_content(content_type: int, body: bytes) -> Content:
    """Decode ``body`` as ``content_type``; ``MalformedData`` for unknown types."""
    parser = PARSERS.get(content_type)
    if parser is None:
        raise MalformedData(f"unknown content type {content_type}")
    return parser(body)


from crypto import attachment as _attachment  # noqa: E402, F401  (registers type 6)
from crypto import conversation as _conversation  # noqa: E402, F401  (registers types 2-5)
from crypto import pins as _pins  # noqa: E402, F401  (registers type 7)
