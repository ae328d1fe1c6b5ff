"""Group sessions and their mailboxes: loading a group's live state, syncing its mailbox
to the end, and appending to its log with compare-and-set (docs/protocol.md 7.2, 7.4).

The ``Groups`` and ``Commits`` interfaces of ``app.core.ports``, for the other parts.
Not thread-safe: use it from one asyncio loop.
"""

from __future__ import annotations

import asyncio

from app.core.errors import NotFound, NotPermittedHere, RelayError, RelayRejected, RelayUnavailable
from app.core.events import (
    Event,
    GroupChanged,
    MessageAdded,
    MessageStatusChanged,
    RemovedFromGroup,
    SyncProgress,
)
from app.core.group_session import GroupSession, Outcome
from app.core.ports import CommitMaker, Context
from app.core.relay_health import RelayHealth
from app.core.rewind import (
    REWIND_KIND,
    Reread,
    detect,
    rereading,
    restart_point,
    restarted,
    seen,
)
from app.core.signature_checks import SignatureChecker
from app.core.status import MessageStatus
from app.core.store import groups, relay_marks
from app.core.store import recovery as recovery_store
from crypto.commit import seal_commit
from crypto.group_log import GroupState, LogEntry, Role, author_entry
from crypto.key_schedule import EpochKeys, cap_hash

__all__ = ["COMMIT_ATTEMPTS", "GroupSync"]

COMMIT_ATTEMPTS = 6


class _ForgedInBatch(Exception):
    """A signature checked late did not verify: roll the batch back and read it again."""


