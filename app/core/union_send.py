"""Our own reports: queued unsigned, ring-signed for the live epoch, posted anonymously.

A report must not travel as a signed group message (that carries the sender's index and
signature). It goes exactly as a ballot vote does (docs/ballots.md section 10): inside an
anonymous item under the epoch's vote key, a type-1 item the relay cannot tell from a
message, padded to a bucket, posted with the mailbox capability only over a connection
of its own. The report is signed at every attempt over the live epoch's registered
ballot keys and states that epoch's log position, so a commit between queueing and
posting only means signing again (docs/union-tools.md section 4).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from app.core.errors import ClientError, NotPermittedHere, RelayError, RelayRejected
from app.core.ports import Context, Groups
from app.core.store import ballots as ballot_store
from app.core.store import union_reports as store
from app.core.store.union_reports import ReportStatus
from crypto.ballot.blsag import Ring, key_image
from crypto.ballot.keys import BallotKeyPair
from crypto.ballot.transport import seal_vote_item
from crypto.errors import MalformedData, RemoteError
from crypto.union.reports import (
    CONTENT_TYPE_RATE_REPORT,
    ClientReport,
    RateReport,
    Report,
    scope_digest,
    sign_report,
)
from crypto.wire import Reader

__all__ = ["ATTEMPTS", "REPORT_DELAY_MS", "ReportReceipt", "ReportSender"]

ATTEMPTS = 3
"""A report is signed and posted again at most this often when the epoch moves on."""

REPORT_DELAY_MS = (2_000, 10_000)
"""Range of the random delay before a report goes out, unless the caller chooses one
(as for votes): the post's moment says less about the member's other activity."""


@dataclass(frozen=True)
class ReportReceipt:
    """What ``submit`` did: the revision it gave the report, and whether the relay took it
    (False: it stays queued and goes out with a later sync)."""

    revision: int
    posted: bool
    not_before: int
    """When it goes out (ms) if not posted yet: after its delay, with the engine's
    next upkeep step (``flush``)."""


def _decode(content_type: int, scope: str, fields: bytes) -> Report:
    reader = Reader(fields)
    report: Report
    if content_type == CONTENT_TYPE_RATE_REPORT:
        report = RateReport.decode_fields(scope, reader)
    else:
        report = ClientReport.decode_fields(scope, reader)
    reader.finish()
    return report


class ReportSender:
    """Queues and posts this member's anonymous reports (both kinds)."""

    def __init__(self, ctx: Context, groups: Groups) -> None:
        self._ctx = ctx
        self._groups = groups

    def keypair(self, group_id: bytes) -> BallotKeyPair:
        secret = ballot_store.ballot_key_secret(self._ctx.db, group_id)
        if secret is None:
            raise NotPermittedHere(
                "you have no ballot key in this group yet; sync once and try again"
            )
        return BallotKeyPair.from_secret(secret)

    def my_key_image(self, group_id: bytes, content_type: int, scope: str) -> bytes | None:
        """Our key image in a scope (to mark our own report), or None without a key."""
        secret = ballot_store.ballot_key_secret(self._ctx.db, group_id)
        if secret is None:
            return None
        return key_image(secret, scope_digest(content_type, group_id, scope))

    def _next_revision(self, group_id: bytes, report: Report) -> int:
        """One more than any revision we queued here or (after a restore) the group saw
        under our key image in this scope: a later report replaces the earlier."""
        db = self._ctx.db
        image = self.my_key_image(group_id, report.content_type, report.scope)
        known = [
            store.max_own_revision(db, group_id, report.content_type, report.scope),
            None
            if image is None
            else store.max_seen_revision(db, group_id, report.content_type, report.scope, image),
        ]
        revisions = [r for r in known if r is not None]
        return max(revisions) + 1 if revisions else 0

    def _delay(self, delay_ms: int | None) -> int:
        if delay_ms is None:
            low, high = REPORT_DELAY_MS
            delay_ms = low + int.from_bytes(self._ctx.rng(4), "big") % (high - low + 1)
        return max(0, delay_ms)

    async def submit(
        self, group_id: bytes, report: Report, *, delay_ms: int | None = None
    ) -> ReportReceipt:
        """Queue ``report`` (replacing one of ours in the same scope) and post it after
        ``delay_ms`` (default: random within ``REPORT_DELAY_MS``; 0: now). A report still
        waiting goes out with ``flush`` (the engine's upkeep after each sync)."""
        with contextlib.suppress(RelayError):
            await self._groups.sync_group(group_id)  # offline: it waits in the queue
        session = self._groups.require_active(group_id)
        pair = self.keypair(group_id)
        if pair.public not in session.state.ballot_roster():
            raise NotPermittedHere(
                "your ballot key is not registered in this group yet; sync and try again"
            )
        db = self._ctx.db
        now = self._ctx.now()
        not_before = now + self._delay(delay_ms)
        with db.transaction():
            revision = self._next_revision(group_id, report)
            row_id = store.insert_pending(
                db,
                group_id,
                report.content_type,
                report.scope,
                revision,
                report.encode_fields(),
                now,
                not_before,
            )
        if not_before > now:
            return ReportReceipt(revision, False, not_before)
        posted = await self._deliver(row_id)
        if posted:
            with contextlib.suppress(RelayError):
                await self._groups.sync_group(group_id)
        return ReportReceipt(revision, posted, not_before)

    async def flush(self, group_id: bytes) -> int:
        """Post every queued report of the group whose delay is over; how many stay
        queued (waiting for their delay or for the relay)."""
        for row_id in store.pending_ids(self._ctx.db, group_id, self._ctx.now()):
            await self._deliver(row_id)
        return len(store.pending_ids(self._ctx.db, group_id))

    def _fail(self, row_id: int) -> None:
        with self._ctx.db.transaction():
            store.mark_pending(self._ctx.db, row_id, ReportStatus.FAILED)

    def _seal(self, row_id: int) -> tuple[bytes, bytes, bytes, str] | None:
        """(item, mailbox id, capability, relay url) for the live epoch, or None when the
        row is no longer pending or must wait (a re-key after someone left)."""
        row = store.load_pending(self._ctx.db, row_id)
        if row is None or row.status is not ReportStatus.PENDING:
            return None
        session = self._groups.session(row.group_id)
        if not session.active:
            self._fail(row_id)
            return None
        keys = session.keys
        if keys is None or session.state.needs_rekey:
            return None
        roster = session.state.ballot_roster()
        pair = self.keypair(row.group_id)
        if pair.public not in roster:
            self._fail(row_id)
            raise NotPermittedHere("your ballot key is no longer registered in this group")
        try:
            report = _decode(row.content_type, row.scope, row.fields)
        except MalformedData as exc:
            self._fail(row_id)
            raise ClientError(f"a queued report is not valid: {exc}") from None
        payload = sign_report(
            report,
            row.group_id,
            session.state.seq,
            row.revision,
            Ring.of(roster),
            pair,
            self._ctx.rng,
        )
        item = seal_vote_item(keys, payload, self._ctx.rng)
        return item, session.mailbox_id, keys.mailbox_cap, session.relay_url

    async def _deliver(self, row_id: int) -> bool:
        """Sign, seal and post one queued report; True once the relay took it.
        ``RelayUnavailable`` propagates (the report stays queued)."""
        for _ in range(ATTEMPTS):
            sealed = self._seal(row_id)
            if sealed is None:
                row = store.load_pending(self._ctx.db, row_id)
                return row is not None and row.status is ReportStatus.SENT
            item, mailbox_id, cap, relay_url = sealed
            # A connection of its own: the relay cannot tie the report to the keep-alive
            # connection this client syncs over (its IP address it still sees).
            client = self._ctx.relays.fresh(relay_url)
            try:
                seq = await client.post_item(mailbox_id, cap, item)
            except RelayRejected as exc:
                if exc.code != "stale_epoch":
                    self._fail(row_id)
                    raise
                row = store.load_pending(self._ctx.db, row_id)
                if row is not None:
                    await self._groups.sync_group(row.group_id)
                continue
            finally:
                await client.aclose()
            with self._ctx.db.transaction():
                store.mark_pending(self._ctx.db, row_id, ReportStatus.SENT, seq)
            return True
        return False

    async def flush_quietly(self, group_id: bytes) -> None:
        """The engine's step after a group sync: post what waits; failures are warnings."""
        try:
            await self.flush(group_id)
        except RelayError:
            return
        except (RemoteError, ClientError) as exc:
            self._ctx.events.warn(group_id, "report-send-failed", str(exc))
