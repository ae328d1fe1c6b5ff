"""The headless client: groups, invites, joins, messages and sync over the relay.

The engine owns the unlocked profile database and the relays it talks to. Every change
it makes is committed to the database before it is announced to listeners; every
network step can be retried without losing or duplicating anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import nacl.signing

from app.core.ballots import maintain_ballots
from app.core.database import Database
from app.core.documents import DocumentService
from app.core.errors import (
    AlreadyExists,
    ClientError,
    NotFound,
    NotPermittedHere,
    RelayError,
    RelayRejected,
    RelayUnavailable,
)
from app.core.events import (
    ConnectionChanged,
    ConnectionState,
    Event,
    GroupChanged,
    GroupJoined,
    IntegrityWarning,
    JoinRequested,
    Listener,
    MessageAdded,
    MessageStatusChanged,
    RemovedFromGroup,
    SyncProgress,
)
from app.core.group_session import GroupSession, Outcome
from app.core.profile import unlock, validate_group_name
from app.core.queries import Queries
from app.core.relay_client import RelayClient
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.commit import seal_commit
from crypto.content import ContentType, TextBody
from crypto.errors import RemoteError
from crypto.group_log import (
    EntryKind,
    GroupState,
    LogEntry,
    Role,
    add_body,
    author_entry,
    channel_body,
    create_group,
    invite_body,
    remove_body,
    role_body,
)
from crypto.identity import Identity
from crypto.invite import InviteCode, InviteSecrets, JoinRequest
from crypto.items import peek_item
from crypto.key_schedule import EpochKeys, cap_hash
from crypto.message import MAX_BODY, seal_message
from crypto.welcome import Welcome

__all__ = ["Engine", "SyncReport"]

Rng = Callable[[int], bytes]
Clock = Callable[[], int]

MAX_TEXT_BYTES = 65536
COMMIT_ATTEMPTS = 6
REKEY_INTERVAL_MS = 7 * 24 * 3600 * 1000
DEFAULT_INVITE_TTL_MS = 7 * 24 * 3600 * 1000


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class SyncReport:
    """What one ``sync`` did, for the CLI and tests."""

    messages: int
    commits: int
    joined: tuple[bytes, ...]
    admitted: int
    warnings: tuple[str, ...]
    unsent: int


class Engine(Queries):
    """One unlocked profile. Not thread-safe: use it from one asyncio loop."""

    def __init__(
        self,
        db: Database,
        *,
        rng: Rng = os.urandom,
        clock_ms: Clock = wall_clock_ms,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        row = db.one(
            "SELECT name, relay_url, signing_seed, delivery_secret, delivery_cert FROM profile"
        )
        if row is None:
            raise ClientError("the profile database holds no profile")
        identity = Identity.from_secret_bytes(row[2], row[3], row[4])
        super().__init__(db, identity)
        self.name: str = row[0]
        self.relay_url: str = row[1]
        self._rng = rng
        self._now = clock_ms
        self._transport = transport
        self._relays: dict[str, RelayClient] = {}
        self._sessions: dict[bytes, GroupSession] = {}
        self._listeners: list[Listener] = []
        self._connection: dict[str, ConnectionState] = {}

    @classmethod
    def open(cls, home: Path, passphrase: str, **kwargs: object) -> Engine:
        return cls(unlock(home, passphrase), **kwargs)  # type: ignore[arg-type]

    async def close(self) -> None:
        for client in self._relays.values():
            await client.aclose()
        self._relays.clear()
        self.db.close()

    # -- listeners ----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _warn(self, group_id: bytes | None, kind: str, detail: str) -> None:
        self.db.execute(
            "INSERT INTO warnings (group_id, kind, detail, at) VALUES (?, ?, ?, ?)",
            (group_id, kind, detail, self._now()),
        )
        self._emit(IntegrityWarning(group_id, kind, detail))

    # -- relays -------------------------------------------------------------------------

    def relay(self, url: str) -> RelayClient:
        url = url.rstrip("/")
        client = self._relays.get(url)
        if client is None:
            client = RelayClient(url, transport=self._transport)
            self._relays[url] = client
        return client

    def _connection_state(self, url: str, state: ConnectionState) -> None:
        if self._connection.get(url) != state:
            self._connection[url] = state
            self._emit(ConnectionChanged(url, state))

    async def _ensure_inbox(self, relay_url: str) -> tuple[bytes, nacl.signing.SigningKey]:
        row = self.db.one(
            "SELECT inbox_id, auth_seed, registered FROM inboxes WHERE relay_url = ?", (relay_url,)
        )
        if row is None:
            inbox_id, seed = self._rng(16), self._rng(32)
            with self.db.transaction():
                self.db.execute(
                    "INSERT INTO inboxes (relay_url, inbox_id, auth_seed) VALUES (?, ?, ?)",
                    (relay_url, inbox_id, seed),
                )
            registered = False
        else:
            inbox_id, seed, registered = row[0], row[1], bool(row[2])
        auth = nacl.signing.SigningKey(seed)
        if not registered:
            try:
                await self.relay(relay_url).create_inbox(inbox_id, bytes(auth.verify_key))
            except RelayRejected as exc:
                if exc.code != "exists":
                    raise
                # Created by an earlier attempt whose answer was lost; the relay still
                # checks our auth key on every read, so a stranger's inbox is unusable.
            with self.db.transaction():
                self.db.execute(
                    "UPDATE inboxes SET registered = 1 WHERE relay_url = ?", (relay_url,)
                )
        return inbox_id, auth

    # -- sessions -----------------------------------------------------------------------

    def session(self, group_id: bytes) -> GroupSession:
        session = self._sessions.get(group_id)
        if session is None:
            try:
                session = GroupSession.load(self.db, group_id)
            except KeyError:
                raise NotFound("no such group") from None
            self._sessions[group_id] = session
        return session

    def _require_active(self, group_id: bytes) -> GroupSession:
        session = self.session(group_id)
        if not session.active:
            raise NotPermittedHere(f"you are no longer a member of {session.state.name!r}")
        return session

    # -- groups -------------------------------------------------------------------------

    async def create_group(self, name: str) -> bytes:
        """Create a group with us as its only organizer; returns its id."""
        name = validate_group_name(name)
        group_id, mailbox_id = self._rng(16), self._rng(16)
        state, entry, secret = create_group(
            self.identity, self.name, name, group_id, self._now(), self._rng
        )
        keys = EpochKeys.derive(group_id, 0, secret)
        await self.relay(self.relay_url).create_mailbox(
            mailbox_id, cap_hash(keys.mailbox_cap), entry.hash
        )
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO groups (group_id, relay_url, mailbox_id, cursor, joined_at)"
                " VALUES (?, ?, ?, 0, ?)",
                (group_id, self.relay_url, mailbox_id, self._now()),
            )
            self.db.execute(
                "INSERT INTO log_entries (group_id, seq, entry, relay_seq) VALUES (?, 0, ?, 0)",
                (group_id, entry.encode()),
            )
            self.db.execute(
                "INSERT INTO epochs (group_id, epoch, secret) VALUES (?, 0, ?)", (group_id, secret)
            )
        self._sessions.pop(group_id, None)
        self._emit(GroupJoined(group_id, state.name))
        return group_id

    async def _commit(
        self, group_id: bytes, make: Callable[[GroupState], tuple[EntryKind, bytes]]
    ) -> tuple[LogEntry, bytes, int]:
        """Author, seal and append one log entry with compare-and-set, retrying races.

        ``make`` sees the freshly synced state and returns the entry's kind and body, or
        raises ``ClientError`` when the change no longer makes sense.
        Returns the entry, its epoch secret and its relay sequence number.
        """
        for _ in range(COMMIT_ATTEMPTS):
            await self.sync_group(group_id)
            session = self._require_active(group_id)
            if session.keys is None:
                raise NotPermittedHere("the group has no live epoch")
            kind, body = make(session.state)
            entry, secret, new_state = author_entry(
                session.state, self.identity, kind, body, self._now(), self._rng
            )
            item = seal_commit(session.keys, entry, new_state, secret, self._rng)
            new_keys = EpochKeys.derive(group_id, entry.seq, secret)
            try:
                seq = await self.relay(session.relay_url).post_commit(
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
        row = self.db.one(
            "SELECT entry, relay_seq FROM log_entries WHERE group_id = ? AND seq = ?",
            (group_id, entry.seq),
        )
        if row is not None and row[0] == entry.encode():
            return int(row[1]) if row[1] is not None else None
        return None

    def _require_organizer(self, state: GroupState) -> None:
        if state.role_of(self.identity.public_key) != Role.ORGANIZER:
            raise NotPermittedHere("only organizers can do that")

    async def create_invite(
        self,
        group_id: bytes,
        *,
        role: Role = Role.MEMBER,
        ttl_ms: int = DEFAULT_INVITE_TTL_MS,
        max_uses: int = 1,
        needs_approval: bool = False,
    ) -> str:
        """Register an invite in the group log and return its code."""
        session = self._require_active(group_id)
        self._require_organizer(session.state)
        if not 1 <= max_uses <= 1000:
            raise ClientError("an invite can be used 1 to 1000 times")
        secret = self._rng(32)
        secrets = InviteSecrets.derive(secret)
        code = InviteCode(session.relay_url, secret, self.identity.fingerprint).encode()
        relay = self.relay(session.relay_url)
        await relay.create_mailbox(secrets.mailbox_id, cap_hash(secrets.capability), bytes(32))
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO invites (invite_id, group_id, secret, code) VALUES (?, ?, ?, ?)",
                (secrets.invite_id, group_id, secret, code),
            )
        expires_at = self._now() + ttl_ms

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._require_organizer(state)
            return EntryKind.INVITE, invite_body(
                secrets.invite_id, role, expires_at, max_uses, needs_approval
            )

        await self._commit(group_id, make)
        return code

    async def join(self, code_text: str) -> None:
        """Ask to join with an invite code; the welcome arrives through ``sync``."""
        code = InviteCode.parse(code_text)
        secrets = InviteSecrets.derive(code.secret)
        inbox_id, _ = await self._ensure_inbox(code.relay_url)
        item = JoinRequest.seal(secrets, self.identity, self.name, inbox_id, self._now(), self._rng)
        with self.db.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO pending_joins (code, relay_url, requested_at)"
                " VALUES (?, ?, ?)",
                (code.encode(), code.relay_url, self._now()),
            )
        try:
            await self.relay(code.relay_url).post_item(secrets.mailbox_id, secrets.capability, item)
        except RelayRejected as exc:
            if exc.code in ("forbidden", "not_found", "stale_epoch"):
                with self.db.transaction():
                    self.db.execute("DELETE FROM pending_joins WHERE code = ?", (code.encode(),))
                raise ClientError("this invite is no longer valid") from None
            raise

    async def remove_member(self, group_id: bytes, member_fingerprint: str) -> None:
        self._require_active(group_id)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._require_organizer(state)
            target = self.member_by_fingerprint(state, member_fingerprint)
            return EntryKind.REMOVE, remove_body(target)

        await self._commit(group_id, make)
        self._emit(GroupChanged(group_id))

    async def set_role(self, group_id: bytes, member_fingerprint: str, role: Role) -> None:
        self._require_active(group_id)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._require_organizer(state)
            target = self.member_by_fingerprint(state, member_fingerprint)
            return EntryKind.ROLE, role_body(target, role)

        await self._commit(group_id, make)
        self._emit(GroupChanged(group_id))

    async def create_channel(self, group_id: bytes, name: str, *, announce_only: bool) -> bytes:
        channel_id = self._rng(16)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._require_organizer(state)
            return EntryKind.CHANNEL, channel_body(channel_id, name, announce_only)

        await self._commit(group_id, make)
        self._emit(GroupChanged(group_id))
        return channel_id

    async def leave(self, group_id: bytes) -> None:
        await self._commit(group_id, lambda state: (EntryKind.LEAVE, b""))
        self._emit(GroupChanged(group_id))

    async def rekey(self, group_id: bytes) -> None:
        await self._commit(group_id, lambda state: (EntryKind.REKEY, b""))

    # -- messages -----------------------------------------------------------------------

    async def send_text(
        self, group_id: bytes, text: str, channel_id: bytes = DEFAULT_CHANNEL
    ) -> MessageView:
        """Store the message in the outbox, then try to deliver it.

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
        """Queue any content type (documents, ballots use this) and try to deliver it."""
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
        await self._deliver(view.row_id)
        return self.message(view.row_id)

    async def flush_outbox(self) -> int:
        """Try to send every pending message, oldest first; returns how many remain."""
        rows = self.db.all("SELECT id, group_id FROM messages WHERE status = 'pending' ORDER BY id")
        remaining = 0
        for row_id, group_id in rows:
            try:
                await self._deliver(row_id)
            except RelayUnavailable:
                remaining += 1
            except (ClientError, RelayRejected) as exc:
                self._set_status(group_id, row_id, "failed")
                self._warn(group_id, "send-failed", str(exc))
            except RelayError:
                remaining += 1  # e.g. a withheld commit: stays queued, already reported
        return remaining

    async def retry(self, row_id: int) -> None:
        """Put a failed message back into the outbox and try it again."""
        row = self.db.one(
            "SELECT group_id FROM messages WHERE id = ? AND status = 'failed'", (row_id,)
        )
        if row is None:
            raise NotFound("no failed message with that id")
        self._set_status(row[0], row_id, "pending")
        await self._deliver(row_id)

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
                self._connection_state(session.relay_url, ConnectionState.OFFLINE)
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
        """Seal a queued message and persist the advanced chain in the same transaction."""
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
                session.my_send_chain(self.identity),
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

    # -- sync ---------------------------------------------------------------------------

    async def sync(self, *, wait: float = 0) -> SyncReport:
        """Fetch and process everything pending on every relay, then send the outbox."""
        warnings: list[str] = []
        joined = await self._sync_inboxes(warnings)
        admitted = await self._sync_invites(warnings)
        messages = commits = 0
        for group_id in self.active_group_ids():
            counts = await self.sync_group(group_id, wait=wait, warnings=warnings)
            messages += counts[0]
            commits += counts[1]
            await self._maintain(group_id)
        unsent = await self.flush_outbox()
        return SyncReport(messages, commits, tuple(joined), admitted, tuple(warnings), unsent)

    async def sync_group(
        self, group_id: bytes, *, wait: float = 0, warnings: list[str] | None = None
    ) -> tuple[int, int]:
        """Process the group mailbox up to its end; returns (messages, commits)."""
        messages = commits = 0
        first = True
        while True:
            session = self.session(group_id)
            if not session.active or session.keys is None:
                break
            relay = self.relay(session.relay_url)
            try:
                result = await relay.fetch(
                    session.mailbox_id,
                    session.keys.mailbox_cap,
                    session.cursor,
                    wait=wait if first else 0,
                )
            except RelayUnavailable:
                self._connection_state(session.relay_url, ConnectionState.OFFLINE)
                raise
            except RelayRejected as exc:
                if exc.code == "epoch_ended":
                    detail = "the relay closed our epoch but withheld the commit that closed it"
                    self._warn(group_id, "withheld-commit", detail)
                    if warnings is not None:
                        warnings.append(detail)
                    break
                raise
            self._connection_state(session.relay_url, ConnectionState.ONLINE)
            first = False
            # Another task may have processed some of these while we waited on the relay.
            session = self.session(group_id)
            fresh = [(seq, item) for seq, item in result.items if seq > session.cursor]
            if not fresh:
                if result.empty and result.last > session.cursor:
                    detail = (
                        f"the relay reports items up to {result.last} but delivered none "
                        f"after {session.cursor}: it may be withholding a commit"
                    )
                    self._warn(group_id, "withheld-items", detail)
                    if warnings is not None:
                        warnings.append(detail)
                if result.empty or not session.active:
                    break
                continue
            events: list[Event] = []
            try:
                with self.db.transaction():
                    for seq, item in fresh:
                        outcome = session.process(self.db, self.identity, seq, item, self._now())
                        if outcome.warning is not None:
                            self._warn(group_id, outcome.outcome.value, outcome.warning)
                            if warnings is not None:
                                warnings.append(outcome.warning)
                        if outcome.message is not None:
                            messages += 1
                            events.append(MessageAdded(outcome.message))
                        if outcome.outcome is Outcome.COMMIT:
                            commits += 1
                            events.append(GroupChanged(group_id))
                        elif outcome.outcome is Outcome.REMOVED:
                            commits += 1
                            events.append(RemovedFromGroup(group_id))
                    session.flush(self.db)
            except BaseException:
                # The transaction rolled back: drop the in-memory copy, reload from disk.
                self._sessions.pop(group_id, None)
                raise
            for event in events:
                self._emit(event)
            self._emit(SyncProgress(group_id, messages))
        return messages, commits

    async def _maintain(self, group_id: bytes) -> None:
        """Re-key when someone left (their epoch secret must not stay in use) or when the
        epoch is old (the first organizer in roster order does the periodic one); pass our
        current documents on to members who joined since they were sent; keep our ballot
        key registered and our votes posted."""
        session = self.session(group_id)
        if not session.active:
            return
        state = session.state
        (raw,) = self.db.one(
            "SELECT entry FROM log_entries WHERE group_id = ? AND seq = ?", (group_id, state.seq)
        )
        due = self._now() - LogEntry.decode(raw).timestamp > REKEY_INTERVAL_MS
        organizers = state.organizers()
        first_organizer = organizers[0].identity_pk if organizers else None
        if state.needs_rekey or (due and first_organizer == self.identity.public_key):
            try:
                await self.rekey(group_id)
            except (RelayError, ClientError) as exc:
                self._warn(group_id, "rekey-failed", str(exc))
        if self.session(group_id).active:
            try:
                await DocumentService(self).share_current(group_id)
            except (RelayError, ClientError) as exc:
                self._warn(group_id, "document-share-failed", str(exc))
        await maintain_ballots(self, group_id)

    async def _sync_inboxes(self, warnings: list[str]) -> list[bytes]:
        """Collect welcomes for the joins we asked for."""
        joined: list[bytes] = []
        pending = self.db.all("SELECT code, relay_url FROM pending_joins")
        relays = {relay_url for _, relay_url in pending}
        for relay_url in sorted(relays):
            inbox_id, auth = await self._ensure_inbox(relay_url)
            (cursor,) = self.db.one("SELECT cursor FROM inboxes WHERE relay_url = ?", (relay_url,))
            relay = self.relay(relay_url)
            result = await relay.fetch_inbox(inbox_id, auth, self._now(), cursor)
            if result.empty:
                continue
            codes = [InviteCode.parse(code) for code, url in pending if url == relay_url]
            for _seq, item in result.items:
                group_id = self._accept_welcome(item, codes, warnings)
                if group_id is not None:
                    joined.append(group_id)
            last = result.items[-1][0]
            with self.db.transaction():
                self.db.execute(
                    "UPDATE inboxes SET cursor = ? WHERE relay_url = ?", (last, relay_url)
                )
            await relay.delete_inbox_items(inbox_id, auth, self._now(), last)
        return joined

    def _accept_welcome(
        self, item: bytes, codes: list[InviteCode], warnings: list[str]
    ) -> bytes | None:
        errors = []
        for code in codes:
            try:
                welcome = Welcome.open(item, self.identity, code)
            except RemoteError as exc:
                errors.append(str(exc))
                continue
            group_id = welcome.state.group_id
            if self.db.one("SELECT 1 FROM groups WHERE group_id = ?", (group_id,)) is not None:
                return None
            with self.db.transaction():
                self.db.execute(
                    "INSERT INTO groups (group_id, relay_url, mailbox_id, cursor, joined_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        group_id,
                        welcome.relay_url,
                        welcome.mailbox_id,
                        welcome.start_after,
                        self._now(),
                    ),
                )
                self.db.executemany(
                    "INSERT INTO log_entries (group_id, seq, entry) VALUES (?, ?, ?)",
                    [(group_id, entry.seq, entry.encode()) for entry in welcome.entries],
                )
                self.db.execute(
                    "INSERT INTO epochs (group_id, epoch, secret) VALUES (?, ?, ?)",
                    (group_id, welcome.state.seq, welcome.epoch_secret),
                )
                self.db.execute("DELETE FROM pending_joins WHERE code = ?", (code.encode(),))
            self._sessions.pop(group_id, None)
            self._emit(GroupJoined(group_id, welcome.state.name))
            return group_id
        detail = "an inbox item was not a valid welcome for any pending join"
        self._warn(None, "bad-welcome", detail)
        warnings.append(detail)
        return None

    async def _sync_invites(self, warnings: list[str]) -> int:
        """Read join requests sent to our open invites; admit or queue them."""
        admitted = 0
        rows = self.db.all(
            "SELECT invite_id, group_id, secret, cursor FROM invites WHERE status = 'open'"
        )
        for invite_id, group_id, secret, cursor in rows:
            session = self.session(group_id)
            if not session.active:
                continue
            secrets = InviteSecrets.derive(secret)
            relay = self.relay(session.relay_url)
            try:
                result = await relay.fetch(secrets.mailbox_id, secrets.capability, cursor)
            except RelayRejected as exc:
                if exc.code in ("not_found", "forbidden"):
                    self._mark_invite(invite_id, "spent")
                    continue
                raise
            for seq, item in result.items:
                try:
                    request = JoinRequest.open(secrets, item)
                except RemoteError as exc:
                    detail = f"rejected a join request: {exc}"
                    self._warn(group_id, "bad-join-request", detail)
                    warnings.append(detail)
                else:
                    admitted += await self._handle_request(group_id, invite_id, request, item)
                with self.db.transaction():
                    self.db.execute(
                        "UPDATE invites SET cursor = ? WHERE invite_id = ?", (seq, invite_id)
                    )
            await self._retire_invite_if_done(group_id, invite_id, secrets)
        return admitted

    async def _handle_request(
        self, group_id: bytes, invite_id: bytes, request: JoinRequest, raw: bytes
    ) -> int:
        state = self.session(group_id).state
        invite = state.invites.get(invite_id)
        if invite is None or state.is_member(request.identity_pk):
            return 0
        if invite.needs_approval:
            with self.db.transaction():
                cursor = self.db.execute(
                    "INSERT INTO join_requests (invite_id, group_id, request, status, received_at)"
                    " VALUES (?, ?, ?, 'pending', ?)",
                    (invite_id, group_id, raw, self._now()),
                )
            self._emit(
                JoinRequested(
                    group_id,
                    int(cursor.lastrowid),
                    request.name,
                    self.identity_fingerprint_hex(request.identity_pk),
                )
            )
            return 0
        await self._admit(group_id, invite_id, request)
        return 1

    async def approve(self, request_id: int) -> None:
        row = self.db.one(
            "SELECT invite_id, group_id, request FROM join_requests"
            " WHERE id = ? AND status = 'pending'",
            (request_id,),
        )
        if row is None:
            raise NotFound("no pending join request with that number")
        invite_id, group_id, raw = row
        secret_row = self.db.one("SELECT secret FROM invites WHERE invite_id = ?", (invite_id,))
        if secret_row is None:
            raise NotFound("the invite of this request is gone")
        request = JoinRequest.open(InviteSecrets.derive(secret_row[0]), raw)
        await self._admit(group_id, invite_id, request)
        with self.db.transaction():
            self.db.execute(
                "UPDATE join_requests SET status = 'admitted' WHERE id = ?", (request_id,)
            )

    async def reject(self, request_id: int) -> None:
        with self.db.transaction():
            self.db.execute(
                "UPDATE join_requests SET status = 'rejected' WHERE id = ? AND status = 'pending'",
                (request_id,),
            )

    async def _admit(self, group_id: bytes, invite_id: bytes, request: JoinRequest) -> None:
        """Commit the ADD, then send the newcomer the log and the new epoch secret."""

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._require_organizer(state)
            invite = state.invites.get(invite_id)
            if invite is None:
                raise NotFound("the invite is no longer in the group log")
            if state.is_member(request.identity_pk):
                raise AlreadyExists(f"{request.name} is already a member")
            return EntryKind.ADD, add_body(request.member_record(invite.role), invite_id)

        entry, secret, seq = await self._commit(group_id, make)
        session = self.session(group_id)
        entries = [
            LogEntry.decode(raw)
            for (raw,) in self.db.all(
                "SELECT entry FROM log_entries WHERE group_id = ? AND seq <= ? ORDER BY seq",
                (group_id, entry.seq),
            )
        ]
        welcome = Welcome.seal(
            self.identity,
            request.delivery_cert,
            relay_url=session.relay_url,
            mailbox_id=session.mailbox_id,
            start_after=seq,
            entries=entries,
            epoch_secret=secret,
            rng=self._rng,
        )
        await self.relay(session.relay_url).post_inbox(request.inbox_id, welcome)
        self._emit(GroupChanged(group_id))

    async def _retire_invite_if_done(
        self, group_id: bytes, invite_id: bytes, secrets: InviteSecrets
    ) -> None:
        state = self.session(group_id).state
        invite = state.invites.get(invite_id)
        if invite is None:
            return
        if invite.uses >= invite.max_uses or self._now() > invite.expires_at:
            self._mark_invite(invite_id, "spent")
            # If this fails, the relay's retention removes the mailbox eventually.
            with contextlib.suppress(RelayError):
                await self.relay(self.session(group_id).relay_url).delete_mailbox(
                    secrets.mailbox_id, secrets.capability
                )

    def _mark_invite(self, invite_id: bytes, status: str) -> None:
        with self.db.transaction():
            self.db.execute(
                "UPDATE invites SET status = ? WHERE invite_id = ?", (status, invite_id)
            )

    async def run(self, stop: asyncio.Event, *, poll: float = 25.0, tick: float = 2.0) -> None:
        """Stay in sync until ``stop`` is set: one long-poll loop per group (so a message
        reaches a waiting client as soon as the relay has it), and a slower loop for
        invites, welcomes and the outbox. The desktop app runs this."""
        group_tasks: dict[bytes, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                for group_id in self.active_group_ids():
                    task = group_tasks.get(group_id)
                    if task is None or task.done():
                        group_tasks[group_id] = asyncio.create_task(
                            self._follow_group(group_id, stop, poll)
                        )
                try:
                    warnings: list[str] = []
                    await self._sync_inboxes(warnings)
                    await self._sync_invites(warnings)
                    await self.flush_outbox()
                    for group_id in self.active_group_ids():
                        await self._maintain(group_id)
                except RelayUnavailable:
                    self._connection_state(self.relay_url, ConnectionState.RECONNECTING)
                except (ClientError, RemoteError) as exc:
                    self._warn(None, "sync-failed", str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=tick)
        finally:
            for task in group_tasks.values():
                task.cancel()
            await asyncio.gather(*group_tasks.values(), return_exceptions=True)

    async def _follow_group(self, group_id: bytes, stop: asyncio.Event, poll: float) -> None:
        backoff = 0.5
        while not stop.is_set() and self.session(group_id).active:
            try:
                await self.sync_group(group_id, wait=poll)
                backoff = 0.5
            except RelayUnavailable:
                self._connection_state(
                    self.session(group_id).relay_url, ConnectionState.RECONNECTING
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 30.0)
            except (ClientError, RemoteError) as exc:
                self._warn(group_id, "sync-failed", str(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def active_group_ids(self) -> list[bytes]:
        return [
            row[0] for row in self.db.all("SELECT group_id FROM groups WHERE status = 'active'")
        ]
