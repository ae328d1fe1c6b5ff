"""Sending: the one outbox of this profile, for signed messages and anonymous votes.

A message is stored before anything else, sealed (chain advance committed) before it is
posted, and posted again with the same bytes until the relay acknowledges it. A group's
messages go out in row order, one sender at a time, so a new message never overtakes an
older one still pending. A vote waits for its random delay, is sealed for the live epoch
when it goes out and is posted with the capability only; votes have no order. Both go
through one delivery loop with one stale-epoch handling and one flush
(docs/protocol.md section 7.3); ``outbox_items`` holds what differs between them.
"""

from __future__ import annotations

from app.core.errors import (
    ClientError,
    NotFound,
    RelayError,
    RelayRejected,
    RelayUnavailable,
)
from app.core.events import MessageAdded
from app.core.group_sync import COMMIT_ATTEMPTS, GroupSync
from app.core.outbox_items import MessageRows, RowKind, VoteRows
from app.core.ports import Context
from app.core.queries import Queries
from app.core.relay_health import RelayHealth
from app.core.send_gate import SendGate
from app.core.status import MessageStatus, VoteStatus
from app.core.store import ballots as ballot_store
from app.core.store import freshness as freshness_store
from app.core.store import messages
from app.core.store.ballots import OutboxRow
from app.core.sync_pass import STEP_ERRORS, SyncPass
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.content import ContentType, TextBody
from crypto.message import MAX_BODY

__all__ = ["MAX_TEXT_BYTES", "REPOST_LIMIT", "Outbox"]

MAX_TEXT_BYTES = 65536

REPOST_LIMIT = 3
"""How many times a vote the relay acknowledged but never delivered is posted in all."""


