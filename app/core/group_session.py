"""One group's live state in the client, and how a fetched mailbox item changes it.

``GroupSession`` holds the validated ``GroupState``, the live epoch keys and the ratchet
chains in memory; ``process`` applies one relay item and writes its effects through the
open database transaction of the caller, so a batch of items and the cursor that follows
them commit together (a crash mid-sync neither loses nor duplicates anything).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from app.core import attachment_receive, delivery_keys, log_lines
from app.core.content_handlers import HANDLERS, ITEM_HANDLERS, AnonymousItem, Received
from app.core.database import Database
from app.core.epoch_entry import enter_epoch
from app.core.errors import StaleSession
from app.core.events import Event
from app.core.message_kinds import classify
from app.core.signature_checks import CHECKED_LATE, SignatureBatch
from app.core.status import GroupStatus, MessageStatus
from app.core.store import conversation as conversation_store
from app.core.store import freshness as freshness_store
from app.core.store import groups as store
from app.core.store import messages as message_store
from app.core.store import recovery as recovery_store
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.attachment import AttachmentBody
from crypto.ballot.transport import open_inner
from crypto.commit import open_commit, open_epoch_delivery
from crypto.content import ContentType, TextBody
from crypto.conversation import ReplyBody
from crypto.errors import (
    DecryptionFailed,
    ForkDetected,
    MalformedData,
    RemoteError,
    Replay,
)
from crypto.group_log import GroupState, LogEntry, Role
from crypto.identity import Identity, fingerprint
from crypto.items import ItemType, peek_item
from crypto.key_request import RequestReason
from crypto.key_schedule import EpochKeys
from crypto.message import MessageEnvelope, OpenedMessage, decrypt_message
from crypto.ratchet import ReceiveChain, SendChain

__all__ = ["UNKNOWN_HEAD", "GroupSession", "Outcome", "ProcessResult"]


UNKNOWN_HEAD = b"\xff" * 32
"""The sender head a joiner holds for each member already in the group: their messages
from before the join never reach it (the welcome carries no heads), so the first one it
sees from them cannot be checked against the one before; every later one is."""


class Outcome(Enum):
    MESSAGE = "message"
    OWN_MESSAGE = "own-message"
    COMMIT = "commit"
    REMOVED = "removed"
    DUPLICATE = "duplicate"
    ANONYMOUS = "anonymous"
    REJECTED = "rejected"
    STUCK = "stuck"  # a valid commit whose key box for us was bad (protocol 7.2)


@dataclass(frozen=True)
class ProcessResult:
    outcome: Outcome
    message: MessageView | None = None
    warning: str | None = None
    entry: LogEntry | None = None
    changed: tuple[Event, ...] = ()


@dataclass
class GroupSession:
    """Mutable runtime of one group; persisted through ``Database`` on every change."""

    group_id: bytes
    relay_url: str
    mailbox_id: bytes
    cursor: int
    status: GroupStatus
    state: GroupState
    keys: EpochKeys | None
    send_chain: SendChain | None = None
    recv_chains: dict[int, ReceiveChain] = field(default_factory=dict)
    dirty_chains: set[int] = field(default_factory=set)
    sender_heads: dict[bytes, bytes] = field(default_factory=dict)
    dirty_heads: set[bytes] = field(default_factory=set)
    fingerprints: dict[bytes, str] = field(default_factory=dict)
    unindexed: list[tuple[int, str]] = field(default_factory=list)
    my_owner: tuple[GroupState, bytes] | None = None  # (state, whose messages are "mine")
    confirmation: tuple[int, bytes] | None = None
    """The newest organizer-signed time seen since the last flush, and its organizer:
    written once per batch (``flush``): the end state of writing each one in order."""

    # -- loading ----------------------------------------------------------------------

    @classmethod
    def load(cls, db: Database, group_id: bytes) -> GroupSession:
        row = store.load_group(db, group_id)
        if row is None:
            raise KeyError(group_id)
        state = GroupState.replay(store.load_log(db, group_id))
        keys = store.load_epoch_keys(db, group_id)
        return cls(
            group_id,
            row.relay_url,
            row.mailbox_id,
            row.cursor,
            row.status,
            state,
            keys,
            send_chain=store.load_send_chain(db, group_id),
            recv_chains=store.load_recv_chains(db, group_id),
            sender_heads=store.load_sender_heads(db, group_id),
        )

    @property
    def active(self) -> bool:
        return self.status == GroupStatus.ACTIVE and self.keys is not None

    # -- epochs -----------------------------------------------------------------------

    def enter_epoch(self, db: Database, secret: bytes, me_pk: bytes) -> None:
        """Switch to the epoch of the state's last entry; delete all older key material,
        keep the new epoch's keys and chains but not ``secret`` (protocol 3.1), and
        delete the delivery keys nothing can be sealed to any more (protocol 3.2)."""
        entered = enter_epoch(db, self.state, secret, me_pk)
        self.keys = entered.keys
        self.send_chain = entered.send_chain
        self.recv_chains = dict(entered.recv_chains)
        self.dirty_chains.clear()
        delivery_keys.settle(db, self.state, me_pk)

    def store_entry(self, db: Database, entry: LogEntry, relay_seq: int | None) -> None:
        store.insert_log_entry(db, self.group_id, entry, relay_seq)

    def mark(self, db: Database, status: str) -> None:
        """We are no longer a member: the group moves to ``status`` (along
        ``GROUP_TRANSITIONS``) and every epoch secret and chain is deleted."""
        new = GroupStatus(status)
        store.set_status(db, self.group_id, self.status, new)
        self.status = new
        self.keys = None
        self.send_chain = None
        self.recv_chains.clear()
        self.dirty_chains.clear()
        store.delete_key_material(db, self.group_id)
        delivery_keys.forget_group(db, self.group_id)

    def stored_send_chain(self, db: Database, me: Identity) -> SendChain:
        """Our send chain as the database holds it now, for the live epoch.

        Call it inside the sealing transaction: the database, not this object, is the
        truth, so two connections to one profile can never seal with one counter twice.
        Raises ``StaleSession`` when the database's live epoch is not this session's.
        """
        if self.keys is None:
            raise RuntimeError("no live epoch")
        if store.live_epoch(db, self.group_id) != self.keys.epoch:
            raise StaleSession(
                "the group changed in another connection to this profile; open it again"
            )
        chain = store.load_send_chain(db, self.group_id)
        if chain is None or chain.epoch != self.keys.epoch:
            raise StaleSession("the group's send chain is not of its live epoch; open it again")
        self.send_chain = chain
        return chain

    def save_send_chain(self, db: Database, chain: SendChain) -> None:
        self.send_chain = chain
        store.save_send_chain(db, self.group_id, chain)

    def flush(self, db: Database) -> None:
        """Write the receive chains changed since the last flush, the texts of the
        messages stored since into the full-text index, and the cursor."""
        message_store.index_texts(db, self.unindexed)
        self.unindexed.clear()
        self._write_confirmation(db)
        store.save_recv_chains(
            db, self.group_id, {index: self.recv_chains[index] for index in self.dirty_chains}
        )
        self.dirty_chains.clear()
        store.save_sender_heads(
            db, self.group_id, {pk: self.sender_heads[pk] for pk in self.dirty_heads}
        )
        self.dirty_heads.clear()
        store.set_cursor(db, self.group_id, self.cursor)

    def _confirm(self, at: int, organizer: bytes) -> None:
        """An organizer's message signed at ``at``: kept if newer than the batch's best
        (the first of equal times wins, as ``freshness.confirm`` in order would)."""
        if self.confirmation is None or at > self.confirmation[0]:
            self.confirmation = (at, organizer)

    def _write_confirmation(self, db: Database) -> None:
        if self.confirmation is not None:
            freshness_store.confirm(db, self.group_id, *self.confirmation)
            self.confirmation = None

    def _fingerprint(self, identity_pk: bytes) -> str:
        cached = self.fingerprints.get(identity_pk)
        if cached is None:
            cached = self.fingerprints[identity_pk] = fingerprint(identity_pk).hex()
        return cached

    # -- processing -------------------------------------------------------------------

    def process(
        self,
        db: Database,
        me: Identity,
        seq: int,
        item: bytes,
        now: int,
        checks: SignatureBatch | None = None,
    ) -> ProcessResult:
        """Apply one item; bad items become warnings and never stop the sync. A commit we
        validated but could not apply (``Outcome.STUCK``) leaves the cursor before it.
        With ``checks``, a text message's signature is left to that batch: the caller
        must not commit unless ``checks.all_valid()`` (app.core.signature_checks)."""
        previous = self.cursor
        self.cursor = max(self.cursor, seq)
        if not self.active:
            return ProcessResult(Outcome.REJECTED, warning="item after leaving the group")
        try:
            _, kind, epoch = peek_item(item)
            if self.keys is None or epoch != self.keys.epoch:
                raise DecryptionFailed(
                    f"item for epoch {epoch} while the group is in epoch {self.state.seq}"
                )
            if kind == ItemType.COMMIT:
                self._write_confirmation(db)  # the epoch's confirmations come first
                result = self._process_commit(db, me, seq, item, now)
                if result.outcome is Outcome.STUCK:
                    self.cursor = previous
                return result
            if kind == ItemType.MESSAGE:  # a message or a vote: only decryption tells
                envelope = open_inner(self.keys, item)
                if envelope is not None:  # its sender data, opened once
                    return self._process_message(db, me, seq, envelope, now, checks)
                kind = ItemType.VOTE
            handler = ITEM_HANDLERS.get(int(kind))
            if handler is None:
                raise MalformedData(f"unsupported item type {int(kind)}")
            self._write_confirmation(db)  # a head confirms too: keep them in order
            anonymous = AnonymousItem(db, self.group_id, self.state, self.keys, item, seq, now)
            warning = handler(anonymous)
            return ProcessResult(
                Outcome.ANONYMOUS, warning=warning, changed=tuple(anonymous.changed)
            )
        except Replay:
            return ProcessResult(Outcome.DUPLICATE)
        except RemoteError as exc:
            return ProcessResult(Outcome.REJECTED, warning=f"{type(exc).__name__}: {exc}")

    def _process_commit(
        self, db: Database, me: Identity, seq: int, item: bytes, now: int
    ) -> ProcessResult:
        if self.keys is None:
            raise DecryptionFailed("no live epoch")
        entry = open_commit(self.keys, item)
        try:
            new_state = self.state.apply(entry)
        except RemoteError as exc:
            # The relay accepted it, so its mailbox is now in an epoch no honest member
            # holds: wedged until an organizer moves the group (protocol 7.4.1).
            reason = f"{type(exc).__name__}: {exc}"
            recovery_store.mark_wedged(db, self.group_id, entry.seq, entry.author, reason, seq)
            return ProcessResult(
                Outcome.REJECTED,
                warning=f"{reason}; this rejected commit wedged the group's mailbox: "
                "an organizer can move the group to a new one (caucus recover)",
            )
        before = self.state
        if not new_state.is_member(me.public_key):
            self.state = new_state
            self.store_entry(db, entry, seq)
            self.mark(db, GroupStatus.REMOVED)
            line = log_lines.record(
                db, self.group_id, before, entry, new_state, me.public_key, seq, now
            )
            return ProcessResult(Outcome.REMOVED, entry=entry, message=line)
        mine = delivery_keys.identity_for(db, me, new_state.member(me.public_key).delivery_cert)
        try:
            secret = open_epoch_delivery(item, entry, new_state, mine)
        except RemoteError as exc:
            return self._stuck(db, entry, seq, exc)
        self.state = new_state
        self.store_entry(db, entry, seq)
        self.enter_epoch(db, secret, me.public_key)
        line = log_lines.record(
            db, self.group_id, before, entry, new_state, me.public_key, seq, now
        )
        return ProcessResult(Outcome.COMMIT, entry=entry, message=line)

    def _stuck(self, db: Database, entry: LogEntry, seq: int, exc: RemoteError) -> ProcessResult:
        """Record the commit we cannot apply (the key request goes out from
        ``app.core.key_recovery``); warn once per commit."""
        if isinstance(exc, DecryptionFailed):
            reason = RequestReason.BOX_DID_NOT_OPEN
        else:
            reason = RequestReason.NOT_THE_SIGNED_SECRET
        if not recovery_store.mark_stuck(db, self.group_id, entry.seq, entry.hash, seq, reason):
            return ProcessResult(Outcome.STUCK, entry=entry)
        author = self.state.member(entry.author).name
        warning = (
            f"could not open our key for epoch {entry.seq} in {author}'s commit "
            f"({type(exc).__name__}: {exc}): "
            f"a bad key box, from {author}'s commit or substituted by the relay; "
            "nothing after it is read until another member sends the key"
        )
        return ProcessResult(Outcome.STUCK, entry=entry, warning=warning)

    def _process_message(
        self,
        db: Database,
        me: Identity,
        seq: int,
        envelope: MessageEnvelope,
        now: int,
        checks: SignatureBatch | None,
    ) -> ProcessResult:
        if self.keys is None:
            raise DecryptionFailed("no live epoch")
        if envelope.sender_index >= len(self.state.roster()):
            raise DecryptionFailed("sender index outside the roster")
        sender = self.state.member_at(envelope.sender_index)
        chain = self.recv_chains.get(envelope.sender_index)
        if chain is None:
            raise DecryptionFailed("no chain for this sender in the live epoch")
        message_keys, next_chain = chain.key_for(envelope.counter)
        unchecked = decrypt_message(self.keys, envelope, message_keys, sender.identity_pk)
        if checks is not None and unchecked.claimed.content_type in CHECKED_LATE:
            checks.add(unchecked.check)  # before anything below can fail or keep it
            opened = unchecked.claimed
        else:
            opened = unchecked.verified()
        if opened.log_head != self.state.head:
            raise ForkDetected(
                "the sender's group log differs from ours at this epoch: "
                "the relay is showing members different histories"
            )
        self.recv_chains[envelope.sender_index] = next_chain
        self.dirty_chains.add(envelope.sender_index)
        if sender.role == Role.ORGANIZER:  # a signed time and log head: a freshness head
            self._confirm(min(opened.sent_at, now), sender.identity_pk)
        changed: tuple[Event, ...] = ()
        reply_to: bytes | None = None
        files: AttachmentBody | None = None
        if opened.content_type == ContentType.TEXT:
            text = TextBody.decode(opened.body)
            channel_id, shown = text.channel_id, text.text
        elif opened.content_type == ContentType.REPLY:
            reply = ReplyBody.decode(opened.body)
            channel_id, shown, reply_to = reply.channel_id, reply.text, reply.reply_to
        elif opened.content_type == ContentType.ATTACHMENT:
            files = AttachmentBody.decode(opened.body)
            channel_id, shown = files.channel_id, attachment_receive.shown_text(files)
        else:
            handler = HANDLERS.get(opened.content_type)
            if handler is None:
                raise MalformedData(f"unsupported content type {opened.content_type}")
            channel_id = DEFAULT_CHANNEL
            # An edit or deletion may name a message of this same batch, whose text is not
            # in the full-text index yet: index what is pending first, or removing the old
            # text from the index would corrupt it.
            message_store.index_texts(db, self.unindexed)
            self.unindexed.clear()
            received = Received(db, self.group_id, self.state, opened, sender, seq, now)
            shown = handler(received)
            changed = tuple(received.changed)
        warning = self._check_sender_chain(opened)
        result = self._store_message(
            db, me, seq, opened, sender.name, channel_id, shown, warning, now
        )
        if reply_to is not None and result.message is not None:
            conversation_store.set_reply_to(db, result.message.row_id, reply_to)
            result = replace(result, message=replace(result.message, reply_to=reply_to))
        if files is not None and result.message is not None:
            shown_files = attachment_receive.record(db, result.message.row_id, files)
            result = replace(result, message=replace(result.message, attachments=shown_files))
        return replace(result, changed=changed) if changed else result

    def _my_owner(self, my_pk: bytes) -> bytes:
        """``state.owner_of(my_pk)``, worked out once per state."""
        mine = self.my_owner
        if mine is None or mine[0] is not self.state:
            mine = self.my_owner = (self.state, self.state.owner_of(my_pk))
        return mine[1]

    def _check_sender_chain(self, opened: OpenedMessage) -> str | None:
        expected = self.sender_heads.get(opened.sender_pk, bytes(32))
        self.sender_heads[opened.sender_pk] = opened.message_hash
        self.dirty_heads.add(opened.sender_pk)
        if expected != UNKNOWN_HEAD and opened.prev_message != expected:
            return "an earlier message from this sender is missing or arrived out of order"
        return None

    def _store_message(
        self,
        db: Database,
        me: Identity,
        seq: int,
        opened: OpenedMessage,
        sender_name: str,
        channel_id: bytes,
        shown: str,
        warning: str | None,
        now: int,
    ) -> ProcessResult:
        # A linked device's message is its member's (docs/protocol.md 8.2): stored and
        # shown under the member's identity, and "mine" on every device of the member.
        # (the sender is in the roster: its record came from ``member_at``)
        sender_pk = self.state.owners.get(opened.sender_pk, opened.sender_pk)
        is_mine = sender_pk == self._my_owner(me.public_key)
        if is_mine and message_store.mark_echo_sent(db, opened.message_id, seq):
            return ProcessResult(Outcome.OWN_MESSAGE)
        # Ours without a pending row here (no longer held, or never) is stored as sent.
        status = MessageStatus.SENT if is_mine else MessageStatus.RECEIVED
        row_id = message_store.insert_message(
            db,
            self.group_id,
            channel_id,
            opened.message_id,
            sender_pk,
            sender_name,
            opened.sent_at,
            now,
            opened.content_type,
            opened.body,
            shown,
            status,
            seq,
            warning,
        )
        if row_id is None:
            return ProcessResult(Outcome.DUPLICATE)
        self.unindexed.append((row_id, shown))
        kind, opens = classify(opened.content_type)
        view = MessageView(
            row_id=row_id,
            group_id=self.group_id,
            channel_id=channel_id,
            message_id=opened.message_id,
            sender_name=sender_name,
            sender_fingerprint=self._fingerprint(sender_pk),
            text=shown,
            sent_at=opened.sent_at,
            status=status,
            warning=warning,
            is_mine=is_mine,
            kind=kind.value,
            opens=opens.value if opens is not None else None,
        )
        return ProcessResult(Outcome.MESSAGE, message=view, warning=warning)
