"""The two kinds of row the one outbox delivers, and what differs between them.

``Outbox`` (outbox.py) drives both through one delivery loop: ready the row for the
live epoch, post it, and on ``stale_epoch`` sync, unseal and try again
(docs/protocol.md section 7.3). What a kind decides is only this:

- ``MessageRows``: our signed messages (``messages`` rows). Sealed once, with the
  advanced send chain committed before the post; the same bytes are posted until the
  relay acknowledges them; unsealing restores the previous-message hash. Posted over the
  profile's keep-alive connection.
- ``VoteRows``: our anonymous votes (``ballot_outbox`` rows). Sealed afresh for the live
  epoch at every attempt (no chain, nothing to restore), posted with the capability
  only over a connection of their own, and failed when their ballot is no longer open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.core.errors import NotPermittedHere, RelayRejected, RelayUnavailable
from app.core.events import MessageStatusChanged
from app.core.group_session import GroupSession
from app.core.ports import Context, Groups
from app.core.status import MessageStatus, OutboxKind, VoteStatus
from app.core.store import ballots as ballot_store
from app.core.store import groups, messages
from crypto.ballot import BallotState
from crypto.ballot.transport import seal_vote_item
from crypto.items import peek_item
from crypto.key_schedule import EpochKeys
from crypto.message import seal_message

__all__ = ["MessageRows", "Ready", "RowKind", "VoteRows"]


@dataclass(frozen=True)
class Ready:
    """A pending row sealed and ready to post: the item and the epoch it is sealed in."""

    row_id: int
    session: GroupSession
    keys: EpochKeys
    item: bytes
    epoch: int


class RowKind(Protocol):
    """What the outbox's delivery loop asks of one kind of row."""

    kind: OutboxKind

    def ready(self, row_id: int) -> Ready | None:
        """The row sealed for posting; None when there is nothing to post now (no longer
        pending, failed here, or waiting for a re-key)."""
        ...

    def is_sent(self, row_id: int) -> bool: ...

    async def post(self, ready: Ready) -> int:
        """Post the item; the relay's sequence number."""
        ...

    def unseal(self, group_id: bytes, row_id: int) -> None:
        """Its epoch ended before it landed: forget the sealing."""
        ...

    def acknowledged(self, group_id: bytes, row_id: int, relay_seq: int) -> None: ...

    def fail(self, group_id: bytes, row_id: int) -> None:
        """pending -> failed (refused for good)."""
        ...


