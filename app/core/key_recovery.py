"""Key recovery and group moves through a group's help mailbox (docs/protocol.md 4.5, 7.4.1).

A member stuck before a commit whose key box was bad asks the others for the key; every
member reads the help mailbox, warns once about each request (naming the commit's author
and the requester), and answers with its live epoch secret and the log since. An
organizer moves a group whose mailbox a rule-breaking commit wedged to a new mailbox, and
every member whose mailbox is wedged at that point follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.epoch_entry import enter_epoch
from app.core.errors import NotPermittedHere, RelayRejected
from app.core.events import GroupChanged, RemovedFromGroup
from app.core.group_sync import GroupSync
from app.core.ports import Context
from app.core.status import GroupStatus
from app.core.store import groups as group_store
from app.core.store import recovery as store
from crypto.errors import RemoteError
from crypto.group_log import EntryKind, GroupState, LogEntry, author_entry, remove_body
from crypto.group_move import move_epoch, open_group_move, seal_group_move
from crypto.help_box import HelpBox, HelpKind, open_help_item, seal_help_item
from crypto.identity import fingerprint
from crypto.key_request import (
    MAX_ANSWER_ENTRIES,
    KeyRequest,
    RequestReason,
    VerifiedAnswer,
    answer_request_id,
    open_key_answer,
    seal_key_answer,
)
from crypto.key_schedule import EpochKeys, cap_hash

__all__ = ["HELP_IDLE_MS", "REQUEST_INTERVAL_MS", "KeyRecovery"]

REQUEST_INTERVAL_MS = 10 * 60 * 1000  # a stuck member asks again this often
HELP_IDLE_MS = 30 * 1000  # the desktop loop reads a quiet help mailbox this often

_REASONS = {
    RequestReason.BOX_DID_NOT_OPEN: "the box did not open",
    RequestReason.NOT_THE_SIGNED_SECRET: "the box did not hold the signed secret",
}


@dataclass(frozen=True)
class _Item:
    seq: int
    kind: HelpKind | None  # None: not a help item we can open
    body: bytes
    problem: str | None = None


class KeyRecovery:
    """Key requests, key answers and group moves of one profile."""

    def __init__(self, ctx: Context, groups: GroupSync) -> None:
        self._ctx = ctx
        self._groups = groups

    def paused(self, group_id: bytes) -> bool:
        """The group's mailbox has nothing for us until a key answer or a move arrives."""
        db = self._ctx.db
        return store.load_stuck(db, group_id) is not None or (
            store.load_wedged(db, group_id) is not None
        )

    async def sync(
        self, group_id: bytes, warnings: list[str] | None = None, *, idle_ms: int = 0
    ) -> bool:
        """Post our key request if we are stuck, then read the help mailbox: warn about
        and answer others' requests, take an answer to ours, follow a move. A quiet group
        (neither stuck nor wedged) is read at most every ``idle_ms``. True when our
        group's epoch or mailbox changed (sync its mailbox again)."""
        db = self._ctx.db
        session = self._groups.session(group_id)
        if not session.active:
            return False
        now = self._ctx.now()
        cursor = store.help_cursor(db, group_id)
        if not self.paused(group_id) and now - cursor.checked_at < idle_ms:
            return False
        box = HelpBox.derive(group_id)
        await self._post_request_if_due(group_id, box)
        relay = self._ctx.relays.get(session.relay_url)
        try:
            result = await relay.fetch(box.mailbox_id, box.capability, cursor.cursor)
        except RelayRejected as exc:
            if exc.code != "not_found":
                raise
            result = None  # nobody has asked for anything yet
        changed = False
        if result is not None:
            items = [self._open(box, seq, raw) for seq, raw in result.items]
            held: int | None = None  # the first move we cannot judge yet
            for index, item in enumerate(items):
                if item.seq <= cursor.seen_upto and item.kind is not HelpKind.GROUP_MOVE:
                    continue  # handled when first read; only a held move is read again
                done, moved = await self._handle(group_id, box, item, items[index + 1 :], warnings)
                changed = changed or moved
                if not done and held is None:
                    held = item.seq
                with db.transaction():
                    if held is None:
                        store.set_help_cursor(db, group_id, item.seq)
                    store.set_help_seen(db, group_id, item.seq)
        with db.transaction():
            store.set_help_checked(db, group_id, now)
        if not changed:
            await self._post_request_if_due(group_id, box)  # again after a bad answer
        return changed

    # -- posting ---------------------------------------------------------------------

    async def _post(self, group_id: bytes, box: HelpBox, kind: HelpKind, body: bytes) -> None:
        """Post to the help mailbox, creating it the first time anyone needs it."""
        relay = self._ctx.relays.get(self._groups.session(group_id).relay_url)
        item = seal_help_item(box, kind, body, self._ctx.rng)
        try:
            await relay.post_item(box.mailbox_id, box.capability, item)
            return
        except RelayRejected as exc:
            if exc.code != "not_found":
                raise
        try:
            await relay.create_mailbox(box.mailbox_id, cap_hash(box.capability), bytes(32))
        except RelayRejected as exc:
            if exc.code != "exists":
                raise
        await relay.post_item(box.mailbox_id, box.capability, item)

    async def _post_request_if_due(self, group_id: bytes, box: HelpBox) -> None:
        db = self._ctx.db
        stuck = store.load_stuck(db, group_id)
        now = self._ctx.now()
        if stuck is None:
            return
        if stuck.posted_at is not None and now - stuck.posted_at < REQUEST_INTERVAL_MS:
            return
        if stuck.request is None:
            request = KeyRequest.sign(
                self._ctx.identity,
                group_id=group_id,
                epoch=stuck.epoch,
                entry_hash=stuck.entry_hash,
                request_id=self._ctx.rng(16),
                reason=RequestReason(stuck.reason),
                now=now,
            )
            encoded = request.encode()
        else:
            encoded = stuck.request
        await self._post(group_id, box, HelpKind.KEY_REQUEST, encoded)
        with db.transaction():
            store.set_posted(db, group_id, encoded, now)

    # -- reading ---------------------------------------------------------------------

    @staticmethod
    def _open(box: HelpBox, seq: int, raw: bytes) -> _Item:
        try:
            opened = open_help_item(box, raw)
        except RemoteError as exc:
            return _Item(seq, None, b"", f"{type(exc).__name__}: {exc}")
        return _Item(seq, opened.kind, opened.body)

    async def _handle(
        self,
        group_id: bytes,
        box: HelpBox,
        item: _Item,
        later: list[_Item],
        warnings: list[str] | None,
    ) -> tuple[bool, bool]:
        """(whether the item is done with, whether our group changed)."""
        try:
            if item.kind is HelpKind.KEY_REQUEST:
                await self._on_request(group_id, box, item, later, warnings)
            elif item.kind is HelpKind.KEY_ANSWER:
                return True, self._on_answer(group_id, item, warnings)
            elif item.kind is HelpKind.GROUP_MOVE:
                return self._on_move(group_id, item, warnings)
            else:
                self._warn(group_id, "bad-help-item", f"a help item: {item.problem}", warnings)
        except RemoteError as exc:
            kind = item.kind.name.lower().replace("_", "-") if item.kind else "help-item"
            self._warn(group_id, f"bad-{kind}", f"{type(exc).__name__}: {exc}", warnings)
        return True, False

    def _warn(self, group_id: bytes, kind: str, detail: str, warnings: list[str] | None) -> None:
        with self._ctx.db.transaction():
            self._ctx.events.warn(group_id, kind, detail)
        if warnings is not None:
            warnings.append(detail)

    # -- requests (someone else is stuck) --------------------------------------------

    async def _on_request(
        self,
        group_id: bytes,
        box: HelpBox,
        item: _Item,
        later: list[_Item],
        warnings: list[str] | None,
    ) -> None:
        request = KeyRequest.open(item.body)
        me = self._ctx.identity.public_key
        session = self._groups.session(group_id)
        state = session.state
        if request.group_id != group_id or request.requester == me:
            return
        if not state.is_member(request.requester) or request.epoch > state.seq:
            return  # a former member, or a commit we have not reached
        logged = group_store.logged_entry(self._ctx.db, group_id, request.epoch)
        if logged is None:
            return
        entry = LogEntry.decode(logged.entry)
        if entry.hash != request.entry_hash:
            return  # not our history: the relay is showing members different logs
        with self._ctx.db.transaction():
            first = store.mark_request_seen(self._ctx.db, group_id, request.request_id)
        if first:
            self._warn_bad_box(group_id, state, request, entry, warnings)
        if any(
            other.kind is HelpKind.KEY_ANSWER and _answers(other, request.request_id)
            for other in later
        ):
            return  # someone answered already
        await self._answer(group_id, box, request)

    def _warn_bad_box(
        self,
        group_id: bytes,
        state: GroupState,
        request: KeyRequest,
        entry: LogEntry,
        warnings: list[str] | None,
    ) -> None:
        requester = _name(state, request.requester)
        author = _name(state, entry.author)
        detail = (
            f"{requester} could not open the key for epoch {request.epoch} sealed in "
            f"{author}'s commit ({_REASONS[request.reason]}): a bad key box, from {author}'s "
            "commit or substituted by the relay"
        )
        self._warn(group_id, "bad-key-box", detail, warnings)

    async def _answer(self, group_id: bytes, box: HelpBox, request: KeyRequest) -> None:
        """No member keeps the live epoch's secret (protocol 3.1), so the answer carries a
        new epoch: this member commits a REKEY and, with its secret still in memory,
        seals the entries since the stuck commit and that secret to the requester."""
        db = self._ctx.db
        session = self._groups.session(group_id)
        if session.keys is None:
            return
        if session.state.seq + 1 - request.epoch > MAX_ANSWER_ENTRIES:
            return  # too far behind for one answer (protocol 4.5)
        entry, secret, _seq = await self._groups.commit(
            group_id, lambda state: (EntryKind.REKEY, b"")
        )
        await self._groups.sync_group(group_id)
        session = self._groups.session(group_id)
        if session.keys is None or session.state.head != entry.hash:
            return  # another commit followed ours: the requester asks again
        entries = [e for e in group_store.load_log(db, group_id) if e.seq >= request.epoch]
        body = seal_key_answer(
            self._ctx.identity, request, session.state, entries, secret, self._ctx.rng
        )
        await self._post(group_id, box, HelpKind.KEY_ANSWER, body)

    # -- answers (we are stuck) ------------------------------------------------------

    def _on_answer(self, group_id: bytes, item: _Item, warnings: list[str] | None) -> bool:
        db = self._ctx.db
        stuck = store.load_stuck(db, group_id)
        if stuck is None or stuck.request is None:
            return False
        pending = KeyRequest.open(stuck.request)
        if answer_request_id(item.body) != pending.request_id:
            return False
        session = self._groups.session(group_id)
        try:
            verified = open_key_answer(item.body, self._ctx.identity, session.state, pending)
        except RemoteError:
            # Ask again at once: others may have held back, seeing an answer follow.
            with db.transaction():
                store.set_posted(db, group_id, stuck.request, 0)
            raise
        self._apply_answer(group_id, stuck, verified, warnings)
        return True

    def _apply_answer(
        self,
        group_id: bytes,
        stuck: store.StuckCommit,
        verified: VerifiedAnswer,
        warnings: list[str] | None,
    ) -> None:
        db = self._ctx.db
        with db.transaction():
            for entry in verified.entries:
                relay_seq = stuck.relay_seq if entry.seq == stuck.epoch else None
                group_store.insert_log_entry(db, group_id, entry, relay_seq)
            enter_epoch(db, verified.state, verified.epoch_secret, self._ctx.identity.public_key)
            group_store.set_cursor(db, group_id, stuck.relay_seq)
            store.clear_stuck(db, group_id)
        self._groups.forget(group_id)
        live = verified.state.seq
        skipped = (
            f"; messages of epochs {stuck.epoch} to {live - 1} could not be read"
            if live > stuck.epoch
            else ""
        )
        detail = (
            f"received the key for epoch {live} from {_name(verified.state, verified.answerer)}"
            f"{skipped}"
        )
        self._warn(group_id, "key-recovered", detail, warnings)
        self._ctx.events.emit(GroupChanged(group_id))

    # -- moves (the mailbox is wedged) -----------------------------------------------

    def _on_move(
        self, group_id: bytes, item: _Item, warnings: list[str] | None
    ) -> tuple[bool, bool]:
        db = self._ctx.db
        session = self._groups.session(group_id)
        keys = session.keys
        if keys is None:
            return True, False
        epoch = move_epoch(item.body)
        if epoch > keys.epoch:
            return False, False  # we have not caught up with the old mailbox yet
        if epoch < keys.epoch:
            return True, False  # an old move, or one that lost to another
        wedged = store.load_wedged(db, group_id)
        if wedged is None or wedged.position != keys.epoch + 1:
            detail = "ignored a move of the group to a new mailbox: our mailbox is not wedged"
            self._warn(group_id, "group-move-ignored", detail, warnings)
            return True, False
        verified = open_group_move(item.body, keys, session.state, self._ctx.identity)
        organizer = _name(session.state, verified.entry.author)
        breaker = _name(session.state, wedged.author)
        with db.transaction():
            group_store.insert_log_entry(db, group_id, verified.entry, None)
            store.move_mailbox(db, group_id, verified.mailbox_id)
            store.clear_wedged(db, group_id)
            store.clear_stuck(db, group_id)
            if verified.epoch_secret is None:
                session.state = verified.state
                session.mark(db, GroupStatus.REMOVED)
            else:
                enter_epoch(
                    db, verified.state, verified.epoch_secret, self._ctx.identity.public_key
                )
        self._groups.forget(group_id)
        detail = (
            f"{organizer} moved the group to a new mailbox after a rule-breaking commit "
            f"(claimed by {breaker}) at epoch {wedged.position} ({wedged.reason}); "
            "that commit is ignored"
        )
        self._warn(group_id, "group-moved", detail, warnings)
        if verified.epoch_secret is None:
            self._ctx.events.emit(RemovedFromGroup(group_id))
        else:
            self._ctx.events.emit(GroupChanged(group_id))
        return True, True

    async def recover(self, group_id: bytes, remove: bytes | None = None) -> None:
        """As an organizer, move a wedged group to a new mailbox (protocol 7.4.1): a REKEY,
        or a REMOVE of ``remove`` (typically the rule-breaker), sealed under our epoch."""
        db = self._ctx.db
        await self._groups.sync_group(group_id)  # find the wedge if we have not yet
        session = self._groups.require_active(group_id)
        if store.load_wedged(db, group_id) is None:
            raise NotPermittedHere("the group's mailbox is not wedged: nothing to recover")
        self._groups.require_organizer(session.state)
        keys = session.keys
        if keys is None:
            raise NotPermittedHere("the group has no live epoch")
        if remove is None:
            kind, body = EntryKind.REKEY, b""
        else:
            kind, body = EntryKind.REMOVE, remove_body(remove)
        identity, rng = self._ctx.identity, self._ctx.rng
        entry, secret, new_state = author_entry(
            session.state, identity, kind, body, self._ctx.now(), rng
        )
        new_keys = EpochKeys.derive(group_id, entry.seq, secret)
        mailbox_id = rng(16)
        relay = self._ctx.relays.get(session.relay_url)
        await relay.create_mailbox(mailbox_id, cap_hash(new_keys.mailbox_cap), entry.hash)
        move = seal_group_move(identity, keys, entry, new_state, secret, mailbox_id, rng)
        box = HelpBox.derive(group_id)
        await self._post(group_id, box, HelpKind.GROUP_MOVE, move)
        await self.sync(group_id)


def _answers(item: _Item, request_id: bytes) -> bool:
    try:
        return answer_request_id(item.body) == request_id
    except RemoteError:
        return False


def _name(state: GroupState, identity_pk: bytes) -> str:
    if state.is_member(identity_pk):
        return state.member(identity_pk).name
    return f"someone outside the roster ({fingerprint(identity_pk).hex()[:16]})"