class GroupSync:
    """Live group sessions of one profile, their mailbox sync and their commits."""

    def __init__(
        self, ctx: Context, health: RelayHealth, signatures: SignatureChecker | None = None
    ) -> None:
        self._ctx = ctx
        self._health = health
        self._sessions: dict[bytes, GroupSession] = {}
        self._checker = signatures or SignatureChecker()
        # One sender per group at a time keeps the outbox in row order (section 7.3).
        self._send_locks: dict[bytes, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}

    def close(self) -> None:
        """Stop the signature worker (the engine is closing)."""
        self._checker.close()

    def forget(self, group_id: bytes) -> None:
        """Drop the in-memory session (it is loaded again from the database)."""
        self._sessions.pop(group_id, None)

    def send_lock(self, group_id: bytes) -> asyncio.Lock:
        """The lock held while delivering a group's outbox (one per group and loop: tests
        and the CLI run a fresh loop per call)."""
        loop = asyncio.get_running_loop()
        entry = self._send_locks.get(group_id)
        if entry is None or entry[0] is not loop:
            entry = (loop, asyncio.Lock())
            self._send_locks[group_id] = entry
        return entry[1]

    def session(self, group_id: bytes) -> GroupSession:
        session = self._sessions.get(group_id)
        if session is None:
            try:
                session = GroupSession.load(self._ctx.db, group_id)
            except KeyError:
                raise NotFound("no such group") from None
            self._sessions[group_id] = session
        return session

    def group_state(self, group_id: bytes) -> tuple[GroupState, str]:
        session = self.session(group_id)
        return session.state, session.status

    def require_active(self, group_id: bytes) -> GroupSession:
        """The group's session, or ``NotPermittedHere`` once we are no longer a member."""
        session = self.session(group_id)
        if not session.active:
            raise NotPermittedHere(f"you are no longer a member of {session.state.name!r}")
        return session

    # -- commits -------------------------------------------------------------------------

    async def commit(self, group_id: bytes, make: CommitMaker) -> tuple[LogEntry, bytes, int]:
        """Author, seal and append one log entry with compare-and-set, retrying races.

        ``make`` sees the freshly synced state and returns the entry's kind and body, or
        raises ``ClientError`` when the change no longer makes sense.
        Returns the entry, its epoch secret and its relay sequence number.
        """
        for _ in range(COMMIT_ATTEMPTS):
            await self.sync_group(group_id)
            session = self.require_active(group_id)
            if session.keys is None:
                raise NotPermittedHere("the group has no live epoch")
            kind, body = make(session.state)
            entry, secret, new_state = author_entry(
                session.state, self._ctx.identity, kind, body, self._ctx.now(), self._ctx.rng
            )
            item = seal_commit(session.keys, entry, new_state, secret, self._ctx.rng)
            new_keys = EpochKeys.derive(group_id, entry.seq, secret)
            try:
                seq = await self._ctx.relays.get(session.relay_url).post_commit(
                    session.mailbox_id,
                    session.keys.mailbox_cap,
                    session.state.head,
                    entry.hash,
                    cap_hash(new_keys.mailbox_cap),
                    item,
                )
            except RelayRejected as exc:
                if exc.code not in ("head_mismatch", "stale_epoch"):
                    raise
                # Someone else committed first, or our own earlier attempt landed and its
                # answer was lost: catch up and look for our entry before trying again.
                await self.sync_group(group_id)
                landed = self._landed(group_id, entry)
                if landed is not None:
                    return entry, secret, landed
                continue
            await self.sync_group(group_id)
            return entry, secret, seq
        raise RelayError("the group changed too often while committing; try again")

    def _landed(self, group_id: bytes, entry: LogEntry) -> int | None:
        row = groups.logged_entry(self._ctx.db, group_id, entry.seq)
        if row is not None and row.entry == entry.encode():
            return row.relay_seq
        return None

    def require_organizer(self, state: GroupState) -> None:
        if state.role_of(self._ctx.identity.public_key) != Role.ORGANIZER:
            raise NotPermittedHere("only organizers can do that")

    async def sync_group(
        self, group_id: bytes, *, wait: float = 0, warnings: list[str] | None = None
    ) -> tuple[int, int]:
        """Process the group mailbox up to its end; returns (messages, commits)."""
        messages = commits = 0
        first = True
        strict = False  # check each signature before use (after a forged one)
        reread: Reread | None = None
        while True:
            session = self.session(group_id)
            if not session.active or session.keys is None or self._paused(group_id):
                break
            relay = self._ctx.relays.get(session.relay_url)
            mark, after = relay_marks.load_mark(self._ctx.db, group_id), session.cursor
            try:
                result = await relay.fetch(
                    session.mailbox_id,
                    session.keys.mailbox_cap,
                    after,
                    wait=wait if first else 0,
                )
            except RelayUnavailable:
                self._health.down(session.relay_url)
                raise
            except RelayRejected as exc:
                if exc.code == "epoch_ended":
                    detail = "the relay closed our epoch but withheld the commit that closed it"
                    self._ctx.events.warn(group_id, "withheld-commit", detail)
                    if warnings is not None:
                        warnings.append(detail)
                    break
                raise
            self._health.online(session.relay_url)
            first = False
            # Another task may have processed some of these while we waited on the relay.
            session = self.session(group_id)
            rewound = detect(mark, after, result)
            if rewound is not None and reread is None and session.keys is not None:
                # Sequence numbers were handed out again: read the live epoch once more.
                # Flagged until done, so a re-read cut short is started again next sync.
                reread = Reread(restarted(mark, result))
                self._ctx.events.warn(group_id, REWIND_KIND, rewound)
                if warnings is not None:
                    warnings.append(rewound)
                with self._ctx.db.transaction():
                    session.cursor = restart_point(self._ctx.db, group_id, session.keys.epoch)
                    groups.set_cursor(self._ctx.db, group_id, session.cursor)
                    relay_marks.save_mark(self._ctx.db, group_id, rereading(mark))
                continue
            if reread is not None:
                reread.saw(result)
            elif seen(mark, result) != mark:
                with self._ctx.db.transaction():
                    relay_marks.save_mark(self._ctx.db, group_id, seen(mark, result))
            fresh = [(seq, item) for seq, item in result.items if seq > session.cursor]
            if not fresh:
                if result.empty and result.last > session.cursor:
                    detail = (
                        f"the relay reports items up to {result.last} but delivered none "
                        f"after {session.cursor}: it may be withholding a commit"
                    )
                    self._ctx.events.warn(group_id, "withheld-items", detail)
                    if warnings is not None:
                        warnings.append(detail)
                if result.empty or not session.active:
                    break
                continue
            events: list[Event] = []
            notices: list[tuple[str, str]] = []
            batch_messages = batch_commits = 0
            stuck = False
            checks = None if strict else self._checker.batch(len(fresh))
            try:
                with self._ctx.db.transaction():
                    for seq, item in fresh:
                        outcome = session.process(
                            self._ctx.db, self._ctx.identity, seq, item, self._ctx.now(), checks
                        )
                        if outcome.warning is not None:
                            notices.append((outcome.outcome.value, outcome.warning))
                        events.extend(outcome.changed)
                        if outcome.message is not None:
                            batch_messages += 1
                            events.append(MessageAdded(outcome.message))
                        if outcome.outcome is Outcome.COMMIT:
                            relay_marks.forget_sent_items(self._ctx.db, group_id)
                            batch_commits += 1
                            events.append(GroupChanged(group_id))
                        elif outcome.outcome is Outcome.REMOVED:
                            batch_commits += 1
                            events.append(RemovedFromGroup(group_id))
                        elif outcome.outcome is Outcome.STUCK:
                            # The cursor stays before it; nothing after it is read until
                            # the key arrives (docs/protocol.md 7.2, app/core/key_recovery).
                            stuck = True
                            break
                    if checks is not None and not checks.all_valid():
                        raise _ForgedInBatch
                    for kind, detail in notices:
                        self._ctx.events.warn(group_id, kind, detail)
                    session.flush(self._ctx.db)
            except _ForgedInBatch:
                # Rolled back: nothing of the batch was kept or told. Read it again with
                # every signature checked before use (app/core/signature_checks.py).
                self._sessions.pop(group_id, None)
                strict = True
                continue
            except BaseException:
                # The transaction rolled back: drop the in-memory copy, reload from disk.
                self._sessions.pop(group_id, None)
                raise
            strict = False
            messages += batch_messages
            commits += batch_commits
            if warnings is not None:
                warnings.extend(detail for _, detail in notices)
            for event in events:
                self._ctx.events.emit(event)
            self._ctx.events.emit(SyncProgress(group_id, messages))
            if stuck:
                break
        if reread is not None and not self._paused(group_id):
            # Read to the end (a stuck commit stops short: the re-read resumes later).
            self._requeue_lost(group_id, reread)
        return messages, commits

    def _paused(self, group_id: bytes) -> bool:
        """Stuck before a commit we could not apply, or wedged: the mailbox has nothing
        more for us until the help mailbox brings a key or a move (app/core/key_recovery)."""
        db = self._ctx.db
        return (
            recovery_store.load_stuck(db, group_id) is not None
            or recovery_store.load_wedged(db, group_id) is not None
        )

    def _requeue_lost(self, group_id: bytes, reread: Reread) -> None:
        """After re-reading a rewound mailbox to its end: our sent messages of the live
        epoch it no longer holds go back to the outbox (the same sealed bytes), and the
        relay's new generation and last are stored."""
        session = self.session(group_id)
        lost: list[int] = []
        with self._ctx.db.transaction():
            if session.keys is not None:
                lost = reread.requeue_lost(self._ctx.db, group_id, session.keys.epoch)
            relay_marks.save_mark(self._ctx.db, group_id, reread.mark)
        for row_id in lost:
            self._ctx.events.emit(MessageStatusChanged(group_id, row_id, MessageStatus.PENDING))

    def active_group_ids(self) -> list[bytes]:
        return groups.active_group_ids(self._ctx.db)
