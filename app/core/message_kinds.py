"""What the message list makes of a stored message's content type: a message someone
wrote, or an event line (a ballot or a document) that opens its panel when clicked.

Acknowledgements of documents are not listed at all (``store/messages.py``): the
documents panel counts them ("read by 5 of 12").
"""

from __future__ import annotations

from enum import Enum

from crypto.content import ContentType

__all__ = ["MessageKind", "Opens", "classify"]

_BALLOT_TYPES = range(16, 32)  # docs/ballots.md section 10
_DOCUMENT_TYPES = range(32, 48)  # docs/documents.md


class MessageKind(Enum):
    TEXT = "text"
    EVENT = "event"


class Opens(Enum):
    """The panel an event line leads to."""

    BALLOTS = "ballots"
    DOCUMENTS = "documents"


def classify(content_type: int) -> tuple[MessageKind, Opens | None]:
    if content_type == ContentType.TEXT:
        return MessageKind.TEXT, None
    if content_type in _BALLOT_TYPES:
        return MessageKind.EVENT, Opens.BALLOTS
    if content_type in _DOCUMENT_TYPES:
        return MessageKind.EVENT, Opens.DOCUMENTS
    return MessageKind.EVENT, None
