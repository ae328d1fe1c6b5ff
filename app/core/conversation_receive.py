"""Received edits, deletions and reactions (content types 3 to 5, protocol 4.1.1): the
rules every member applies the same way, so every member converges on one view.

- An edit or a deletion counts only from the author of the message it names (the signed
  sender of both); anything else is rejected with a warning, and so is an edit of a
  deleted message. Later edits replace earlier ones in relay order, which is the same
  at every member (and the author's own order: a sender's messages are chained).
- A reaction is one per member, message and emoji: ``on`` adds it, ``off`` takes it
  back. Reacting to a deleted message is refused.
- One naming a message this member does not have (yet, or ever) is rejected with a
  warning; nothing is kept for later.

Each is stored as a message row of its own type that the message list does not show
(``store/messages.py``); its effect is on the named message, told to listeners as
``MessageChanged`` once the batch commits. Replies (type 2) are messages and are stored
by the group session like text.
"""

from __future__ import annotations

from app.core.content_handlers import Received, register
from app.core.events import MessageChanged
from app.core.store import conversation as store
from crypto.content import ContentType
from crypto.conversation import DeleteBody, EditBody, ReactionBody
from crypto.errors import MalformedData, NotPermitted

__all__ = ["apply_delete", "apply_edit", "apply_reaction"]


def _target(received: Received, message_id: bytes, what: str) -> store.Target:
    found = store.target(received.db, received.group_id, message_id)
    if found is None:
        raise MalformedData(f"{what} of a message this member does not have")
    return found


def _author(received: Received) -> bytes:
    """The member who sent the message: a linked device's messages are its member's
    (docs/protocol.md 8.2), so any of a member's devices edits what another sent."""
    return received.state.owner_of(received.message.sender_pk)


def apply_edit(received: Received) -> str:
    edit = EditBody.decode(received.message.body)
    found = _target(received, edit.target, "an edit")
    if found.sender_pk != _author(received):
        raise NotPermitted("only the author of a message can edit it")
    if found.deleted:
        raise NotPermitted("an edit of a deleted message")
    store.apply_edit(received.db, found, edit.text, received.message.sent_at)
    received.changed.append(MessageChanged(received.group_id, found.row_id))
    return ""  # the new text lives on the message it edits, not twice


def apply_delete(received: Received) -> str:
    delete = DeleteBody.decode(received.message.body)
    found = _target(received, delete.target, "a deletion")
    if found.sender_pk != _author(received):
        raise NotPermitted("only the author of a message can delete it")
    if not found.deleted:
        store.apply_delete(received.db, found)
        received.changed.append(MessageChanged(received.group_id, found.row_id))
    return "deleted a message"


def apply_reaction(received: Received) -> str:
    reaction = ReactionBody.decode(received.message.body)
    found = _target(received, reaction.target, "a reaction")
    if found.deleted:
        raise NotPermitted("a reaction to a deleted message")
    store.set_reaction(
        received.db,
        received.group_id,
        reaction.target,
        _author(received),
        received.sender.name,
        reaction.emoji,
        reaction.on,
        received.relay_seq,
    )
    received.changed.append(MessageChanged(received.group_id, found.row_id))
    return f"reacted {reaction.emoji}" if reaction.on else f"took back {reaction.emoji}"


register(ContentType.EDIT, apply_edit)
register(ContentType.DELETE, apply_delete)
register(ContentType.REACTION, apply_reaction)
