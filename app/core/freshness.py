"""Bounded exposure to a hidden removal (docs/protocol.md section 4.4).

Three jobs, for every group this profile is in:

- **publish**: an organizer's client posts a signed head (``crypto.freshness``) every
  ``PUBLISH_EVERY_MS`` while online and after the log moved, and counts its own heads;
- **confirm**: received heads, and log entries only an organizer may author, give the
  newest time this profile can confirm it held the group's newest log entry; when that is
  older than ``HOLD_AFTER_MS`` (T) the group's sends are *held* (``SendGate.check``
  raises ``SendHeld``; the outbox keeps the rows pending, in order) until a newer head
  arrives or the user says "send anyway" (``send_anyway``, ``caucus send --unconfirmed``);
- **report**: when a REMOVE or LEAVE is learned, our messages sealed in the epoch before
  it and sent after it are named, per message and in one warning: they were readable by
  the member who was gone.

The item handler for head items registers itself when this module is imported.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection
from dataclasses import dataclass

from app.core.content_handlers import AnonymousItem, register_item
from app.core.errors import RelayError, RelayRejected
from app.core.events import GroupChanged
from app.core.group_session import GroupSession
from app.core.group_sync import GroupSync
from app.core.ports import Context
from app.core.send_gate import SendHeld
from app.core.store import freshness as store
from app.core.store import groups as group_store
from crypto.ballot.transport import CONTENT_TYPE_CANCEL, CONTENT_TYPE_CLOSE
from crypto.document.announce import CONTENT_TYPE_ACKNOWLEDGEMENT
from crypto.freshness import check_head, open_head_item, seal_head_item, sign_head
from crypto.group_log import AUTHOR_ROLE, EntryKind, GroupState, LogEntry, Role
from crypto.items import ItemType
from crypto.log_entry import RemoveBody

__all__ = [
    "HOLD_AFTER_MS",
    "PUBLISH_EVERY_MS",
    "UNHELD_TYPES",
    "Freshness",
    "FreshnessView",
]

HOLD_AFTER_MS = 10 * 60 * 1000
"""T: sends are held once the newest confirmed organizer head is older than this."""

PUBLISH_EVERY_MS = HOLD_AFTER_MS // 2
"""An online organizer publishes a head this often, so one late head never holds."""

UNHELD_TYPES: frozenset[int] = frozenset(
    {CONTENT_TYPE_CLOSE, CONTENT_TYPE_CANCEL, CONTENT_TYPE_ACKNOWLEDGEMENT}
)
"""Content types never held: a ballot's close or cancellation, a document's
acknowledgement carry only the id of something every member of the epoch already has,
nothing a removed member could learn from; holding them would stall a ballot whose
organizers are away. A queue holding anything else is held whole (rows keep their order)."""


@dataclass(frozen=True)
class FreshnessView:
    """A group's freshness as the CLI and the desktop app show it."""

    group_id: bytes
    confirmed_at: int
    """Newest confirmed organizer head (ms), 0 if none."""
    held: bool
    override_until: int
    bound_ms: int = HOLD_AFTER_MS


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def _is_organizer(state: GroupState, me: bytes) -> bool:
    return state.is_member(me) and state.role_of(me) == Role.ORGANIZER


def _receive_head(item: AnonymousItem) -> str | None:
    """A head item in the live epoch: verified, checked against our state (a fork is
    ``ForkDetected``), then counted at the earlier of its time and ours (a clock ahead of
    ours confirms no later than now)."""
    keys = item.keys
    head = open_head_item(keys, item.item)
    check_head(head, item.state)
    store.confirm(item.db, item.group_id, min(head.issued_at, item.now), head.author)
    return None


register_item(int(ItemType.HEAD), _receive_head)


