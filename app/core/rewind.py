"""Noticing that a relay rewound a group's mailbox, and recovering without losing anything
(docs/protocol.md section 7.2, "Rewind").

A relay restored from an older copy gets a new generation id and hands out sequence
numbers again, so items sent after the restore can carry numbers at or below a member's
cursor. Each answer to a fetch is compared with what the group last saw of the relay
(``RelayMark``): a new generation, or a last sequence number below the cursor or below a
last it reported before, is a rewind. The client then warns, re-reads the live epoch from
the commit that opened it (items it already had are dropped as duplicates by the ratchet
and by message id), and puts back in the outbox those of its own sent messages of the
live epoch that the relay no longer holds (the same sealed bytes: a ``Replay`` for
members who had them). Pure decisions here; the SQL is in ``app.core.store.relay_marks``.
"""

from __future__ import annotations

import hashlib

from app.core.database import Database
from app.core.relay_client import FetchResult
from app.core.store import groups
from app.core.store.relay_marks import RelayMark, requeue, sent_items
from crypto.errors import RemoteError
from crypto.items import peek_item

__all__ = [
    "REWIND_KIND",
    "Reread",
    "detect",
    "item_digest",
    "rereading",
    "restart_point",
    "restarted",
    "seen",
]

REWIND_KIND = "relay-rewound"


def detect(mark: RelayMark, after: int, result: FetchResult) -> str | None:
    """The warning for a fetch answer that shows a rewind, or None.

    ``mark`` is what the group had seen of the relay *before* the fetch was sent and
    ``after`` the cursor it asked from: a relay that only moves forward never answers
    with a last below either, however fetches overlap.
    """
    if mark.reread:
        return (
            "a re-read of this group after the relay was restored from an older copy was "
            "cut short: reading it again from the start of its epoch"
        )
    if (
        mark.generation is not None
        and result.generation is not None
        and result.generation != mark.generation
    ):
        return (
            "the relay was restored from an older copy (its generation changed): "
            "re-reading this group from the start of its epoch so nothing sent since is "
            "missed; messages sent before the restore that it lost are posted again by "
            "their senders"
        )
    known = max(after, mark.last)
    if result.last < known:
        return (
            f"the relay was restored from an older copy, or is misbehaving: it reports "
            f"items up to {result.last} but had {known} before; re-reading this group "
            "from the start of its epoch so nothing sent since is missed"
        )
    return None


def seen(mark: RelayMark, result: FetchResult) -> RelayMark:
    """The mark after an answer that showed no rewind."""
    generation = result.generation if result.generation is not None else mark.generation
    return RelayMark(generation, max(mark.last, result.last), mark.reread)


def rereading(mark: RelayMark) -> RelayMark:
    """The mark stored while a re-read runs: as before, flagged, so one cut short (a relay
    that stops answering, a crash) is started again by the next sync."""
    return RelayMark(mark.generation, mark.last, reread=True)


def restarted(mark: RelayMark, result: FetchResult) -> RelayMark:
    """The mark once a rewind is acknowledged: the relay's new generation and last."""
    generation = result.generation if result.generation is not None else mark.generation
    return RelayMark(generation, result.last, reread=False)


def restart_point(db: Database, group_id: bytes, epoch: int) -> int:
    """Where to re-read from: the relay sequence number of the commit that opened the live
    epoch (0 when unknown, e.g. the epoch we joined in: the relay starts our capability's
    window at the epoch's first item anyway)."""
    row = groups.logged_entry(db, group_id, epoch)
    if row is None or row.relay_seq is None:
        return 0
    return row.relay_seq


def item_digest(item: bytes) -> bytes:
    return hashlib.blake2b(item, digest_size=16).digest()


class Reread:
    """One re-read after a rewind: the items it saw (to find which of ours the relay
    lost) and the mark to store once it has read to the end."""

    def __init__(self, mark: RelayMark) -> None:
        self.mark = mark
        self._digests: set[bytes] = set()

    def saw(self, result: FetchResult) -> None:
        self.mark = seen(self.mark, result)
        self._digests.update(item_digest(item) for _, item in result.items)

    def requeue_lost(self, db: Database, group_id: bytes, epoch: int) -> list[int]:
        """Put back in the outbox our sent messages of ``epoch`` that the re-read did not
        see (call inside a transaction, after reading to the end); their row ids."""
        lost = []
        for sent in sent_items(db, group_id):
            try:
                sealed_in = peek_item(sent.item)[2]
            except RemoteError:
                continue
            if sealed_in != epoch or item_digest(sent.item) in self._digests:
                continue
            if requeue(db, sent.row_id):
                lost.append(sent.row_id)
        return lost
