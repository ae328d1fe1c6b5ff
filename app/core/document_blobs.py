"""Where document ciphertext lives: relay blobs (protocol 6.1) and the profile's folder.

``BlobClient`` speaks the relay's blob endpoints through a ``RelayClient`` (same retries
and errors as every other relay call). ``BlobStore`` keeps downloaded blobs on disk
exactly as the relay holds them, still encrypted under a content key that exists only
inside the SQLCipher database (P8); a blob is written to ``<id>.part`` and renamed only
after it verified, so a damaged or interrupted download never leaves a usable-looking file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app.core.errors import ClientError, RelayRejected
from app.core.relay_client import RelayClient
from crypto.document.stream import split_ciphertext

__all__ = ["BlobClient", "BlobStore", "DocumentUnavailable"]

STORE_DIR = "documents"


class DocumentUnavailable(ClientError):
    """A document's ciphertext is missing, incomplete or damaged (on the relay or on disk)."""


class BlobClient:
    """The relay's blob endpoints, with their errors turned into what a member can act on."""

    def __init__(self, relay: RelayClient) -> None:
        self._relay = relay

    async def create(self, blob_id: bytes, cap_hash: bytes, size: int, chunks: int) -> None:
        try:
            await self._relay.create_blob(blob_id, cap_hash, size, chunks)
        except RelayRejected as exc:
            if exc.code != "exists":
                raise
            # An earlier attempt created it and its answer was lost: the chunks we write
            # are checked against the capability, so a stranger's blob is unusable.

    async def put_chunk(self, blob_id: bytes, capability: bytes, index: int, data: bytes) -> None:
        await self._relay.put_blob_chunk(blob_id, capability, index, data)

    async def get_chunk(self, blob_id: bytes, capability: bytes, index: int) -> bytes:
        try:
            return await self._relay.get_blob_chunk(blob_id, capability, index)
        except RelayRejected as exc:
            if exc.code == "missing":
                raise DocumentUnavailable(
                    f"the relay is missing part {index + 1} of this document: "
                    "its upload did not finish or the relay lost it"
                ) from None
            if exc.code == "not_found":
                raise DocumentUnavailable(
                    "the relay no longer holds this document (deleted or expired)"
                ) from None
            raise

    async def delete(self, blob_id: bytes, capability: bytes) -> None:
        await self._relay.delete_blob(blob_id, capability)


class BlobStore:
    """Encrypted blobs in ``<profile>/documents/<blob id hex>``; no database access here."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, blob_id: bytes) -> Path:
        return self.root / blob_id.hex()

    def _part(self, blob_id: bytes) -> Path:
        return self.root / f"{blob_id.hex()}.part"

    def has(self, blob_id: bytes) -> bool:
        return self.path(blob_id).is_file()

    @contextlib.contextmanager
    def writer(self, blob_id: bytes) -> Iterator[BinaryIO]:
        """Write ``<id>.part``; on a clean exit it is synced and renamed to ``<id>``, on an
        exception it is deleted, so only a whole, verified blob ever carries the final name.
        """
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        part = self._part(blob_id)
        handle = part.open("wb")
        try:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(part, self.path(blob_id))
        except BaseException:
            handle.close()
            part.unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def chunks(self, blob_id: bytes) -> Iterator[Iterator[bytes]]:
        """The stored blob cut back into relay chunks, read one at a time."""
        try:
            handle = self.path(blob_id).open("rb")
        except FileNotFoundError:
            raise DocumentUnavailable("the downloaded copy of this document is gone") from None
        with handle:
            yield split_ciphertext(handle)

    def discard(self, blob_id: bytes) -> None:
        self.path(blob_id).unlink(missing_ok=True)
        self._part(blob_id).unlink(missing_ok=True)
