"""Files attached to messages, for every member: send and get (protocol 4.1.2).

``send`` encrypts each file with the document stream under a fresh content key and
uploads it as a relay blob (protocol 6.1) before the message that carries the keys goes
out through the one outbox, so a member never sees a message whose files are not there
yet. Files over ``MAX_ATTACHMENT_SIZE`` are refused before anything is uploaded.
``get`` fetches one file on request, decrypts it chunk by chunk into a temporary file
beside the destination and renames it only once the size and SHA-256 the sender signed
match; nothing is kept in the profile (the relay's blob is the only copy).
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from app.core.document_blobs import BlobClient, DocumentUnavailable
from app.core.errors import (
    AlreadyExists,
    ClientError,
    NotFound,
    NotPermittedHere,
    RelayError,
    RelayUnavailable,
)
from app.core.ports import Context, Groups, Sending
from app.core.store import attachments as store
from app.core.store import conversation as conversation_store
from app.core.transfer import Transfer
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.attachment import (
    MAX_ATTACHMENT_SIZE,
    MAX_ATTACHMENTS,
    Attachment,
    AttachmentBody,
    AttachmentOpener,
    encrypt_attachment,
)
from crypto.content import ContentType
from crypto.document.hashing import read_pieces
from crypto.document.stream import chunk_count, ciphertext_size, new_content_key
from crypto.errors import RemoteError, UsageError
from crypto.group_log import Role
from crypto.key_schedule import cap_hash

__all__ = ["AttachmentUnavailable", "Attachments"]

_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}"
)
_MIB = 1 << 20


class AttachmentUnavailable(ClientError):
    """An attached file is missing on the relay, or what the relay gave is not that file."""


def _media_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0]
    return guessed if guessed and _MEDIA_TYPE.fullmatch(guessed) else "application/octet-stream"


def _check_sources(paths: list[Path]) -> None:
    """Every problem a member can fix, found before anything is uploaded."""
    if not 1 <= len(paths) <= MAX_ATTACHMENTS:
        raise ClientError(f"a message carries 1 to {MAX_ATTACHMENTS} files")
    for path in paths:
        if not path.is_file():
            raise NotFound(f"no file {str(path)!r}")
        if path.stat().st_size > MAX_ATTACHMENT_SIZE:
            raise ClientError(
                f"{path.name} is larger than {MAX_ATTACHMENT_SIZE // _MIB} MiB, "
                "the limit for an attached file"
            )


class _Hasher:
    """SHA-256 and size of the pieces passing through ``tee``."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def tee(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            self.size += len(piece)
            self.digest.update(piece)
            yield piece


