"""Sending: the durable outbox, sealing with our chain, and re-sealing after a commit.

A message is stored before anything else, sealed (chain advance committed) before it is
posted, and posted again with the same bytes until the relay acknowledges it. A group's
queue goes out in row order, one sender at a time, so a new message never overtakes an
older one still pending (docs/protocol.md section 7.3).
"""

from __future__ import annotations

from app.core.errors import (
    ClientError,
    NotFound,
    NotPermittedHere,
    RelayError,
    RelayRejected,
    RelayUnavailable,
)
from app.core.events import (
    MessageAdded,
    MessageStatusChanged,
)
from app.core.group_session import GroupSession
from app.core.group_sync import COMMIT_ATTEMPTS, GroupSync
from app.core.ports import Context
from app.core.queries import Queries
from app.core.relay_health import RelayHealth
from app.core.send_gate import SendGate
from app.core.status import MessageStatus
from app.core.store import freshness as freshness_store
from app.core.store import groups, messages
from app.core.sync_pass import STEP_ERRORS, SyncPass
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.content import ContentType, TextBody
from crypto.items import peek_item
from crypto.message import MAX_BODY, seal_message

__all__ = ["MAX_TEXT_BYTES", "Outbox"]

MAX_TEXT_BYTES = 65536


class Outbox:
    """Sending messages and any other content type (the ``Sending`` interface)."""

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
                self._ctx.identity.public_key,
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

    async def flush_outbox(self, sync: SyncPass | None = None) -> int:
        """Try to send every pending message; returns how many remain.

        Each group's queue goes out oldest first and stops at the first message that
        stays pending, so none overtakes an older one. A group whose relay is down (in
        ``sync``, or found down here) or fails otherwise is reported and skipped; the
        other groups go on.
        """
        sync = sync if sync is not None else SyncPass()
        for group_id in messages.pending_group_ids(self._ctx.db):
            relay_url = self._groups.session(group_id).relay_url
            if sync.is_down(relay_url):
                continue
            scope = f"outbox:{group_id.hex()}"
            try:
                async with self._groups.send_lock(group_id):
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
        return messages.count_pending(self._ctx.db)

    async def retry(self, row_id: int) -> None:
        """Put a failed message back into the outbox and try it again (after any older
        pending message of its group)."""
        row = messages.load_outbox(self._ctx.db, row_id)
        if row is None or row.status is not MessageStatus.FAILED:
            raise NotFound("no failed message with that id")
        self._set_status(row.group_id, row_id, MessageStatus.FAILED, MessageStatus.PENDING)
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
                await self._deliver(row_id)
            except (ClientError, RelayRejected) as exc:
                if row_id == upto:
                    raise
                self._set_status(group_id, row_id, MessageStatus.PENDING, MessageStatus.FAILED)
                self._ctx.events.warn(group_id, "send-failed", str(exc))

    def _set_status(
        self, group_id: bytes, row_id: int, old: MessageStatus, new: MessageStatus
    ) -> None:
        with self._ctx.db.transaction():
            changed = messages.set_status(self._ctx.db, row_id, old, new)
        if changed:
            self._ctx.events.emit(MessageStatusChanged(group_id, row_id, new))

    async def _deliver(self, row_id: int) -> None:
        for _ in range(COMMIT_ATTEMPTS):
            row = messages.load_outbox(self._ctx.db, row_id)
            if row is None or row.status is not MessageStatus.PENDING:
                return
            group_id, item = row.group_id, row.item
            session = self._groups.session(group_id)
            relay = self._ctx.relays.get(session.relay_url)
            if item is None:
                # No sync first: if a commit we have not seen closed our epoch, the relay
                # answers stale_epoch and we catch up and seal again below.
                session = self._groups.require_active(group_id)
                item = self._seal(session, row_id, row.content_type, row.body, row.sent_at)
            keys = session.keys
            if keys is None:
                raise NotPermittedHere("you are no longer a member of this group")
            # Sealed before a commit we have processed since: the relay would take it with
            # the new capability and every member would drop it. Seal it again below.
            stale = peek_item(item)[2] != keys.epoch
            try:
                if stale:
                    raise RelayRejected(409, "stale_epoch", "sealed in an earlier epoch")
                seq = await relay.post_item(session.mailbox_id, keys.mailbox_cap, item)
            except RelayUnavailable:
                self._health.down(session.relay_url)
                raise
            except RelayRejected as exc:
                if exc.code != "stale_epoch":
                    raise
                # A commit closed the epoch this was sealed in; it never landed. Unseal
                # it (restoring our message chain) and seal again in the new epoch.
                _, commits = await self._groups.sync_group(group_id)
                if commits == 0 and not stale:
                    detail = "the relay says our epoch ended but delivers no commit"
                    self._ctx.events.warn(group_id, "withheld-commit", detail)
                    raise RelayError(detail + "; the message stays queued") from None
                with self._ctx.db.transaction():
                    messages.unseal_message(self._ctx.db, group_id, row_id)
                continue
            self._health.online(session.relay_url)
            with self._ctx.db.transaction():
                messages.mark_acked(self._ctx.db, row_id, seq)
            self._ctx.events.emit(MessageStatusChanged(group_id, row_id, MessageStatus.SENT))
            return
        raise RelayError("the group changed too often while sending; the message stays queued")

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
