"""What the message list makes of a stored message's content type: a message someone
wrote, an event line (a ballot or a document) that opens its panel when clicked, or a
row that is not listed at all (``store/messages.py`` leaves it out): acknowledgements of
documents, which the documents panel counts ("read by 5 of 12"), and edits, deletions
and reactions, which change the message they name.
"""

from __future__ import annotations

from enum import Enum

from crypto.case import CONTENT_TYPE_CASE_INBOX, CONTENT_TYPE_CASE_RECORD
from crypto.content import ContentType
from crypto.document.announce import CONTENT_TYPE_ACKNOWLEDGEMENT

__all__ = ["MessageKind", "Opens", "classify"]

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


def classify(content_type: int) -> tuple[MessageKind, Opens | None]:
    if content_type in (ContentType.TEXT, ContentType.REPLY, ContentType.ATTACHMENT):
        return MessageKind.TEXT, None
    if content_type in _HIDDEN:
        return MessageKind.HIDDEN, None
    if content_type in _BALLOT_TYPES:
        return MessageKind.EVENT, Opens.BALLOTS
    if content_type in _DOCUMENT_TYPES:
        return MessageKind.EVENT, Opens.DOCUMENTS
    return MessageKind.EVENT, None
