"""Sending: the durable outbox, sealing with our chain, and re-sealing after a commit.

A message is stored before anything else, sealed (chain advance committed) before it is
posted, and posted again with the same bytes until the relay acknowledges it. A group's
queue goes out in row order, one sender at a time, so a new message never overtakes an
older one still pending (docs/protocol.md section 7.3).
"""

from __future__ import annotations

from app.core.engine_core import COMMIT_ATTEMPTS, EngineCore
from app.core.errors import (
    ClientError,
    NotFound,
    NotPermittedHere,
    RelayError,
    RelayRejected,
    RelayUnavailable,
)
from app.core.events import (
    ConnectionState,
    MessageAdded,
    MessageStatusChanged,
)
from app.core.group_session import GroupSession
from app.core.sync_pass import STEP_ERRORS, SyncPass
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.content import ContentType, TextBody
from crypto.items import peek_item
from crypto.message import MAX_BODY, seal_message

__all__ = ["MAX_TEXT_BYTES", "Outbox"]

MAX_TEXT_BYTES = 65536


class Outbox(EngineCore):
    """Sending messages and any other content type."""

    async def send_text(
        self, group_id: bytes, text: str, channel_id: bytes = DEFAULT_CHANNEL
    ) -> MessageView:
        """Store the message in the outbox, then try to deliver it after any older
        message of the group still pending.

        If the relay is unreachable the message stays pending and ``RelayUnavailable`` is
        raised; the next ``sync`` or ``flush_outbox`` sends it.
        """
        session = self._require_active(group_id)
        if not text.strip():
            raise ClientError("the message is empty")
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise ClientError("the message is longer than 64 KiB")
        self.check_can_post(session.state, channel_id)
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
        self._require_active(group_id)
        if len(body) > MAX_BODY:
            raise ClientError("the message is too large")
        now = self._now()
        with self.db.transaction():
            cursor = self.db.execute(
                "INSERT INTO messages (group_id, channel_id, sender_pk, sender_name, sent_at,"
                " received_at, content_type, body, text, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    group_id,
                    channel_id,
                    self.identity.public_key,
                    self.name,
                    now,
                    now,
                    int(content_type),
                    body,
                    shown,
                ),
            )
        view = self.message(int(cursor.lastrowid))
        self._emit(MessageAdded(view))
        async with self._send_lock(group_id):
            await self._flush_group(group_id, upto=view.row_id)
        return self.message(view.row_id)

    async def flush_outbox(self, sync: SyncPass | None = None) -> int:
        """Try to send every pending message; returns how many remain.

        Each group's queue goes out oldest first and stops at the first message that
        stays pending, so none overtakes an older one. A group whose relay is down (in
        ``sync``, or found down here) or fails otherwise is reported and skipped; the
        other groups go on.
        """
        sync = sync if sync is not None else SyncPass()
        groups = [
            row[0]
            for row in self.db.all(
                "SELECT DISTINCT group_id FROM messages WHERE status = 'pending' ORDER BY group_id"
            )
        ]
        for group_id in groups:
            relay_url = self.session(group_id).relay_url
            if sync.is_down(relay_url):
                continue
            scope = f"outbox:{group_id.hex()}"
            try:
                async with self._send_lock(group_id):
                    await self._flush_group(group_id)
            except RelayUnavailable as exc:
                if self._is_down(relay_url):
                    sync.down.add(relay_url.rstrip("/"))
                else:
                    sync.warnings.append(f"{self.session(group_id).state.name!r}: {exc}")
            except RelayError:
                pass  # e.g. a withheld commit: stays queued, already reported
            except STEP_ERRORS as exc:
                self._step_failed(sync, scope, group_id, relay_url, "sending", exc)
            else:
                self._step_done(scope)
        (remaining,) = self.db.one("SELECT count(*) FROM messages WHERE status = 'pending'")
        return int(remaining)

    async def retry(self, row_id: int) -> None:
        """Put a failed message back into the outbox and try it again (after any older
        pending message of its group)."""
        row = self.db.one(
            "SELECT group_id FROM messages WHERE id = ? AND status = 'failed'", (row_id,)
        )
        if row is None:
            raise NotFound("no failed message with that id")
        self._set_status(row[0], row_id, "pending")
        async with self._send_lock(row[0]):
            await self._flush_group(row[0], upto=row_id)

    async def _flush_group(self, group_id: bytes, *, upto: int | None = None) -> None:
        """Deliver the group's pending messages in row order, up to row ``upto``.

        Call with the group's send lock held. A message the relay refuses for good, or
        that we may no longer send, becomes ``failed`` and the next one goes on (only
        ``upto``'s own refusal is raised, to its sender). Anything else (relay
        unreachable, a withheld commit) raises at once: that message and every later one
        stay pending, in order.
        """
        rows = self.db.all(
            "SELECT id FROM messages WHERE group_id = ? AND status = 'pending'"
            " AND (? IS NULL OR id <= ?) ORDER BY id",
            (group_id, upto, upto),
        )
        for (row_id,) in rows:
            try:
                await self._deliver(row_id)
            except (ClientError, RelayRejected) as exc:
                if row_id == upto:
                    raise
                self._set_status(group_id, row_id, "failed")
                self._warn(group_id, "send-failed", str(exc))

    def _set_status(self, group_id: bytes, row_id: int, status: str) -> None:
        with self.db.transaction():
            self.db.execute("UPDATE messages SET status = ? WHERE id = ?", (status, row_id))
        self._emit(MessageStatusChanged(group_id, row_id, status))

    async def _deliver(self, row_id: int) -> None:
        for _ in range(COMMIT_ATTEMPTS):
            row = self.db.one(
                "SELECT group_id, content_type, body, sent_at, item, status FROM messages"
                " WHERE id = ?",
                (row_id,),
            )
            if row is None or row[5] != "pending":
                return
            group_id, content_type, body, sent_at, item, _ = row
            session = self.session(group_id)
            relay = self.relay(session.relay_url)
            if item is None:
                # No sync first: if a commit we have not seen closed our epoch, the relay
                # answers stale_epoch and we catch up and seal again below.
                session = self._require_active(group_id)
                item = self._seal(session, row_id, content_type, body, sent_at)
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
                self._relay_down(session.relay_url)
                raise
            except RelayRejected as exc:
                if exc.code != "stale_epoch":
                    raise
                # A commit closed the epoch this was sealed in; it never landed. Unseal
                # it (restoring our message chain) and seal again in the new epoch.
                _, commits = await self.sync_group(group_id)
                if commits == 0 and not stale:
                    detail = "the relay says our epoch ended but delivers no commit"
                    self._warn(group_id, "withheld-commit", detail)
                    raise RelayError(detail + "; the message stays queued") from None
                with self.db.transaction():
                    self.db.execute(
                        "UPDATE groups SET last_sent = (SELECT prev_sent FROM messages"
                        " WHERE id = ?) WHERE group_id = ?",
                        (row_id, group_id),
                    )
                    self.db.execute(
                        "UPDATE messages SET item = NULL, message_id = NULL, prev_sent = NULL"
                        " WHERE id = ?",
                        (row_id,),
                    )
                continue
            self._connection_state(session.relay_url, ConnectionState.ONLINE)
            with self.db.transaction():
                self.db.execute(
                    "UPDATE messages SET status = 'sent', relay_seq = ?, item = NULL,"
                    " prev_sent = NULL WHERE id = ? AND status = 'pending'",
                    (seq, row_id),
                )
            self._emit(MessageStatusChanged(group_id, row_id, "sent"))
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
        with self.db.transaction():
            (last_sent,) = self.db.one(
                "SELECT last_sent FROM groups WHERE group_id = ?", (session.group_id,)
            )
            sealed = seal_message(
                keys,
                session.stored_send_chain(self.db, self.identity),
                self.identity,
                content_type,
                body,
                sent_at,
                session.state.head,
                last_sent,
                self._rng,
            )
            session.save_send_chain(self.db, sealed.chain)
            self.db.execute(
                "UPDATE messages SET item = ?, message_id = ?, prev_sent = ? WHERE id = ?",
                (sealed.item, sealed.message_hash[:16], last_sent, row_id),
            )
            self.db.execute(
                "UPDATE groups SET last_sent = ? WHERE group_id = ?",
                (sealed.message_hash, session.group_id),
            )
        return sealed.item