class MessageRows:
    """Our signed messages, one send chain per group."""

    kind = OutboxKind.MESSAGE

    def __init__(self, ctx: Context, groups: Groups) -> None:
        self._ctx = ctx
        self._groups = groups

    def ready(self, row_id: int) -> Ready | None:
        row = messages.load_outbox(self._ctx.db, row_id)
        if row is None or row.status is not MessageStatus.PENDING:
            return None
        session = self._groups.session(row.group_id)
        item = row.item
        if item is None:
            # No sync first: if a commit we have not seen closed our epoch, the relay
            # answers stale_epoch and the outbox catches up and seals again.
            session = self._groups.require_active(row.group_id)
            item = self._seal(session, row_id, row.content_type, row.body, row.sent_at)
        keys = session.keys
        if keys is None:
            raise NotPermittedHere("you are no longer a member of this group")
        return Ready(row_id, session, keys, item, peek_item(item)[2])

    def is_sent(self, row_id: int) -> bool:
        row = messages.load_outbox(self._ctx.db, row_id)
        return row is not None and row.status is MessageStatus.SENT

    async def post(self, ready: Ready) -> int:
        relay = self._ctx.relays.get(ready.session.relay_url)
        return await relay.post_item(ready.session.mailbox_id, ready.keys.mailbox_cap, ready.item)

    def unseal(self, group_id: bytes, row_id: int) -> None:
        with self._ctx.db.transaction():
            messages.unseal_message(self._ctx.db, group_id, row_id)

    def acknowledged(self, group_id: bytes, row_id: int, relay_seq: int) -> None:
        with self._ctx.db.transaction():
            messages.mark_acked(self._ctx.db, row_id, relay_seq)
        self._ctx.events.emit(MessageStatusChanged(group_id, row_id, MessageStatus.SENT))

    def fail(self, group_id: bytes, row_id: int) -> None:
        self.move(group_id, row_id, MessageStatus.PENDING, MessageStatus.FAILED)

    def move(self, group_id: bytes, row_id: int, old: MessageStatus, new: MessageStatus) -> None:
        with self._ctx.db.transaction():
            changed = messages.set_status(self._ctx.db, row_id, old, new)
        if changed:
            self._ctx.events.emit(MessageStatusChanged(group_id, row_id, new))

    def _seal(
        self, session: GroupSession, row_id: int, content_type: int, body: bytes, sent_at: int
    ) -> bytes:
        """Seal a queued message and persist the advanced chain in the same transaction.

        The chain and the previous-message hash are read from the database inside that
        (IMMEDIATE) transaction, never from memory: whatever else has this profile open,
        one counter is never used for two messages."""
        keys = session.keys
        if keys is None:
            raise NotPermittedHere("the group has no live epoch")
        if session.state.needs_rekey:
            raise RelayUnavailable("waiting for the group to be re-keyed after someone left")
        with self._ctx.db.transaction():
            last_sent = groups.last_sent(self._ctx.db, session.group_id)
            sealed = seal_message(
                keys,
                session.stored_send_chain(self._ctx.db, self._ctx.identity),
                self._ctx.identity,
                content_type,
                body,
                sent_at,
                session.state.head,
                last_sent,
                self._ctx.rng,
            )
            session.save_send_chain(self._ctx.db, sealed.chain)
            messages.seal_message(
                self._ctx.db,
                row_id,
                sealed.item,
                sealed.message_hash[:16],
                last_sent,
                epoch=keys.epoch,  # the exposure report (docs/protocol.md 7.8)
            )
            groups.set_last_sent(self._ctx.db, session.group_id, sealed.message_hash)
        return sealed.item


class VoteRows:
    """Our anonymous votes: no sender, no chain, no order."""

    kind = OutboxKind.VOTE

    def __init__(self, ctx: Context, groups: Groups) -> None:
        self._ctx = ctx
        self._groups = groups

    def ready(self, row_id: int) -> Ready | None:
        db = self._ctx.db
        row = ballot_store.load_outbox(db, row_id)
        if row is None or row.status is not VoteStatus.PENDING:
            return None
        ballot = ballot_store.load_ballot(db, row.group_id, row.ballot_id)
        session = self._groups.session(row.group_id)
        if ballot is None or ballot.state is not BallotState.OPEN or not session.active:
            self.fail(row.group_id, row_id)
            return None
        keys = session.keys
        if keys is None or session.state.needs_rekey:
            return None  # after a LEAVE, wait for the re-key like messages do
        item = seal_vote_item(keys, row.vote, self._ctx.rng)
        return Ready(row_id, session, keys, item, keys.epoch)

    def is_sent(self, row_id: int) -> bool:
        row = ballot_store.load_outbox(self._ctx.db, row_id)
        return row is not None and row.status is VoteStatus.SENT

    async def post(self, ready: Ready) -> int:
        # A connection of its own, so the relay cannot tie the vote to the keep-alive
        # connection this client syncs over (its IP address it still sees).
        client = self._ctx.relays.fresh(ready.session.relay_url)
        try:
            return await client.post_item(
                ready.session.mailbox_id, ready.keys.mailbox_cap, ready.item
            )
        except RelayRejected as exc:
            if exc.code != "stale_epoch":
                self.fail(ready.session.group_id, ready.row_id)  # refused for good
            raise
        finally:
            await client.aclose()

    def unseal(self, group_id: bytes, row_id: int) -> None:
        """Nothing to restore: a vote is sealed afresh at every attempt."""

    def acknowledged(self, group_id: bytes, row_id: int, relay_seq: int) -> None:
        with self._ctx.db.transaction():
            ballot_store.mark_outbox_sent(self._ctx.db, row_id, relay_seq)

    def fail(self, group_id: bytes, row_id: int) -> None:
        self.move(row_id, VoteStatus.PENDING, VoteStatus.FAILED)

    def move(self, row_id: int, old: VoteStatus, new: VoteStatus) -> None:
        with self._ctx.db.transaction():
            ballot_store.set_outbox_status(self._ctx.db, row_id, old, new)
