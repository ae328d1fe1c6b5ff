"""Received attachment messages (content type 6, protocol 4.1.2): what the message list
shows and the files recorded for the message row. Nothing is downloaded here; a member
fetches a file on request (``app/core/attachments.py``)."""

from __future__ import annotations

from app.core.database import Database
from app.core.store import attachments as store
from app.core.views import AttachmentView
from crypto.attachment import AttachmentBody

__all__ = ["record", "shown_text"]


def shown_text(files: AttachmentBody) -> str:
    """The message's text, or the files' names when it has none."""
    if files.text:
        return files.text
    return "sent " + ", ".join(attachment.name for attachment in files.attachments)


def record(db: Database, row_id: int, files: AttachmentBody) -> tuple[AttachmentView, ...]:
    """Record the files of message row ``row_id``; returns them as the view shows them."""
    store.index_message(db, row_id, files.attachments)
    return tuple(AttachmentView(a.name, a.size, a.media_type) for a in files.attachments)