class Attachments:
    """The engine part for files attached to messages."""

    def __init__(self, ctx: Context, groups: Groups, sending: Sending) -> None:
        self._ctx = ctx
        self._groups = groups
        self._sending = sending

    async def send(
        self,
        group_id: bytes,
        paths: list[Path | str],
        text: str = "",
        channel_id: bytes = DEFAULT_CHANNEL,
        transfer: Transfer | None = None,
    ) -> MessageView:
        """Upload the files, then send the message naming them (``RelayUnavailable`` from
        the send: the files are uploaded and the message stays queued). ``transfer``
        reports progress and may cancel while files upload (``TransferCancelled``: every
        file uploaded so far is deleted again and no message is sent)."""
        session = self._groups.require_active(group_id)
        if channel_id != DEFAULT_CHANNEL:
            channel = session.state.channels.get(channel_id)
            if channel is None:
                raise NotFound("no such channel")
            me = self._ctx.identity.public_key
            if channel.announce_only and session.state.role_of(me) != Role.ORGANIZER:
                raise NotPermittedHere("only organizers can post in this channel")
        sources = [Path(path) for path in paths]
        _check_sources(sources)
        blobs = BlobClient(self._ctx.relays.get(session.relay_url))
        transfer = transfer or Transfer()
        transfer.start(sum(source.stat().st_size for source in sources))
        done: list[Attachment] = []
        try:
            for source in sources:
                done.append(await self._upload(blobs, source, transfer))
            transfer.check()  # the last moment to cancel: after this the message goes out
        except BaseException:
            for attachment in done:
                await _discard(blobs, attachment)
            raise
        uploaded = tuple(done)
        try:
            files = AttachmentBody(channel_id, text, uploaded)
            body = files.encode()
        except UsageError as exc:
            raise ClientError(str(exc)) from None
        shown = text or "sent " + ", ".join(a.name for a in uploaded)
        try:
            view = await self._sending.send_content(
                group_id, ContentType.ATTACHMENT, body, shown, channel_id
            )
        except RelayUnavailable:
            with self._ctx.db.transaction():
                store.index_unindexed(self._ctx.db, group_id, self._ctx.identity.public_key)
            raise
        with self._ctx.db.transaction():
            store.index_message(self._ctx.db, view.row_id, uploaded)
        return self._sending.message(view.row_id)

    async def _upload(self, blobs: BlobClient, source: Path, transfer: Transfer) -> Attachment:
        """Encrypt and upload one file in one pass, hashing it on the way."""
        size = source.stat().st_size
        content_key = new_content_key(self._ctx.rng)
        probe = Attachment(source.name, _media_type(source), size, content_key, bytes(32))
        keys = probe.keys
        try:
            await blobs.create(
                keys.blob_id,
                cap_hash(keys.blob_capability),
                ciphertext_size(size),
                chunk_count(size),
            )
        except RelayUnavailable as exc:
            raise ClientError(f"could not upload {source.name}: {exc}; nothing was sent") from None
        hasher = _Hasher()
        try:
            with source.open("rb") as handle:
                chunks = encrypt_attachment(content_key, hasher.tee(read_pieces(handle)))
                sent = 0
                for index, chunk in enumerate(chunks):
                    transfer.check()
                    await blobs.put_chunk(keys.blob_id, keys.blob_capability, index, chunk)
                    transfer.advance(source.name, hasher.size - sent)
                    sent = hasher.size
            if hasher.size != size:
                raise ClientError(f"{source.name} changed while it was being sent; try again")
        except RelayUnavailable as exc:
            await _discard(blobs, probe)
            raise ClientError(f"could not upload {source.name}: {exc}; nothing was sent") from None
        except BaseException:
            await _discard(blobs, probe)
            raise
        return Attachment(probe.name, probe.media_type, size, content_key, hasher.digest.digest())

    async def get(
        self,
        group_id: bytes,
        message_id: bytes,
        out_path: Path | str,
        *,
        index: int = 0,
        force: bool = False,
        transfer: Transfer | None = None,
    ) -> Path:
        """Write attached file ``index`` of a message to ``out_path`` (a file, or a folder
        to use the file's own name); refuses to replace a file unless ``force``.
        ``transfer`` reports progress and may cancel (``TransferCancelled``: the
        temporary file is removed, ``out_path`` is left as it was)."""
        found = conversation_store.target(self._ctx.db, group_id, message_id)
        if found is None:
            raise NotFound("no such message in this group")
        if found.deleted:
            raise ClientError("that message was deleted")
        files = store.load(self._ctx.db, found.row_id)
        if not files:
            raise NotFound("that message has no attached files")
        if not 0 <= index < len(files):
            raise NotFound(f"that message has {len(files)} attached file(s)")
        attachment = files[index]
        out = Path(out_path)
        if out.is_dir():
            out = out / attachment.name
        if not out.parent.is_dir():
            raise NotFound(f"no folder {str(out.parent)!r}")
        if out.exists() and not force:
            raise AlreadyExists(f"{str(out)!r} exists; use --force to replace it")
        session = self._groups.session(group_id)
        transfer = transfer or Transfer()
        transfer.start(attachment.size)
        blobs = BlobClient(self._ctx.relays.get(session.relay_url))
        await _download(blobs, attachment, out, transfer)
        return out


async def _download(
    blobs: BlobClient, attachment: Attachment, out: Path, transfer: Transfer
) -> None:
    keys = attachment.keys
    opener = AttachmentOpener(attachment)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as target:
            for index in range(attachment.chunk_count):
                transfer.check()
                try:
                    chunk = await blobs.get_chunk(keys.blob_id, keys.blob_capability, index)
                except DocumentUnavailable:
                    raise AttachmentUnavailable(
                        f"the relay no longer holds all of {attachment.name} "
                        "(deleted, expired or never fully uploaded)"
                    ) from None
                plain = opener.feed(chunk)
                target.write(plain)
                transfer.advance(attachment.name, len(plain))
            opener.finish()
            target.flush()
            os.fsync(target.fileno())
        os.replace(temporary, out)
    except RelayError:
        Path(temporary).unlink(missing_ok=True)
        raise
    except RemoteError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise AttachmentUnavailable(
            f"the copy of {attachment.name} on the relay is damaged or is not the file its "
            f"sender attached; nothing was written ({exc})"
        ) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def _discard(blobs: BlobClient, attachment: Attachment) -> None:
    """Best effort: if it fails, the relay's retention removes the blob."""
    keys = attachment.keys
    with contextlib.suppress(RelayError, ClientError):
        await blobs.delete(keys.blob_id, keys.blob_capability)
