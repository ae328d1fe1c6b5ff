"""Document blobs put back on the relay before a device is linked (docs/protocol.md 8.4).

A new device opens a document by downloading its blob from the group's relay (6.1), but
the relay deletes blobs after its retention (90 days by default) while the first device
keeps its downloaded copies. So that the new device opens every document the first one
opens, the first device uploads again, exactly as the relay held it, each version whose
ciphertext it keeps and whose blob the relay no longer has (the relay answers "exists"
for the others, so nothing else is sent). The blob id and capability derive from the
content key, so the re-uploaded blob is the one every announcement names.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.core.database import Database
from app.core.document_blobs import BlobStore
from app.core.errors import ClientError, RelayError, RelayRejected
from app.core.ports import Groups, RelayPool
from app.core.store import documents as store
from crypto.document.announce import Announcement
from crypto.document.stream import ciphertext_size
from crypto.key_schedule import cap_hash

__all__ = ["put_back"]


async def put_back(
    db: Database,
    blobs: BlobStore,
    relays: RelayPool,
    groups: Groups,
    group_ids: Sequence[bytes],
    warnings: list[str],
) -> int:
    """Upload again the kept blobs the relay lost; how many. Best effort: a failure is a
    warning, and the new device says that document is unavailable, as before."""
    restored = 0
    for group_id in group_ids:
        relay = relays.get(groups.session(group_id).relay_url)
        for row in store.announcements(db, group_id):
            ann = Announcement.decode(row.announcement)
            keys = ann.keys
            if not (store.download_complete(db, keys.blob_id) and blobs.has(keys.blob_id)):
                continue
            try:
                try:
                    await relay.create_blob(
                        keys.blob_id,
                        cap_hash(keys.blob_capability),
                        ciphertext_size(ann.size),
                        ann.chunk_count,
                    )
                except RelayRejected as exc:
                    if exc.code == "exists":
                        continue  # still on the relay
                    raise
                with blobs.chunks(keys.blob_id) as chunks:
                    for index, chunk in enumerate(chunks):
                        await relay.put_blob_chunk(keys.blob_id, keys.blob_capability, index, chunk)
            except (RelayError, ClientError) as exc:
                warnings.append(f"could not put “{ann.title}” back on the relay: {exc}")
                continue
            restored += 1
    return restored
