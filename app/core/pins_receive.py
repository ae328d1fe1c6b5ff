"""Received pins (content type 7, protocol 4.1.3): the rules every member applies the
same way, so every member shows the same pinned messages.

- Only a member who is an organizer in the epoch the pin was sent in may pin or unpin;
  a pin from anyone else (a modified client) is rejected with a warning by everyone.
- The message must be one this member has, not deleted; at most ``MAX_PINS`` are
  pinned at once. Pins and unpins apply in relay order, the same at every member.
"""

from __future__ import annotations

from app.core.content_handlers import Received, register
from app.core.events import MessageChanged
from app.core.store import conversation as conversation_store
from app.core.store import pins as store
from crypto.content import ContentType
from crypto.errors import MalformedData, NotPermitted
from crypto.group_log import Role
from crypto.pins import MAX_PINS, PinBody

__all__ = ["apply_pin", "shown"]


def shown(on: bool) -> str:
    return "pinned a message" if on else "unpinned a message"


def apply_pin(received: Received) -> str:
    pin = PinBody.decode(received.message.body)
    if received.sender.role != Role.ORGANIZER:
        raise NotPermitted("only organizers can pin or unpin messages")
    found = conversation_store.target(received.db, received.group_id, pin.target)
    if found is None:
        raise MalformedData("a pin of a message this member does not have")
    if found.deleted:
        raise NotPermitted("a pin of a deleted message")
    db, group_id = received.db, received.group_id
    pinned = store.is_pinned(db, group_id, pin.target)
    if pin.on and not pinned and store.count_pins(db, group_id) >= MAX_PINS:
        raise NotPermitted(f"more than {MAX_PINS} pinned messages")
    store.set_pin(
        db,
        group_id,
        pin.target,
        received.message.sender_pk,
        received.sender.name,
        received.message.sent_at,
        pin.on,
    )
    received.changed.append(MessageChanged(group_id, found.row_id))
    return shown(pin.on)


register(ContentType.PIN, apply_pin)
