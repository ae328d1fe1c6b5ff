"""Image previews of attached files (issue #12): which files get one, and fetching one
into memory, verified, for the desktop app to decode and show in the bubble.

A preview is fetched automatically (like Signal does) only for a file whose signed media
type is PNG, JPEG, GIF or WebP and whose signed size is at most ``PREVIEW_MAX`` (4 MiB);
anything larger waits until the member saves it. The bytes are checked like a saved
file (every chunk authenticated, size and SHA-256 the signed ones) and must start with
the magic bytes of one of those formats, whatever the media type said; they are kept in
memory only, never written to disk (docs/threat-model.md: what the relay learns).
Decoding is the viewer's job and must treat the bytes as hostile (``app/qt/image_preview``).
"""

from __future__ import annotations

from app.core.attachments import AttachmentUnavailable
from app.core.document_blobs import BlobClient, DocumentUnavailable
from app.core.errors import ClientError, NotFound
from app.core.ports import Context, Groups
from app.core.store import attachments as store
from app.core.store import conversation as conversation_store
from crypto.attachment import Attachment, AttachmentOpener
from crypto.errors import RemoteError

__all__ = ["PREVIEW_MAX", "PREVIEW_TYPES", "Previews", "image_kind", "previewable"]

PREVIEW_MAX = 4 << 20
"""Largest file (signed size, bytes) whose preview is fetched without asking."""

PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def image_kind(data: bytes) -> str | None:
    """The image format the magic bytes say ("png", "jpeg", "gif", "webp"), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    return None


def previewable(media_type: str, size: int) -> bool:
    """Whether a file gets an automatic preview (by its signed type and size)."""
    return media_type.lower() in PREVIEW_TYPES and 0 < size <= PREVIEW_MAX


class Previews:
    """The engine part that fetches image previews into memory."""

    def __init__(self, ctx: Context, groups: Groups) -> None:
        self._ctx = ctx
        self._groups = groups

    async def fetch(self, group_id: bytes, message_id: bytes, index: int = 0) -> bytes:
        """The verified bytes of image file ``index`` of a message; ``ClientError`` for a
        file that gets no preview or is not an image after all."""
        found = conversation_store.target(self._ctx.db, group_id, message_id)
        if found is None or found.deleted:
            raise NotFound("no such message in this group")
        files = store.load(self._ctx.db, found.row_id)
        if not 0 <= index < len(files):
            raise NotFound("that message has no such attached file")
        attachment = files[index]
        if not previewable(attachment.media_type, attachment.size):
            raise ClientError(f"{attachment.name} gets no preview (not a small image)")
        session = self._groups.session(group_id)
        data = await _fetch(BlobClient(self._ctx.relays.get(session.relay_url)), attachment)
        if image_kind(data) is None:
            raise ClientError(f"{attachment.name} is not a PNG, JPEG, GIF or WebP image")
        return data


async def _fetch(blobs: BlobClient, attachment: Attachment) -> bytes:
    keys = attachment.keys
    opener = AttachmentOpener(attachment)
    parts: list[bytes] = []
    try:
        for index in range(attachment.chunk_count):
            chunk = await blobs.get_chunk(keys.blob_id, keys.blob_capability, index)
            parts.append(opener.feed(chunk))
        opener.finish()
    except DocumentUnavailable:
        raise AttachmentUnavailable(f"the relay no longer holds {attachment.name}") from None
    except RemoteError as exc:
        raise AttachmentUnavailable(
            f"the copy of {attachment.name} on the relay is damaged or is not the file its "
            f"sender attached ({exc})"
        ) from None
    return b"".join(parts)
