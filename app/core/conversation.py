"""Replies, edits, deletions for everyone and reactions: what the member does (the
received side is ``conversation_receive.py``).

Each goes out as a signed group message through the one outbox, in order with the
member's other messages. Its effect is applied here at once, in this member's own view,
as soon as it is queued (also when the relay is down: it goes out later), and again,
idempotently, when it comes back from the relay like everyone else's.
"""

from __future__ import annotations

from collections.abc import Callable

import app.core.conversation_receive  # noqa: F401  (registers the content handlers)
from app.core.devices import member_of
from app.core.errors import ClientError, NotFound, NotPermittedHere, RelayUnavailable
from app.core.events import MessageChanged
from app.core.ports import Context, Groups, Sending
from app.core.store import conversation as store
from app.core.views import MessageView
from crypto.content import ContentType
from crypto.conversation import (
    MESSAGE_ID_BYTES,
    DeleteBody,
    EditBody,
    ReactionBody,
    ReplyBody,
    check_emoji,
)
from crypto.errors import UsageError

__all__ = ["Conversation", "parse_message_id"]


def parse_message_id(text: str) -> bytes:
    """A message id as the command line and JSON write it: 32 hex digits."""
    cleaned = text.strip().lower()
    try:
        value = bytes.fromhex(cleaned)
    except ValueError:
        value = b""
    if len(value) != MESSAGE_ID_BYTES:
        raise ClientError("a message id is 32 hexadecimal digits (see 'messages --json')")
    return value


class Conversation:
    """The engine part for replies, edits, deletions and reactions."""

    def __init__(self, ctx: Context, groups: Groups, sending: Sending, name: str) -> None:
        self._ctx = ctx
        self._groups = groups
        self._sending = sending
        self._name = name  # ours, as the roster has it (for our own reactions)

    def _target(self, group_id: bytes, message_id: bytes) -> store.Target:
        found = store.target(self._ctx.db, group_id, message_id)
        if found is None:
            raise NotFound("no such message in this group")
        return found

    def _me(self) -> bytes:
        """The member we act for (a linked device acts for its member, protocol 8.2)."""
        return member_of(self._ctx.db, self._ctx.identity)

    def _own(self, group_id: bytes, message_id: bytes, verb: str) -> store.Target:
        found = self._target(group_id, message_id)
        if found.sender_pk != self._me():
            raise NotPermittedHere(f"only its author can {verb} a message")
        if found.deleted:
            raise ClientError("that message was deleted")
        return found

    async def reply(self, group_id: bytes, message_id: bytes, text: str) -> MessageView:
        """Answer a message, in its channel."""
        self._groups.require_active(group_id)
        found = self._target(group_id, message_id)
        channel_id = store.channel_of(self._ctx.db, found.row_id)
        body = self._encode(ReplyBody(channel_id, message_id, text))
        try:
            view = await self._sending.send_content(
                group_id, ContentType.REPLY, body, text, channel_id
            )
        except RelayUnavailable:
            self._link_latest_reply(group_id, message_id)
            raise
        with self._ctx.db.transaction():
            store.set_reply_to(self._ctx.db, view.row_id, message_id)
        return self._sending.message(view.row_id)

    def _link_latest_reply(self, group_id: bytes, message_id: bytes) -> None:
        """The reply was queued but not sent: link our newest reply row to its target."""
        me = self._me()
        with self._ctx.db.transaction():
            store.link_queued_reply(self._ctx.db, group_id, me, message_id)

    async def edit(self, group_id: bytes, message_id: bytes, text: str) -> None:
        self._groups.require_active(group_id)
        found = self._own(group_id, message_id, "edit")
        body = self._encode(EditBody(message_id, text))

        def apply() -> None:
            store.apply_edit(self._ctx.db, found, text, self._ctx.now())

        await self._send(group_id, ContentType.EDIT, body, "", apply, found)

    async def delete(self, group_id: bytes, message_id: bytes) -> None:
        self._groups.require_active(group_id)
        found = self._own(group_id, message_id, "delete")
        body = self._encode(DeleteBody(message_id))

        def apply() -> None:
            store.apply_delete(self._ctx.db, found)

        await self._send(group_id, ContentType.DELETE, body, "deleted a message", apply, found)

    async def react(self, group_id: bytes, message_id: bytes, emoji: str, on: bool = True) -> None:
        self._groups.require_active(group_id)
        found = self._target(group_id, message_id)
        if found.deleted:
            raise ClientError("that message was deleted")
        try:
            check_emoji(emoji)
        except UsageError as exc:
            raise ClientError(str(exc)) from None
        body = self._encode(ReactionBody(message_id, emoji, on))
        me, name = self._me(), self._name

        def apply() -> None:
            store.set_reaction(self._ctx.db, group_id, message_id, me, name, emoji, on, None)

        shown = f"reacted {emoji}" if on else f"took back {emoji}"
        await self._send(group_id, ContentType.REACTION, body, shown, apply, found)

    @staticmethod
    def _encode(content: ReplyBody | EditBody | DeleteBody | ReactionBody) -> bytes:
        try:
            return content.encode()
        except UsageError as exc:
            raise ClientError(str(exc)) from None

    async def _send(
        self,
        group_id: bytes,
        content_type: ContentType,
        body: bytes,
        shown: str,
        apply: Callable[[], None],
        found: store.Target,
    ) -> None:
        """Queue it (through the outbox, in order), then apply it here, whether or not the
        relay answered: it is queued either way and goes out in order."""
        unavailable: RelayUnavailable | None = None
        try:
            await self._sending.send_content(group_id, content_type, body, shown)
        except RelayUnavailable as exc:
            unavailable = exc
        with self._ctx.db.transaction():
            apply()
        self._ctx.events.emit(MessageChanged(group_id, found.row_id))
        if unavailable is not None:
            raise unavailable
