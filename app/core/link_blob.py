"""The records blob of a link on the relay (docs/protocol.md 8.4): the first device
uploads it through the blob endpoints documents and attached files use, the new device
fetches, checks and deletes it. The relay holds an opaque, padded blob under a random id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from app.core.document_blobs import BlobClient
from app.core.errors import ClientError, RelayError
from app.core.relay_client import RelayClient
from crypto.document.stream import ciphertext_size
from crypto.key_schedule import cap_hash
from crypto.link_records import RecordsOpener, RecordsRef, encrypt_records

__all__ = ["delete_records", "fetch_records", "upload_records"]


async def upload_records(
    relay: RelayClient, payload: bytes, rng: Callable[[int], bytes]
) -> RecordsRef:
    """Encrypt ``payload`` under a fresh key and upload it; the reference naming it."""
    ref, chunks = encrypt_records(payload, rng)
    keys = ref.keys
    blobs = BlobClient(relay)
    await blobs.create(
        keys.blob_id, cap_hash(keys.blob_capability), ciphertext_size(ref.size), ref.chunk_count
    )
    try:
        for index, chunk in enumerate(chunks):
            await blobs.put_chunk(keys.blob_id, keys.blob_capability, index, chunk)
    except BaseException:
        await delete_records(relay, ref)
        raise
    return ref


async def fetch_records(relay: RelayClient, ref: RecordsRef) -> bytes:
    """The verified payload (``RemoteError`` when the blob is not the one named;
    ``DocumentUnavailable`` when the relay lacks part of it)."""
    keys = ref.keys
    blobs = BlobClient(relay)
    opener = RecordsOpener(ref)
    for index in range(ref.chunk_count):
        opener.feed(await blobs.get_chunk(keys.blob_id, keys.blob_capability, index))
    return opener.finish()


async def delete_records(relay: RelayClient, ref: RecordsRef) -> None:
    """Best effort: if it fails, the relay's retention removes the blob."""
    keys = ref.keys
    with contextlib.suppress(RelayError, ClientError):
        await BlobClient(relay).delete(keys.blob_id, keys.blob_capability)