class Outbox:
    """Sending messages, any other content type and votes (the ``Sending`` interface)."""

    def __init__(
        self,
        ctx: Context,
        groups: GroupSync,
        health: RelayHealth,
        reads: Queries,
        name: str,
        gate: SendGate | None = None,
    ) -> None:
        self._ctx = ctx
        self._groups = groups
        self._health = health
        self._reads = reads
        self._name = name
        self._messages = MessageRows(ctx, groups)
        self._votes = VoteRows(ctx, groups)
        self._gate = gate  # freshness: holds a group's queue while it is not confirmed

    def message(self, row_id: int) -> MessageView:
        return self._reads.message(row_id)

    async def send_text(
        self, group_id: bytes, text: str, channel_id: bytes = DEFAULT_CHANNEL
    ) -> MessageView:
        """Store the message in the outbox, then try to deliver it after any older
        message of the group still pending.

        If the relay is unreachable the message stays pending and ``RelayUnavailable`` is
        raised; the next ``sync`` or ``flush_outbox`` sends it.
        """
        session = self._groups.require_active(group_id)
        if not text.strip():
            raise ClientError("the message is empty")
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise ClientError("the message is longer than 64 KiB")
        self._reads.check_can_post(session.state, channel_id)
        body = TextBody(channel_id, text).encode()
        return await self.send_content(group_id, ContentType.TEXT, body, text, channel_id)

    async def send_content(
        self,
        group_id: bytes,
        content_type: int,
        body: bytes,
        shown: str,
        channel_id: bytes = DEFAULT_CHANNEL,
    ) -> MessageView:
        """Queue any content type (documents, ballots use this) and try to deliver it,
        after the group's older pending messages (``RelayUnavailable``: it stays queued)."""
        self._groups.require_active(group_id)
        if len(body) > MAX_BODY:
            raise ClientError("the message is too large")
        now = self._ctx.now()
        with self._ctx.db.transaction():
            row_id = messages.queue_message(
                self._ctx.db,
                group_id,
                channel_id,
                self._reads.me,  # the member, also on a linked device (protocol 8.2)
                self._name,
                now,
                int(content_type),
                body,
                shown,
            )
        view = self._reads.message(row_id)
        self._ctx.events.emit(MessageAdded(view))
        async with self._groups.send_lock(group_id):
            await self._flush_group(group_id, upto=view.row_id)
        return self._reads.message(view.row_id)

    async def queue_vote(self, vote: OutboxRow) -> bool:
        """Queue one of our votes (replacing an older one on its ballot still waiting for
        its delay) and, if its delay is over, deliver it at once. True once the relay took
        it; ``RelayUnavailable``: it stays queued for a later flush."""
        db = self._ctx.db
        with db.transaction():
            # An older vote still waiting for its delay will never be needed.
            ballot_store.supersede_pending(db, vote.group_id, vote.ballot_id)
            row_id = ballot_store.insert_outbox(db, vote)
        if vote.not_before > self._ctx.now():
            return False
        async with self._groups.send_lock(vote.group_id):
            try:
                return await self._deliver(self._votes, vote.group_id, row_id)
            except (RelayUnavailable, RelayRejected):
                raise
            except RelayError:
                return False  # a withheld commit, already reported: it stays queued

    async def flush_outbox(self, sync: SyncPass | None = None) -> int:
        """Try to send everything queued: every pending message and every vote whose
        delay is over. Returns how many messages and votes remain.

        A vote the relay acknowledged but never delivered is queued again first. Each
        group's messages go out oldest first and stop at the first that stays pending, so
        none overtakes an older one; its due votes go out in any order. A group whose
        relay is down (in ``sync``, or found down here) or fails otherwise is reported
        and skipped; the other groups go on.
        """
        sync = sync if sync is not None else SyncPass()
        self._requeue_lost_votes()
        now = self._ctx.now()
        waiting = set(messages.pending_group_ids(self._ctx.db))
        waiting |= set(ballot_store.groups_with_due_votes(self._ctx.db, now))
        for group_id in sorted(waiting):
            relay_url = self._groups.session(group_id).relay_url
            if sync.is_down(relay_url):
                continue
            scope = f"outbox:{group_id.hex()}"
            try:
                async with self._groups.send_lock(group_id):
                    await self._flush_votes(group_id, now)
                    await self._flush_group(group_id)
            except RelayUnavailable as exc:
                if self._health.is_down(relay_url):
                    sync.down.add(relay_url.rstrip("/"))
                else:
                    sync.warnings.append(f"{self._groups.session(group_id).state.name!r}: {exc}")
            except RelayError:
                pass  # e.g. a withheld commit: stays queued, already reported
            except STEP_ERRORS as exc:
                self._health.step_failed(sync, scope, group_id, relay_url, "sending", exc)
            else:
                self._health.step_done(scope)
        db = self._ctx.db
        return messages.count_pending(db) + ballot_store.count_pending_votes(db)

    async def retry(self, row_id: int) -> None:
        """Put a failed message back into the outbox and try it again (after any older
        pending message of its group)."""
        row = messages.load_outbox(self._ctx.db, row_id)
        if row is None or row.status is not MessageStatus.FAILED:
            raise NotFound("no failed message with that id")
        self._messages.move(row.group_id, row_id, MessageStatus.FAILED, MessageStatus.PENDING)
        async with self._groups.send_lock(row.group_id):
            await self._flush_group(row.group_id, upto=row_id)

    async def _flush_group(self, group_id: bytes, *, upto: int | None = None) -> None:
        """Deliver the group's pending messages in row order, up to row ``upto``.

        Call with the group's send lock held. A message the relay refuses for good, or
        that we may no longer send, becomes ``failed`` and the next one goes on (only
        ``upto``'s own refusal is raised, to its sender). Anything else (relay
        unreachable, a withheld commit) raises at once: that message and every later one
        stay pending, in order. So does a hold of the gate (``SendHeld``).
        """
        if self._gate is not None:
            types = freshness_store.pending_content_types(self._ctx.db, group_id, upto)
            if types:
                await self._gate.check(group_id, types)
        for row_id in messages.pending_ids(self._ctx.db, group_id, upto):
            try:
                await self._deliver(self._messages, group_id, row_id)
            except (ClientError, RelayRejected) as exc:
                if row_id == upto:
                    raise
                self._messages.fail(group_id, row_id)
                self._ctx.events.warn(group_id, "send-failed", str(exc))

    async def _flush_votes(self, group_id: bytes, now: int) -> None:
        """Deliver the group's votes whose delay is over, in any order. Call with the
        group's send lock held. A refused vote is failed and the next goes on; a relay
        found unreachable raises (they all stay queued); a withheld commit ends the round."""
        for row_id in ballot_store.due_votes(self._ctx.db, now, group_id):
            try:
                await self._deliver(self._votes, group_id, row_id)
            except RelayRejected:
                continue  # failed by the vote rows; the relay said why
            except RelayUnavailable:
                raise
            except RelayError:
                return  # a withheld commit, already reported: the votes stay queued

    def _requeue_lost_votes(self) -> None:
        """A sent vote on a still-open ballot of a group we are in, that we read past
        without finding it among the ballot's votes, was dropped: post it again (a few
        times at most)."""
        for sent in ballot_store.sent_votes_missing(self._ctx.db, REPOST_LIMIT, None):
            if sent.relay_seq is None or sent.cursor < sent.relay_seq:
                continue
            if not self._groups.session(sent.group_id).active:
                continue  # we left: nothing of ours goes there any more
            self._votes.move(sent.id, VoteStatus.SENT, VoteStatus.PENDING)
            self._ctx.events.warn(
                sent.group_id, "vote-lost", "the relay did not deliver our vote; it is posted again"
            )

    async def _deliver(self, rows: RowKind, group_id: bytes, row_id: int) -> bool:
        """Deliver one queued row, message or vote; True once the relay took it.

        The one stale-epoch handling of the outbox: an item sealed in an epoch before the
        live one is never posted (every member would drop it), and a ``stale_epoch``
        answer means a commit closed the epoch: sync, unseal and seal again in the new
        epoch. If the relay says so but delivers no commit, that is reported as a
        withheld commit and the row stays queued (``RelayError``).
        """
        for _ in range(COMMIT_ATTEMPTS):
            ready = rows.ready(row_id)
            if ready is None:
                return rows.is_sent(row_id)
            session = ready.session
            stale = ready.epoch != ready.keys.epoch
            try:
                if stale:
                    raise RelayRejected(409, "stale_epoch", "sealed in an earlier epoch")
                seq = await rows.post(ready)
            except RelayUnavailable:
                self._health.down(session.relay_url)
                raise
            except RelayRejected as exc:
                if exc.code != "stale_epoch":
                    raise
                _, commits = await self._groups.sync_group(group_id)
                if commits == 0 and not stale:
                    detail = "the relay says our epoch ended but delivers no commit"
                    self._ctx.events.warn(group_id, "withheld-commit", detail)
                    raise RelayError(f"{detail}; the {rows.kind} stays queued") from None
                rows.unseal(group_id, row_id)
                continue
            self._health.online(session.relay_url)
            rows.acknowledged(group_id, row_id, seq)
            return True
        raise RelayError(f"the group changed too often while sending; the {rows.kind} stays queued")
