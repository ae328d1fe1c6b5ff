"""Signed documents in the headless client: publish, list, fetch, export, acknowledge.

``DocumentService`` is a part of the engine (``app.core.ports``): it uploads a document's
encrypted chunks as a relay blob and announces it with ``Sending.send_content``; incoming
announcements and acknowledgements are handled in ``app.core.document_receive``. Files are
never held whole in memory: every pass streams one 1 MiB chunk at a time. Downloaded
blobs stay encrypted in ``<profile>/documents``; ``get`` decrypts to the chosen path only.
``verify_file`` needs no profile, like ``minisign -V``. See docs/documents.md section 10.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import mimetypes
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import app.core.document_receive  # noqa: F401  (registers the content handlers)
from app.core.document_blobs import BlobClient, BlobStore, DocumentUnavailable
from app.core.document_receive import trust_text
from app.core.document_restore import put_back
from app.core.document_views import (
    AcknowledgementView,
    DocumentVersionView,
    DocumentView,
    ExportedDocument,
    VerifiedFile,
)
from app.core.errors import AlreadyExists, ClientError, NotFound, NotPermittedHere, RelayError
from app.core.ports import Context, Groups, Sending
from app.core.store import documents as store
from app.core.transfer import Transfer
from crypto.document import minisign
from crypto.document.announce import (
    CONTENT_TYPE_ACKNOWLEDGEMENT,
    CONTENT_TYPE_ANNOUNCEMENT,
    TRUSTED_COMMENT_TAG,
    Announcement,
    acknowledge,
    check_content,
    export,
    open_document,
    publish,
)
from crypto.document.hashing import ContentDigest, ContentHasher, hash_file, read_pieces
from crypto.document.stream import (
    MAX_DOCUMENT_SIZE,
    StreamDecryptor,
    chunk_count,
    ciphertext_size,
    encrypt_stream,
    new_content_key,
    new_document_id,
)
from crypto.errors import RemoteError, UsageError
from crypto.group_log import EntryKind, LogEntry, Role
from crypto.identity import fingerprint
from crypto.key_schedule import cap_hash

__all__ = [
    "AcknowledgementView",
    "DocumentService",
    "DocumentUnavailable",
    "DocumentVersionView",
    "DocumentView",
    "ExportedDocument",
    "VerificationFailed",
    "VerifiedFile",
    "verify_file",
]

MIN_ID_PREFIX = 8
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}"
)


class VerificationFailed(ClientError):
    """A file, its minisign signature and a public key do not belong together."""


@dataclass(frozen=True)
class _Stored:
    """One ``doc_announcements`` row, as the service reads it."""

    group_id: bytes
    document_id: bytes
    version: int
    trusted: bool
    reason: str
    signer_name: str
    announcement: Announcement


class DocumentService:
    """Documents of one unlocked profile; use it from the engine's asyncio loop.

    ``store_dir`` defaults to ``documents`` beside the profile database.
    """

    def __init__(
        self, ctx: Context, groups: Groups, sending: Sending, store_dir: Path | None = None
    ) -> None:
        self._ctx = ctx
        self._groups = groups
        self._sending = sending
        if store_dir is None:
            folder = store.database_folder(ctx.db)
            if folder is None:
                raise ClientError("the profile database has no folder for documents")
            store_dir = folder / "documents"
        self.store = BlobStore(store_dir)

    # -- publishing -------------------------------------------------------------------

    async def publish(
        self,
        group_id: bytes,
        path: Path | str,
        title: str,
        *,
        version: int | None = None,
        note: str = "",
        document_id: bytes | None = None,
        media_type: str | None = None,
        transfer: Transfer | None = None,
    ) -> bytes:
        """Encrypt, upload and announce a file; returns the document id (organizers only).

        ``transfer`` reports the upload's progress and may cancel it before the last
        chunk (``TransferCancelled``): the blob is deleted and nothing is announced.

        ``document_id`` names an existing document to publish its next version (or
        ``version``); without it a new document starts at version 1 (or ``version``).
        The file is read twice, a chunk at a time: once to hash and sign it before any
        upload, once to encrypt and upload; a file that changed in between is refused.
        """
        await self._groups.sync_group(group_id)
        session = self._groups.session(group_id)
        if not session.active:
            raise NotPermittedHere(f"you are no longer a member of {session.state.name!r}")
        me = self._ctx.identity.public_key
        if session.state.role_of(me) != Role.ORGANIZER:
            raise NotPermittedHere("only organizers can publish documents")
        source = Path(path)
        if not source.is_file():
            raise NotFound(f"no file {str(source)!r}")
        if document_id is None:
            document_id = new_document_id(self._ctx.rng)
            known: set[int] = set()
        else:
            known = set(store.versions(self._ctx.db, group_id, document_id))
            if not known:
                raise NotFound("no such document in this group")
        if version is None:
            version = max(known, default=0) + 1
        elif version in known:
            raise AlreadyExists(f"version {version} of this document was already published")
        if media_type is None:
            guessed = mimetypes.guess_type(source.name)[0]
            media_type = (
                guessed
                if guessed and _MEDIA_TYPE.fullmatch(guessed)
                else ("application/octet-stream")
            )
        digest = await asyncio.to_thread(_hash_path, source)
        if digest.size > MAX_DOCUMENT_SIZE:
            raise ClientError(f"the file is larger than {MAX_DOCUMENT_SIZE} bytes")
        try:
            ann = publish(
                self._ctx.identity.signing_key,
                group_id=group_id,
                document_id=document_id,
                version=version,
                published_at=self._ctx.now(),
                title=title,
                filename=source.name,
                media_type=media_type,
                note=note,
                digest=digest,
                content_key=new_content_key(self._ctx.rng),
            )
        except UsageError as exc:
            raise ClientError(str(exc)) from None
        await self._upload(session.relay_url, source, ann, transfer or Transfer())
        self._mark_downloaded(ann.keys.blob_id)
        shown = f"published “{ann.title}” version {ann.version} ({ann.filename})"
        await self._sending.send_content(group_id, CONTENT_TYPE_ANNOUNCEMENT, ann.encode(), shown)
        await self._settle(group_id)
        return document_id

    async def _upload(
        self, relay_url: str, source: Path, ann: Announcement, transfer: Transfer
    ) -> None:
        """Create the blob and upload its chunks, keeping the same ciphertext locally."""
        keys = ann.keys
        transfer.start(ciphertext_size(ann.size))
        blobs = BlobClient(self._ctx.relays.get(relay_url))
        await blobs.create(
            keys.blob_id,
            cap_hash(keys.blob_capability),
            ciphertext_size(ann.size),
            chunk_count(ann.size),
        )
        try:
            hasher = ContentHasher()
            with source.open("rb") as handle, self.store.writer(keys.blob_id) as local:
                chunks = encrypt_stream(
                    ann.content_key, ann.document_id, ann.version, hasher.tee(read_pieces(handle))
                )
                for index, chunk in enumerate(chunks):
                    transfer.check()
                    await blobs.put_chunk(keys.blob_id, keys.blob_capability, index, chunk)
                    local.write(chunk)
                    transfer.advance(source.name, len(chunk))
                if hasher.result() != ann.digest:
                    raise ClientError("the file changed while it was being published; try again")
        except BaseException:
            # Best effort: if it fails, the relay's retention removes the blob.
            with contextlib.suppress(RelayError, ClientError):
                await blobs.delete(keys.blob_id, keys.blob_capability)
            raise

    async def share_current(self, group_id: bytes | None = None, *, catch_up: bool = True) -> int:
        """Send the current version of every document this profile signed again, where
        members joined after it was last sent (they cannot read older epochs).

        The engine calls it after every sync of a group (with ``catch_up=False``: the group
        was just synced, so it only reads the database unless something must be sent); the
        CLI's ``doc share`` calls it directly. Returns how many announcements were sent.
        """
        me = self._ctx.identity.public_key
        sent = 0
        for gid in [group_id] if group_id is not None else self._groups.active_group_ids():
            if catch_up:
                await self._groups.sync_group(gid)
            sent_before = sent
            session = self._groups.session(gid)
            if not session.active or session.state.role_of(me) != Role.ORGANIZER:
                continue
            last_add = self._last_add(gid)
            for document in self._documents(gid):
                stored = document[0]
                if not stored.trusted or stored.announcement.signer != me:
                    continue
                row = store.announcement(self._ctx.db, gid, stored.document_id, stored.version)
                if row is None or row.epoch >= last_add:
                    continue
                ann = stored.announcement
                shown = f"shared “{ann.title}” version {ann.version} with new members"
                await self._sending.send_content(
                    gid, CONTENT_TYPE_ANNOUNCEMENT, ann.encode(), shown
                )
                with self._ctx.db.transaction():
                    store.raise_epoch(
                        self._ctx.db, gid, ann.document_id, ann.version, session.state.seq
                    )
                sent += 1
            if sent > sent_before:
                await self._settle(gid)
        return sent

    async def put_back(self, group_ids: builtins.list[bytes], warnings: builtins.list[str]) -> int:
        """Before a device is linked: upload again every kept blob the relay lost
        (``document_restore.py``); how many."""
        return await put_back(
            self._ctx.db, self.store, self._ctx.relays, self._groups, group_ids, warnings
        )

    def _last_add(self, group_id: bytes) -> int:
        """The log position of the latest ADD (newcomers read from there on), or -1."""
        for raw in store.log_entries_newest_first(self._ctx.db, group_id):
            entry = LogEntry.decode(raw)
            if entry.kind == EntryKind.ADD:
                return entry.seq
        return -1

    async def _settle(self, group_id: bytes) -> None:
        """Process our own message as it comes back, so lists show it at once."""
        # On a relay error it is queued or sent already; the next sync processes it.
        with contextlib.suppress(RelayError):
            await self._groups.sync_group(group_id)

    # -- reading ----------------------------------------------------------------------

    def list(self, group_id: bytes) -> builtins.list[DocumentView]:
        """Documents of a group, most recently published first."""
        self._groups.session(group_id)  # NotFound for an unknown group
        views = [self._view(group_id, versions) for versions in self._documents(group_id)]
        views.sort(key=lambda v: (-v.current.published_at, v.document_id))
        return views

    def document(self, doc: str | bytes, group_id: bytes | None = None) -> DocumentView:
        gid, document_id = self.resolve(doc, group_id)
        for versions in self._documents(gid):
            if versions[0].document_id == document_id:
                return self._view(gid, versions)
        raise NotFound("no such document")

    def resolve(self, doc: str | bytes, group_id: bytes | None = None) -> tuple[bytes, bytes]:
        """(group id, document id) from a document id or a unique hex prefix of >= 8 digits."""
        db = self._ctx.db
        if isinstance(doc, bytes):
            keys = store.documents_with_id(db, doc)
        else:
            text = doc.strip().lower()
            if not MIN_ID_PREFIX <= len(text) <= 32 or not re.fullmatch(r"[0-9a-f]+", text):
                raise ClientError(
                    f"give the document id, or at least {MIN_ID_PREFIX} of its hex digits"
                )
            keys = store.documents_with_id_prefix(db, text)
        found = {
            (key.group_id, key.document_id)
            for key in keys
            if group_id is None or key.group_id == group_id
        }
        if not found:
            raise NotFound("no document with that id")
        if len(found) > 1:
            raise ClientError("several documents match that id; give more of its digits")
        return found.pop()

    def _documents(self, group_id: bytes) -> builtins.list[builtins.list[_Stored]]:
        """Versions per document, newest first; the current version is moved to the front."""
        grouped: dict[bytes, builtins.list[_Stored]] = {}
        for row in store.announcements(self._ctx.db, group_id):
            # Stored only after verification; decoding checks the signatures once more.
            stored = _Stored(
                group_id,
                row.document_id,
                row.version,
                row.trusted,
                row.reason,
                row.signer_name,
                Announcement.decode(row.announcement),
            )
            grouped.setdefault(stored.document_id, []).append(stored)
        result = []
        for versions in grouped.values():
            current = next((v for v in versions if v.trusted), versions[0])
            result.append([current, *(v for v in versions if v is not current)])
        return result

    def _view(self, group_id: bytes, versions: builtins.list[_Stored]) -> DocumentView:
        me = self._ctx.identity.public_key
        state = self._groups.session(group_id).state
        organizer = state.is_member(me) and state.role_of(me) == Role.ORGANIZER
        acks: dict[int, builtins.list[store.AcknowledgementRow]] = {}
        for ack in store.acknowledgements(self._ctx.db, group_id, versions[0].document_id):
            acks.setdefault(ack.version, []).append(ack)
        complete = store.complete_downloads(self._ctx.db)

        def version_view(stored: _Stored) -> DocumentVersionView:
            ann = stored.announcement
            matching = [
                ack for ack in acks.get(stored.version, []) if ack.blake2b512 == ann.blake2b512
            ]
            return DocumentVersionView(
                version=ann.version,
                title=ann.title,
                filename=ann.filename,
                media_type=ann.media_type,
                note=ann.note,
                size=ann.size,
                published_at=ann.published_at,
                sha256=ann.sha256.hex(),
                signer_name=stored.signer_name,
                signer_fingerprint=fingerprint(ann.signer).hex(),
                trusted=stored.trusted,
                trust=trust_text(stored.trusted, stored.signer_name, stored.reason),
                downloaded=ann.keys.blob_id in complete and self.store.has(ann.keys.blob_id),
                acknowledged_by=tuple(
                    AcknowledgementView(
                        ack.member_name, fingerprint(ack.member_pk).hex(), ack.acked_at
                    )
                    for ack in matching
                )
                if organizer
                else (),
                acknowledged_by_me=any(ack.member_pk == me for ack in matching),
            )

        current = version_view(versions[0])
        history = sorted(
            [current, *(version_view(v) for v in versions[1:])],
            key=lambda v: -v.version,
        )
        return DocumentView(group_id, versions[0].document_id, current, tuple(history))

    def _stored(self, doc: str | bytes, version: int | None, group_id: bytes | None) -> _Stored:
        gid, document_id = self.resolve(doc, group_id)
        for versions in self._documents(gid):
            if versions[0].document_id != document_id:
                continue
            if version is None:
                return versions[0]
            for stored in versions:
                if stored.version == version:
                    return stored
            raise NotFound(f"this document has no version {version}")
        raise NotFound("no such document")

    # -- fetching and exporting -------------------------------------------------------

    async def fetch(
        self,
        doc: str | bytes,
        *,
        version: int | None = None,
        group_id: bytes | None = None,
        transfer: Transfer | None = None,
    ) -> None:
        """Download a version's blob into the encrypted local store, verifying as it goes.

        Every chunk must authenticate and the plaintext must hash to the signed values;
        otherwise ``DocumentUnavailable`` and nothing is kept. Already stored: no-op.
        ``transfer`` reports progress and may cancel (``TransferCancelled``: nothing kept).
        """
        stored = self._stored(doc, version, group_id)
        ann = stored.announcement
        keys = ann.keys
        if self._is_downloaded(keys.blob_id):
            return
        blobs = BlobClient(self._ctx.relays.get(self._groups.session(stored.group_id).relay_url))
        decryptor = StreamDecryptor(ann.content_key, ann.document_id, ann.version, ann.size)
        hasher = ContentHasher()
        transfer = transfer or Transfer()
        transfer.start(ciphertext_size(ann.size))
        try:
            with self.store.writer(keys.blob_id) as local:
                for index in range(ann.chunk_count):
                    transfer.check()
                    chunk = await blobs.get_chunk(keys.blob_id, keys.blob_capability, index)
                    hasher.update(decryptor.feed(chunk))
                    local.write(chunk)
                    transfer.advance(ann.filename, len(chunk))
                decryptor.finish()
                check_content(ann, hasher.result())
        except RelayError:
            raise
        except RemoteError as exc:
            raise DocumentUnavailable(
                f"the copy of “{ann.title}” version {ann.version} on the relay is damaged "
                f"or incomplete, nothing was kept ({exc})"
            ) from None
        self._mark_downloaded(keys.blob_id)

    async def get(
        self,
        doc: str | bytes,
        out_path: Path | str,
        *,
        version: int | None = None,
        force: bool = False,
        group_id: bytes | None = None,
        transfer: Transfer | None = None,
    ) -> ExportedDocument:
        """Write the plaintext to ``out_path`` (a file, or a folder to use the document's
        own name), ``<out>.minisig`` beside it and the signer's ``caucus-<KEYID>.pub``.

        Refuses a document that is not trusted unless ``force``. ``transfer`` follows
        (and may cancel) the download; a cancelled export writes nothing.
        """
        stored = self._stored(doc, version, group_id)
        ann = stored.announcement
        trust = trust_text(stored.trusted, stored.signer_name, stored.reason)
        if not stored.trusted and not force:
            raise NotPermittedHere(f"this document is {trust}; export it anyway with force")
        out = Path(out_path)
        if out.is_dir():
            out = out / ann.filename
        if not out.parent.is_dir():
            raise NotFound(f"no folder {str(out.parent)!r}")
        await self.fetch(
            ann.document_id, version=ann.version, group_id=stored.group_id, transfer=transfer
        )
        try:
            await asyncio.to_thread(_decrypt_to, self.store, ann, out)
        except RemoteError:
            self.store.discard(ann.keys.blob_id)
            with self._ctx.db.transaction():
                store.forget_download(self._ctx.db, ann.keys.blob_id)
            raise DocumentUnavailable(
                "the stored copy of this document was damaged on disk and has been "
                "discarded; get it again to download a fresh copy"
            ) from None
        files = export(ann)
        signature_path = out.with_name(out.name + ".minisig")
        public_key_path = out.parent / files.public_key_filename
        signature_path.write_text(files.signature_text, encoding="utf-8")
        public_key_path.write_text(files.public_key_text, encoding="utf-8")
        return ExportedDocument(out, signature_path, public_key_path, trust)

    def _is_downloaded(self, blob_id: bytes) -> bool:
        return store.download_complete(self._ctx.db, blob_id) and self.store.has(blob_id)

    def _mark_downloaded(self, blob_id: bytes) -> None:
        with self._ctx.db.transaction():
            store.mark_downloaded(
                self._ctx.db, blob_id, self.store.path(blob_id).name, self._ctx.now()
            )

    # -- acknowledging ----------------------------------------------------------------

    async def ack(
        self, doc: str | bytes, *, version: int | None = None, group_id: bytes | None = None
    ) -> None:
        """Tell the group "I have read this version" (the current one by default)."""
        stored = self._stored(doc, version, group_id)
        if not stored.trusted:
            raise NotPermittedHere("only a trusted document can be acknowledged")
        ann = stored.announcement
        shown = f"acknowledged “{ann.title}” version {ann.version}"
        await self._sending.send_content(
            stored.group_id, CONTENT_TYPE_ACKNOWLEDGEMENT, acknowledge(ann).encode(), shown
        )
        await self._settle(stored.group_id)

    # -- verifying outside the app ----------------------------------------------------

    @staticmethod
    def verify_file(
        path: Path | str,
        signature: Path | str | None = None,
        public_key: Path | str | None = None,
    ) -> VerifiedFile:
        """``verify_file`` below, for callers holding a service."""
        return verify_file(path, signature, public_key)


def _hash_path(path: Path) -> ContentDigest:
    with path.open("rb") as handle:
        return hash_file(handle)


def _decrypt_to(store: BlobStore, ann: Announcement, out: Path) -> None:
    """Decrypt the stored blob into a temporary file beside ``out``; rename when verified."""
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as target, store.chunks(ann.keys.blob_id) as chunks:
            for piece in open_document(ann, chunks):
                target.write(piece)
            target.flush()
            os.fsync(target.fileno())
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def verify_file(
    path: Path | str, signature: Path | str | None = None, public_key: Path | str | None = None
) -> VerifiedFile:
    """Check ``path`` against its minisign signature, as ``minisign -Vm`` does.

    ``signature`` defaults to ``<path>.minisig``; without ``public_key`` the ``.pub`` files
    beside the file are tried whose key id matches the signature. Raises
    ``VerificationFailed`` (or ``NotFound`` for missing files); no profile is needed.
    """
    file = Path(path)
    sig_path = Path(signature) if signature is not None else file.with_name(file.name + ".minisig")
    try:
        parsed = minisign.parse_signature(sig_path.read_bytes())
    except FileNotFoundError:
        raise NotFound(f"no signature file {str(sig_path)!r}") from None
    except RemoteError as exc:
        raise VerificationFailed(f"{sig_path.name} is not a minisign signature: {exc}") from None
    candidates = [Path(public_key)] if public_key is not None else sorted(file.parent.glob("*.pub"))
    try:
        with file.open("rb") as handle:
            prehash = minisign.blake2b512_file(handle)
    except FileNotFoundError:
        raise NotFound(f"no file {str(file)!r}") from None
    wanted = minisign.key_id_hex(parsed.key_id)
    last_error: str | None = None
    for candidate in candidates:
        try:
            key = minisign.parse_public_key(candidate.read_bytes())
        except FileNotFoundError:
            raise NotFound(f"no public key file {str(candidate)!r}") from None
        except RemoteError as exc:
            if public_key is not None:
                raise VerificationFailed(
                    f"{candidate.name} is not a minisign public key: {exc}"
                ) from None
            continue
        if public_key is None and key.key_id != parsed.key_id:
            continue
        try:
            minisign.verify(key, prehash, parsed)
        except RemoteError as exc:
            last_error = str(exc)
            continue
        return _verified(file, sig_path, candidate, wanted, parsed.trusted_comment)
    if last_error is None:
        raise VerificationFailed(f"no public key with key id {wanted} beside the file; give one")
    raise VerificationFailed(f"signature verification failed: {last_error}")


def _verified(file: Path, sig: Path, key: Path, key_id: str, comment: str) -> VerifiedFile:
    base = VerifiedFile(file, sig, key, key_id, comment)
    match = re.fullmatch(
        rf"{re.escape(TRUSTED_COMMENT_TAG)} group=([0-9a-f]{{32}}) doc=([0-9a-f]{{32}})"
        r" version=([0-9]{1,10}) ts=([0-9]{1,20}) file=(.*)",
        comment,
    )
    if match is None:
        return base
    decoder = json.JSONDecoder()
    rest = match.group(5)
    try:
        filename, end = decoder.raw_decode(rest)
        if not rest[end:].startswith(" title="):
            return base
        title, end2 = decoder.raw_decode(rest, end + len(" title="))
    except ValueError:
        return base
    if end2 != len(rest) or not isinstance(filename, str) or not isinstance(title, str):
        return base
    return VerifiedFile(
        file,
        sig,
        key,
        key_id,
        comment,
        title=title,
        filename=filename,
        version=int(match.group(3)),
        document_id=match.group(2),
        group_id=match.group(1),
        published_at=int(match.group(4)),
    )