class Freshness:
    """Heads, holds and exposure reports of one profile (the outbox's ``SendGate``)."""

    def __init__(self, ctx: Context, groups: GroupSync) -> None:
        self._ctx = ctx
        self._groups = groups

    # -- reading ----------------------------------------------------------------------

    def status(self, group_id: bytes) -> FreshnessView:
        row = store.load(self._ctx.db, group_id)
        now = self._ctx.now()
        return FreshnessView(
            group_id, row.confirmed_at, not self._confirmed(row, now), row.override_until
        )

    @staticmethod
    def _confirmed(row: store.FreshnessRow, now: int) -> bool:
        return now - row.confirmed_at <= HOLD_AFTER_MS or now < row.override_until

    # -- the gate ---------------------------------------------------------------------

    async def check(self, group_id: bytes, content_types: Collection[int]) -> None:
        """``SendGate``: a queue of bare markers only (``UNHELD_TYPES``) always goes; an
        organizer publishes (its own head counts); a member whose newest confirmed head
        is older than T first syncs the group for a newer one, then holds."""
        session = self._groups.session(group_id)
        if not session.active or UNHELD_TYPES.issuperset(content_types):
            return  # the outbox refuses an inactive group on its own terms
        if _is_organizer(session.state, self._ctx.identity.public_key):
            await self.publish(group_id)
        self.scan(group_id)
        if self._confirmed(store.load(self._ctx.db, group_id), self._ctx.now()):
            return
        with contextlib.suppress(RelayError):  # nothing newer to learn now: hold below
            await self._groups.sync_group(group_id)
        self.scan(group_id)
        row = store.load(self._ctx.db, group_id)
        if self._confirmed(row, self._ctx.now()):
            return
        detail = self._hold(group_id, row)
        raise SendHeld(detail)

    def send_anyway(self, group_id: bytes) -> None:
        """The user's explicit override: the group's queue goes out for the next T even
        though it is not confirmed current."""
        self._groups.require_active(group_id)
        with self._ctx.db.transaction():
            store.set_override(self._ctx.db, group_id, self._ctx.now() + HOLD_AFTER_MS)

    def _hold(self, group_id: bytes, row: store.FreshnessRow) -> str:
        """The hold's message; warned once per hold (until a newer head ends it)."""
        name = self._groups.session(group_id).state.name
        since = _when(row.confirmed_at) if row.confirmed_at else "never"
        detail = (
            f"cannot confirm {name!r} is current (newest organizer head: {since}; "
            f"the bound is {HOLD_AFTER_MS // 60000} minutes): sending is held and messages "
            "stay queued until an organizer's client confirms it, or you send anyway"
        )
        if row.held_since is None:
            with self._ctx.db.transaction():
                store.set_held(self._ctx.db, group_id, self._ctx.now())
            self._ctx.events.warn(group_id, "unconfirmed", detail)
        return detail

    # -- upkeep -----------------------------------------------------------------------

    async def maintain(self, group_id: bytes) -> None:
        """Every sync pass or tick: publish when due, check new log entries, and warn
        once when the group becomes unconfirmed."""
        session = self._groups.session(group_id)
        if not session.active:
            return
        if _is_organizer(session.state, self._ctx.identity.public_key):
            await self.publish(group_id)
        self.scan(group_id)
        row = store.load(self._ctx.db, group_id)
        if not self._confirmed(row, self._ctx.now()):
            self._hold(group_id, row)

    async def publish(self, group_id: bytes, *, force: bool = False, again: bool = True) -> bool:
        """Post our head if we organize the group and it is due (the log moved since our
        last head, or ``PUBLISH_EVERY_MS`` passed); True if one was posted.

        A relay answering ``stale_epoch`` has a commit we have not processed: catch up
        and try once more in the new epoch (if we still organize it)."""
        session = self._groups.session(group_id)
        keys, state = session.keys, session.state
        me = self._ctx.identity.public_key
        if keys is None or not session.active or not _is_organizer(state, me):
            return False
        now = self._ctx.now()
        row = store.load(self._ctx.db, group_id)
        fresh = row.published_seq == state.seq and now - row.published_at < PUBLISH_EVERY_MS
        if fresh and not force:
            return False
        item = seal_head_item(keys, sign_head(self._ctx.identity, state, now), self._ctx.rng)
        relay = self._ctx.relays.get(session.relay_url)
        try:
            await relay.post_item(session.mailbox_id, keys.mailbox_cap, item)
        except RelayRejected as exc:
            if exc.code != "stale_epoch" or not again:
                raise
            await self._groups.sync_group(group_id)
            return await self.publish(group_id, force=force, again=False)
        with self._ctx.db.transaction():
            store.set_published(self._ctx.db, group_id, now, state.seq)
            store.confirm(self._ctx.db, group_id, now, me)
        return True

    # -- the log: organizer entries confirm, removals expose ---------------------------

    def scan(self, group_id: bytes) -> None:
        """Go through log entries not yet checked: an entry only an organizer may author
        confirms the group at its time; a REMOVE or LEAVE names our messages it exposed."""
        session = self._groups.session(group_id)
        db, now = self._ctx.db, self._ctx.now()
        row = store.load(db, group_id)
        last = session.state.seq
        if row.scanned_seq >= last:
            return
        warnings: list[str] = []
        with db.transaction():
            for seq in range(row.scanned_seq + 1, last + 1):
                logged = group_store.logged_entry(db, group_id, seq)
                if logged is None:
                    continue
                entry = LogEntry.decode(logged.entry)
                kind = EntryKind(entry.kind)
                if kind is EntryKind.CREATE or AUTHOR_ROLE.get(kind) is Role.ORGANIZER:
                    store.confirm(db, group_id, min(entry.timestamp, now), entry.author)
                if kind in (EntryKind.REMOVE, EntryKind.LEAVE):
                    warning = self._exposure(session, entry)
                    if warning is not None:
                        warnings.append(warning)
            store.set_scanned(db, group_id, last)
        for warning in warnings:
            self._ctx.events.warn(group_id, "exposed-after-removal", warning)
        if warnings:
            self._ctx.events.emit(GroupChanged(group_id))  # views re-read the marked messages

    def _exposure(self, session: GroupSession, entry: LogEntry) -> str | None:
        """Our messages sealed in the epoch before ``entry`` and sent at or after its
        time: every member of that epoch could read them, the one ``entry`` removed too."""
        db, me = self._ctx.db, self._ctx.identity.public_key
        gone = RemoveBody.decode(entry.body).identity_pk if entry.kind == EntryKind.REMOVE else None
        gone = entry.author if gone is None else gone
        if gone == me:
            return None
        exposed = store.exposed_messages(db, session.group_id, me, entry.seq - 1, entry.timestamp)
        if not exposed:
            return None
        before = GroupState.replay(group_store.load_log(db, session.group_id, upto=entry.seq - 1))
        name = before.member(gone).name if before.is_member(gone) else "a former member"
        what = "removal" if entry.kind == EntryKind.REMOVE else "leaving"
        at = _when(entry.timestamp)
        for message in exposed:
            store.mark_exposed(
                db, message.row_id, f"readable by {name}, gone since {at} (a hidden {what})"
            )
        ids = ", ".join(f"#{m.row_id}" for m in exposed)
        count = len(exposed)
        plural = "message" if count == 1 else "messages"
        return (
            f"{count} {plural} you sent after {name}'s {what} at {at} "
            f"{'was' if count == 1 else 'were'} readable by {name} "
            f"(the relay withheld the change from you): {ids}"
        )
