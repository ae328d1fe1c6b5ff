"""Invites and joining: invite mailboxes, join requests, approvals, admission and the
welcome (docs/protocol.md sections 5 and 7.5)."""

from __future__ import annotations

import contextlib

import nacl.signing

from app.core.errors import (
    AlreadyExists,
    ClientError,
    NotFound,
    RelayError,
    RelayRejected,
)
from app.core.events import (
    GroupChanged,
    GroupJoined,
    JoinRequested,
)
from app.core.group_sync import GroupSync
from app.core.ports import Context
from app.core.queries import Queries
from app.core.relay_health import RelayHealth
from app.core.sync_pass import STEP_ERRORS, SyncPass
from crypto.errors import RemoteError
from crypto.group_log import (
    EntryKind,
    GroupState,
    LogEntry,
    Role,
    add_body,
    invite_body,
)
from crypto.invite import InviteCode, InviteSecrets, JoinRequest
from crypto.key_schedule import cap_hash
from crypto.welcome import Welcome

__all__ = ["DEFAULT_INVITE_TTL_MS", "Admission"]

DEFAULT_INVITE_TTL_MS = 7 * 24 * 3600 * 1000


class Admission:
    """Creating invites, asking to join, admitting and welcoming members."""

    def __init__(self, ctx: Context, groups: GroupSync, health: RelayHealth, name: str) -> None:
        self._ctx = ctx
        self._groups = groups
        self._health = health
        self._name = name

    async def ensure_inbox(self, relay_url: str) -> tuple[bytes, nacl.signing.SigningKey]:
        row = self._ctx.db.one(
            "SELECT inbox_id, auth_seed, registered FROM inboxes WHERE relay_url = ?", (relay_url,)
        )
        if row is None:
            inbox_id, seed = self._ctx.rng(16), self._ctx.rng(32)
            with self._ctx.db.transaction():
                self._ctx.db.execute(
                    "INSERT INTO inboxes (relay_url, inbox_id, auth_seed) VALUES (?, ?, ?)",
                    (relay_url, inbox_id, seed),
                )
            registered = False
        else:
            inbox_id, seed, registered = row[0], row[1], bool(row[2])
        auth = nacl.signing.SigningKey(seed)
        if not registered:
            try:
                await self._ctx.relays.get(relay_url).create_inbox(inbox_id, bytes(auth.verify_key))
            except RelayRejected as exc:
                if exc.code != "exists":
                    raise
                # Created by an earlier attempt whose answer was lost; the relay still
                # checks our auth key on every read, so a stranger's inbox is unusable.
            with self._ctx.db.transaction():
                self._ctx.db.execute(
                    "UPDATE inboxes SET registered = 1 WHERE relay_url = ?", (relay_url,)
                )
        return inbox_id, auth

    # -- sessions -----------------------------------------------------------------------

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
        session = self._groups.require_active(group_id)
        self._groups.require_organizer(session.state)
        if not 1 <= max_uses <= 1000:
            raise ClientError("an invite can be used 1 to 1000 times")
        secret = self._ctx.rng(32)
        secrets = InviteSecrets.derive(secret)
        code = InviteCode(session.relay_url, secret, self._ctx.identity.fingerprint).encode()
        relay = self._ctx.relays.get(session.relay_url)
        await relay.create_mailbox(secrets.mailbox_id, cap_hash(secrets.capability), bytes(32))
        with self._ctx.db.transaction():
            self._ctx.db.execute(
                "INSERT INTO invites (invite_id, group_id, secret, code) VALUES (?, ?, ?, ?)",
                (secrets.invite_id, group_id, secret, code),
            )
        expires_at = self._ctx.now() + ttl_ms

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._groups.require_organizer(state)
            return EntryKind.INVITE, invite_body(
                secrets.invite_id, role, expires_at, max_uses, needs_approval
            )

        await self._groups.commit(group_id, make)
        return code

    async def join(self, code_text: str) -> None:
        """Ask to join with an invite code; the welcome arrives through ``sync``."""
        code = InviteCode.parse(code_text)
        secrets = InviteSecrets.derive(code.secret)
        inbox_id, _ = await self.ensure_inbox(code.relay_url)
        item = JoinRequest.seal(
            secrets, self._ctx.identity, self._name, inbox_id, self._ctx.now(), self._ctx.rng
        )
        with self._ctx.db.transaction():
            self._ctx.db.execute(
                "INSERT OR REPLACE INTO pending_joins (code, relay_url, requested_at)"
                " VALUES (?, ?, ?)",
                (code.encode(), code.relay_url, self._ctx.now()),
            )
        try:
            await self._ctx.relays.get(code.relay_url).post_item(
                secrets.mailbox_id, secrets.capability, item
            )
        except RelayRejected as exc:
            if exc.code in ("forbidden", "not_found", "stale_epoch"):
                with self._ctx.db.transaction():
                    self._ctx.db.execute(
                        "DELETE FROM pending_joins WHERE code = ?", (code.encode(),)
                    )
                raise ClientError("this invite is no longer valid") from None
            raise

    async def sync_inboxes(self, sync: SyncPass) -> list[bytes]:
        """Collect welcomes for the joins we asked for, relay by relay: a relay that
        fails is reported in ``sync`` and the others go on."""
        joined: list[bytes] = []
        pending = self._ctx.db.all("SELECT code, relay_url FROM pending_joins")
        relays = {relay_url for _, relay_url in pending}
        for relay_url in sorted(relays):
            if sync.is_down(relay_url):
                continue
            codes = [InviteCode.parse(code) for code, url in pending if url == relay_url]
            scope = f"inbox:{relay_url}"
            try:
                joined += await self._sync_inbox(relay_url, codes, sync.warnings)
            except STEP_ERRORS as exc:
                self._health.step_failed(sync, scope, None, relay_url, "pending join", exc)
            else:
                self._health.step_done(scope)
        return joined

    async def _sync_inbox(
        self, relay_url: str, codes: list[InviteCode], warnings: list[str]
    ) -> list[bytes]:
        joined: list[bytes] = []
        inbox_id, auth = await self.ensure_inbox(relay_url)
        (cursor,) = self._ctx.db.one("SELECT cursor FROM inboxes WHERE relay_url = ?", (relay_url,))
        relay = self._ctx.relays.get(relay_url)
        result = await relay.fetch_inbox(inbox_id, auth, self._ctx.now(), cursor)
        self._health.online(relay_url)
        if result.empty:
            return joined
        for _seq, item in result.items:
            group_id = self._accept_welcome(item, codes, warnings)
            if group_id is not None:
                joined.append(group_id)
        last = result.items[-1][0]
        with self._ctx.db.transaction():
            self._ctx.db.execute(
                "UPDATE inboxes SET cursor = ? WHERE relay_url = ?", (last, relay_url)
            )
        await relay.delete_inbox_items(inbox_id, auth, self._ctx.now(), last)
        return joined

    def _accept_welcome(
        self, item: bytes, codes: list[InviteCode], warnings: list[str]
    ) -> bytes | None:
        errors = []
        for code in codes:
            try:
                welcome = Welcome.open(item, self._ctx.identity, code)
            except RemoteError as exc:
                errors.append(str(exc))
                continue
            group_id = welcome.state.group_id
            if self._ctx.db.one("SELECT 1 FROM groups WHERE group_id = ?", (group_id,)) is not None:
                return None
            with self._ctx.db.transaction():
                self._ctx.db.execute(
                    "INSERT INTO groups (group_id, relay_url, mailbox_id, cursor, joined_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        group_id,
                        welcome.relay_url,
                        welcome.mailbox_id,
                        welcome.start_after,
                        self._ctx.now(),
                    ),
                )
                self._ctx.db.executemany(
                    "INSERT INTO log_entries (group_id, seq, entry) VALUES (?, ?, ?)",
                    [(group_id, entry.seq, entry.encode()) for entry in welcome.entries],
                )
                self._ctx.db.execute(
                    "INSERT INTO epochs (group_id, epoch, secret) VALUES (?, ?, ?)",
                    (group_id, welcome.state.seq, welcome.epoch_secret),
                )
                self._ctx.db.execute("DELETE FROM pending_joins WHERE code = ?", (code.encode(),))
            self._groups.forget(group_id)
            self._ctx.events.emit(GroupJoined(group_id, welcome.state.name))
            return group_id
        detail = "an inbox item was not a valid welcome for any pending join"
        self._ctx.events.warn(None, "bad-welcome", detail)
        warnings.append(detail)
        return None

    async def sync_invites(self, sync: SyncPass) -> int:
        """Read join requests sent to our open invites; admit or queue them. An invite
        whose relay or admission fails is reported in ``sync``; the others go on."""
        admitted = 0
        rows = self._ctx.db.all(
            "SELECT invite_id, group_id, secret, cursor FROM invites WHERE status = 'open'"
        )
        for invite_id, group_id, secret, cursor in rows:
            session = self._groups.session(group_id)
            if not session.active or sync.is_down(session.relay_url):
                continue
            scope = f"invite:{invite_id.hex()}"
            what = f"join requests for {session.state.name!r}"
            try:
                admitted += await self._sync_invite(
                    invite_id, group_id, secret, cursor, sync.warnings
                )
            except STEP_ERRORS as exc:
                self._health.step_failed(sync, scope, group_id, session.relay_url, what, exc)
            else:
                self._health.step_done(scope)
        return admitted

    async def _sync_invite(
        self, invite_id: bytes, group_id: bytes, secret: bytes, cursor: int, warnings: list[str]
    ) -> int:
        admitted = 0
        session = self._groups.session(group_id)
        secrets = InviteSecrets.derive(secret)
        relay = self._ctx.relays.get(session.relay_url)
        try:
            result = await relay.fetch(secrets.mailbox_id, secrets.capability, cursor)
        except RelayRejected as exc:
            if exc.code in ("not_found", "forbidden"):
                self._mark_invite(invite_id, "spent")
                return 0
            raise
        for seq, item in result.items:
            try:
                request = JoinRequest.open(secrets, item)
            except RemoteError as exc:
                detail = f"rejected a join request: {exc}"
                self._ctx.events.warn(group_id, "bad-join-request", detail)
                warnings.append(detail)
            else:
                admitted += await self._handle_request(group_id, invite_id, request, item)
            with self._ctx.db.transaction():
                self._ctx.db.execute(
                    "UPDATE invites SET cursor = ? WHERE invite_id = ?", (seq, invite_id)
                )
        await self._retire_invite_if_done(group_id, invite_id, secrets)
        return admitted

    async def _handle_request(
        self, group_id: bytes, invite_id: bytes, request: JoinRequest, raw: bytes
    ) -> int:
        state = self._groups.session(group_id).state
        invite = state.invites.get(invite_id)
        if invite is None or state.is_member(request.identity_pk):
            return 0
        if invite.needs_approval:
            with self._ctx.db.transaction():
                cursor = self._ctx.db.execute(
                    "INSERT INTO join_requests (invite_id, group_id, request, status, received_at)"
                    " VALUES (?, ?, ?, 'pending', ?)",
                    (invite_id, group_id, raw, self._ctx.now()),
                )
            self._ctx.events.emit(
                JoinRequested(
                    group_id,
                    int(cursor.lastrowid),
                    request.name,
                    Queries.identity_fingerprint_hex(request.identity_pk),
                )
            )
            return 0
        await self._admit(group_id, invite_id, request)
        return 1

    async def approve(self, request_id: int) -> None:
        row = self._ctx.db.one(
            "SELECT invite_id, group_id, request FROM join_requests"
            " WHERE id = ? AND status = 'pending'",
            (request_id,),
        )
        if row is None:
            raise NotFound("no pending join request with that number")
        invite_id, group_id, raw = row
        secret_row = self._ctx.db.one(
            "SELECT secret FROM invites WHERE invite_id = ?", (invite_id,)
        )
        if secret_row is None:
            raise NotFound("the invite of this request is gone")
        request = JoinRequest.open(InviteSecrets.derive(secret_row[0]), raw)
        await self._admit(group_id, invite_id, request)
        with self._ctx.db.transaction():
            self._ctx.db.execute(
                "UPDATE join_requests SET status = 'admitted' WHERE id = ?", (request_id,)
            )

    async def reject(self, request_id: int) -> None:
        with self._ctx.db.transaction():
            self._ctx.db.execute(
                "UPDATE join_requests SET status = 'rejected' WHERE id = ? AND status = 'pending'",
                (request_id,),
            )

    async def _admit(self, group_id: bytes, invite_id: bytes, request: JoinRequest) -> None:
        """Commit the ADD, then send the newcomer the log and the new epoch secret."""

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            self._groups.require_organizer(state)
            invite = state.invites.get(invite_id)
            if invite is None:
                raise NotFound("the invite is no longer in the group log")
            if state.is_member(request.identity_pk):
                raise AlreadyExists(f"{request.name} is already a member")
            return EntryKind.ADD, add_body(request.member_record(invite.role), invite_id)

        entry, secret, seq = await self._groups.commit(group_id, make)
        session = self._groups.session(group_id)
        entries = [
            LogEntry.decode(raw)
            for (raw,) in self._ctx.db.all(
                "SELECT entry FROM log_entries WHERE group_id = ? AND seq <= ? ORDER BY seq",
                (group_id, entry.seq),
            )
        ]
        welcome = Welcome.seal(
            self._ctx.identity,
            request.delivery_cert,
            relay_url=session.relay_url,
            mailbox_id=session.mailbox_id,
            start_after=seq,
            entries=entries,
            epoch_secret=secret,
            rng=self._ctx.rng,
        )
        await self._ctx.relays.get(session.relay_url).post_inbox(request.inbox_id, welcome)
        self._ctx.events.emit(GroupChanged(group_id))

    async def _retire_invite_if_done(
        self, group_id: bytes, invite_id: bytes, secrets: InviteSecrets
    ) -> None:
        state = self._groups.session(group_id).state
        invite = state.invites.get(invite_id)
        if invite is None:
            return
        if invite.uses >= invite.max_uses or self._ctx.now() > invite.expires_at:
            self._mark_invite(invite_id, "spent")
            # If this fails, the relay's retention removes the mailbox eventually.
            with contextlib.suppress(RelayError):
                await self._ctx.relays.get(self._groups.session(group_id).relay_url).delete_mailbox(
                    secrets.mailbox_id, secrets.capability
                )

    def _mark_invite(self, invite_id: bytes, status: str) -> None:
        with self._ctx.db.transaction():
            self._ctx.db.execute(
                "UPDATE invites SET status = ? WHERE invite_id = ?", (status, invite_id)
            )
