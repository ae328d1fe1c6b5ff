"""Replies, edits, deletions and reactions: message content types 2 to 5 (protocol 4.1.1).

Each names another message of the same group by its message id (the first 16 bytes of
its ``message_hash``, the same at every member). The bodies are strict like every other
format: one encoding per value, ``MalformedData`` for anything else. Who may do what is
decided by the receiver against the signed sender of both messages (only the author
edits or deletes); that rule lives in the client (``app/core/conversation_receive.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crypto.content import MAX_TEXT, PARSERS, ContentType
from crypto.errors import MalformedData, UsageError
from crypto.wire import Reader, Writer

__all__ = [
    "MAX_EMOJI",
    "MESSAGE_ID_BYTES",
    "DeleteBody",
    "EditBody",
    "ReactionBody",
    "ReplyBody",
    "check_emoji",
]

MESSAGE_ID_BYTES = 16
MAX_EMOJI = 32
"""Largest reaction, in UTF-8 bytes (an emoji with modifiers and joiners fits)."""

# Characters a reaction may not contain: controls, separators and whitespace, and the
# bidirectional formatting characters (listed, not read from the Unicode database, so
# every client applies the same rule whatever its Python version).
_FORBIDDEN = frozenset(
    [
        *range(0x00, 0x21),  # C0 controls and space
        *range(0x7F, 0xA1),  # DEL, C1 controls, no-break space
        *range(0x2000, 0x200C),  # spaces and zero-width space (joiners stay: emoji use them)
        0x200E,
        0x200F,
        *range(0x2028, 0x202F),  # line/paragraph separators, bidi embeddings
        *range(0x2066, 0x206A),  # bidi isolates
        0x061C,
        0x1680,
        0x3000,
    ]
)


def check_emoji(emoji: str) -> str:
    """``emoji`` if it is a valid reaction: 1 to ``MAX_EMOJI`` UTF-8 bytes, at most 8
    code points, no whitespace, control or bidi character; else ``UsageError``."""
    try:
        raw = emoji.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("a reaction must be UTF-8 text") from None
    if not raw or len(raw) > MAX_EMOJI or len(emoji) > 8:
        raise UsageError("a reaction is one emoji (at most 32 bytes)")
    if any(ord(ch) in _FORBIDDEN for ch in emoji):
        raise UsageError("a reaction may not contain spaces or control characters")
    return emoji


def _text(text: str) -> bytes:
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("text is not encodable as UTF-8") from None
    if not raw:
        raise UsageError("text must not be empty")
    if len(raw) > MAX_TEXT:
        raise UsageError(f"text longer than {MAX_TEXT} UTF-8 bytes")
    return raw


def _id(value: bytes, what: str) -> bytes:
    if len(value) != MESSAGE_ID_BYTES:
        raise UsageError(f"{what} must be {MESSAGE_ID_BYTES} bytes")
    return value


@dataclass(frozen=True, slots=True)
class ReplyBody:
    """``bytes16 channel_id | bytes16 reply_to | str(65536) text``: a text message that
    answers another. The channel is the reply's own (normally the target's)."""

    content_type: ClassVar[ContentType] = ContentType.REPLY

    channel_id: bytes
    reply_to: bytes
    text: str

    def encode(self) -> bytes:
        writer = Writer().fixed(_id(self.channel_id, "channel id"), 16)
        writer.fixed(_id(self.reply_to, "reply_to"), MESSAGE_ID_BYTES)
        return bytes(writer.var(_text(self.text), MAX_TEXT))

    @classmethod
    def decode(cls, data: bytes) -> ReplyBody:
        reader = Reader(data)
        channel_id = reader.fixed(16)
        reply_to = reader.fixed(MESSAGE_ID_BYTES)
        text = reader.text(MAX_TEXT)
        reader.finish()
        if not text:
            raise MalformedData("reply text is empty")
        return cls(channel_id, reply_to, text)


@dataclass(frozen=True, slots=True)
class EditBody:
    """``bytes16 target | str(65536) text``: the author's new text for ``target``."""

    content_type: ClassVar[ContentType] = ContentType.EDIT

    target: bytes
    text: str

    def encode(self) -> bytes:
        writer = Writer().fixed(_id(self.target, "target"), MESSAGE_ID_BYTES)
        return bytes(writer.var(_text(self.text), MAX_TEXT))

    @classmethod
    def decode(cls, data: bytes) -> EditBody:
        reader = Reader(data)
        target = reader.fixed(MESSAGE_ID_BYTES)
        text = reader.text(MAX_TEXT)
        reader.finish()
        if not text:
            raise MalformedData("edit text is empty")
        return cls(target, text)


@dataclass(frozen=True, slots=True)
class DeleteBody:
    """``bytes16 target``: the author deletes ``target`` for everyone."""

    content_type: ClassVar[ContentType] = ContentType.DELETE

    target: bytes

    def encode(self) -> bytes:
        return bytes(Writer().fixed(_id(self.target, "target"), MESSAGE_ID_BYTES))

    @classmethod
    def decode(cls, data: bytes) -> DeleteBody:
        reader = Reader(data)
        target = reader.fixed(MESSAGE_ID_BYTES)
        reader.finish()
        return cls(target)


@dataclass(frozen=True, slots=True)
class ReactionBody:
    """``bytes16 target | str(32) emoji | u8 on``: add (1) or take back (0) a reaction."""

    content_type: ClassVar[ContentType] = ContentType.REACTION

    target: bytes
    emoji: str
    on: bool = True

    def encode(self) -> bytes:
        writer = Writer().fixed(_id(self.target, "target"), MESSAGE_ID_BYTES)
        writer.var(check_emoji(self.emoji).encode("utf-8"), MAX_EMOJI)
        return bytes(writer.u8(1 if self.on else 0))

    @classmethod
    def decode(cls, data: bytes) -> ReactionBody:
        reader = Reader(data)
        target = reader.fixed(MESSAGE_ID_BYTES)
        emoji = reader.text(MAX_EMOJI)
        flag = reader.u8()
        reader.finish()
        if flag not in (0, 1):
            raise MalformedData("reaction flag is not 0 or 1")
        try:
            check_emoji(emoji)
        except UsageError as exc:
            raise MalformedData(str(exc)) from None
        return cls(target, emoji, flag == 1)


PARSERS[ContentType.REPLY] = ReplyBody.decode
PARSERS[ContentType.EDIT] = EditBody.decode
PARSERS[ContentType.DELETE] = DeleteBody.decode
PARSERS[ContentType.REACTION] = ReactionBody.decode
