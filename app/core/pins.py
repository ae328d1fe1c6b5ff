"""Pinned messages: what an organizer does, and the list every member reads (the
received side is ``pins_receive.py``; protocol 4.1.3).

Like Element's and Signal's group admins, only organizers pin: the rule is checked here
for a helpful error and, what counts, by every receiver against the roster of the epoch
the pin was sent in. A pin goes out through the one outbox like a reaction and applies
here at once; it applies again, idempotently, when it comes back from the relay.
"""

from __future__ import annotations

import app.core.pins_receive  # noqa: F401  (registers the content handler)
from app.core.errors import ClientError, NotFound, NotPermittedHere, RelayUnavailable
from app.core.events import MessageChanged
from app.core.pin_views import PinView, load_pins
from app.core.pins_receive import shown
from app.core.ports import Context, Groups, Sending
from app.core.store import conversation as conversation_store
from app.core.store import pins as store
from crypto.content import ContentType
from crypto.group_log import Role
from crypto.pins import MAX_PINS, PinBody

__all__ = ["PinView", "Pins"]


class Pins:
    """The engine part for pinning and unpinning messages."""

    def __init__(self, ctx: Context, groups: Groups, sending: Sending, name: str) -> None:
        self._ctx = ctx
        self._groups = groups
        self._sending = sending
        self._name = name

    def pins(self, group_id: bytes) -> list[PinView]:
        self._groups.session(group_id)  # NotFound for a group we do not have
        return load_pins(self._ctx.db, group_id)

    async def pin(self, group_id: bytes, message_id: bytes) -> None:
        await self._set(group_id, message_id, True)

    async def unpin(self, group_id: bytes, message_id: bytes) -> None:
        await self._set(group_id, message_id, False)

    async def _set(self, group_id: bytes, message_id: bytes, on: bool) -> None:
        session = self._groups.require_active(group_id)
        me = self._ctx.identity.public_key
        if session.state.role_of(me) != Role.ORGANIZER:
            raise NotPermittedHere("only organizers can pin or unpin messages")
        db = self._ctx.db
        found = conversation_store.target(db, group_id, message_id)
        if found is None:
            raise NotFound("no such message in this group")
        if found.deleted:
            raise ClientError("that message was deleted")
        pinned = store.is_pinned(db, group_id, message_id)
        if pinned == on:
            raise ClientError(
                "that message is already pinned" if on else "that message is not pinned"
            )
        if on and store.count_pins(db, group_id) >= MAX_PINS:
            raise ClientError(f"a group has at most {MAX_PINS} pinned messages; unpin one first")
        body = PinBody(message_id, on).encode()
        unavailable: RelayUnavailable | None = None
        try:
            await self._sending.send_content(group_id, ContentType.PIN, body, shown(on))
        except RelayUnavailable as exc:
            unavailable = exc  # queued: it goes out in order when the relay is back
        with db.transaction():
            store.set_pin(db, group_id, message_id, me, self._name, self._ctx.now(), on)
        self._ctx.events.emit(MessageChanged(group_id, found.row_id))
        if unavailable is not None:
            raise unavailable
