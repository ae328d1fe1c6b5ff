"""What the message list makes of a stored message's content type: a message someone
wrote, an event line (a ballot or a document) that opens its panel when clicked, a line
about a change to the group (who joined, left, was removed or promoted: opens the
members panel) or a pin, or a row that is not listed at all (``store/messages.py`` leaves
it out): acknowledgements of documents, which the documents panel counts ("read by 5
of 12"), and edits, deletions and reactions, which change the message they name.
"""

from __future__ import annotations

from enum import Enum

from crypto.case import CONTENT_TYPE_CASE_INBOX, CONTENT_TYPE_CASE_RECORD
from crypto.content import ContentType
from crypto.document.announce import CONTENT_TYPE_ACKNOWLEDGEMENT

__all__ = ["LOG_LINE", "MessageKind", "Opens", "classify"]

LOG_LINE = 0
"""Content type of a line a member writes itself for a change to the group log (a join,
a removal, a rename: ``app/core/log_lines.py``). Never on the wire: a received message
of type 0 has no handler and is rejected."""

_BALLOT_TYPES = range(16, 32)  # docs/ballots.md section 10
_DOCUMENT_TYPES = range(32, 48)  # docs/documents.md


class MessageKind(Enum):
    TEXT = "text"
    EVENT = "event"
    HIDDEN = "hidden"


_HIDDEN = frozenset(
    (
        CONTENT_TYPE_ACKNOWLEDGEMENT,
        ContentType.EDIT,
        ContentType.DELETE,
        ContentType.REACTION,
        CONTENT_TYPE_CASE_INBOX,  # dispute cases' upkeep (docs/union-tools.md), not
        CONTENT_TYPE_CASE_RECORD,  # conversation: case inboxes and (re-sent) case records
    )
)


class Opens(Enum):
    """The panel an event line leads to."""

    BALLOTS = "ballots"
    DOCUMENTS = "documents"
    MEMBERS = "members"  # a line about the group itself (log_lines.py)
    PINS = "pins"  # an organizer pinned or unpinned a message (the pins bar shows it)


def classify(content_type: int) -> tuple[MessageKind, Opens | None]:
    if content_type in (ContentType.TEXT, ContentType.REPLY, ContentType.ATTACHMENT):
        return MessageKind.TEXT, None
    if content_type == ContentType.PIN:
        return MessageKind.EVENT, Opens.PINS
    if content_type in _HIDDEN:
        return MessageKind.HIDDEN, None
    if content_type == LOG_LINE:
        return MessageKind.EVENT, Opens.MEMBERS
    if content_type in _BALLOT_TYPES:
        return MessageKind.EVENT, Opens.BALLOTS
    if content_type in _DOCUMENT_TYPES:
        return MessageKind.EVENT, Opens.DOCUMENTS
    return MessageKind.EVENT, None
