"""Invites and joining: invite mailboxes, join requests, approvals, admission and the
welcome (docs/protocol.md sections 5 and 7.5)."""

from __future__ import annotations

import contextlib

import nacl.signing

from app.core import delivery_keys, log_lines
from app.core.epoch_entry import enter_epoch
from app.core.errors import (
    AlreadyExists,
    ClientError,
    NotFound,
    NotPermittedHere,
    RelayError,
    RelayRejected,
)
from app.core.events import (
    GroupChanged,
    GroupJoined,
    JoinRequested,
)
from app.core.group_session import UNKNOWN_HEAD
from app.core.group_sync import GroupSync
from app.core.ports import Context
from app.core.queries import Queries
from app.core.relay_health import RelayHealth
from app.core.relay_inbox import InboxTable, ensure_inbox
from app.core.status import InviteStatus, JoinStatus
from app.core.store import devices as device_store
from app.core.store import groups as group_store
from app.core.store import invites as invite_store
from app.core.store.delivery_keys import KeyOrigin
from app.core.store.invites import InviteRow
from app.core.sync_pass import STEP_ERRORS, SyncPass
from crypto.errors import RemoteError
from crypto.group_log import (
    EntryKind,
    GroupState,
    Role,
    add_body,
    invite_body,
)
from crypto.invite import InviteCode, InviteSecrets, JoinRequest
from crypto.key_schedule import cap_hash
from crypto.welcome import Welcome

__all__ = ["DEFAULT_INVITE_TTL_MS", "Admission"]

_JOIN_INBOXES = InboxTable(
    invite_store.load_inbox, invite_store.insert_inbox, invite_store.mark_inbox_registered
)

DEFAULT_INVITE_TTL_MS = 7 * 24 * 3600 * 1000


class Admission:
    """Creating invites, asking to join, admitting and welcoming members."""

    def __init__(self, ctx: Context, groups: GroupSync, health: RelayHealth, name: str) -> None:
        self._ctx = ctx
        self._groups = groups
        self._health = health
        self._name = name

    async def ensure_inbox(self, relay_url: str) -> tuple[bytes, nacl.signing.SigningKey]:
        """Our join inbox on ``relay_url`` (welcomes and answers arrive there)."""
        return await ensure_inbox(self._ctx, _JOIN_INBOXES, relay_url)

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
            invite_store.insert_invite(self._ctx.db, secrets.invite_id, group_id, secret, code)
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
        if device_store.device_self(self._ctx.db) is not None:
            # A join asks with this profile's key, which is a device's (protocol 8).
            raise NotPermittedHere(
                "a linked device joins no group itself: join from your first device"
            )
        secrets = InviteSecrets.derive(code.secret)
        for group_id in self._groups.active_group_ids():
            state = self._groups.session(group_id).state
            if secrets.invite_id in state.invites:
                # The invite belongs to a group we are in: say that, not "no longer valid".
                raise ClientError(f"you are already a member of {state.name}")
        inbox_id, _ = await self.ensure_inbox(code.relay_url)
        # Each join asks with its own delivery key, kept until the welcome arrives
        # (docs/protocol.md 3.2); the group's roster then lists it until we rotate.
        db, now = self._ctx.db, self._ctx.now()
        with db.transaction():
            joiner = delivery_keys.new_key(
                db, self._ctx.identity, self._ctx.rng, now, KeyOrigin.JOIN, join_code=code.encode()
            )
            invite_store.save_pending_join(db, code.encode(), code.relay_url, now)
        item = JoinRequest.seal(secrets, joiner, self._name, inbox_id, now, self._ctx.rng)
        try:
            await self._ctx.relays.get(code.relay_url).post_item(
                secrets.mailbox_id, secrets.capability, item
            )
        except RelayRejected as exc:
            if exc.code in ("forbidden", "not_found", "stale_epoch"):
                with self._ctx.db.transaction():
                    invite_store.delete_pending_join(self._ctx.db, code.encode())
                    delivery_keys.forget_join(self._ctx.db, code.encode())
                raise ClientError("this invite is no longer valid") from None
            raise

    async def sync_inboxes(self, sync: SyncPass) -> list[bytes]:
        """Collect welcomes for the joins we asked for, relay by relay: a relay that
        fails is reported in ``sync`` and the others go on."""
        joined: list[bytes] = []
        pending = invite_store.pending_joins(self._ctx.db)
        relays = {row.relay_url for row in pending}
        for relay_url in sorted(relays):
            if sync.is_down(relay_url):
                continue
            codes = [InviteCode.parse(row.code) for row in pending if row.relay_url == relay_url]
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
        inbox = invite_store.load_inbox(self._ctx.db, relay_url)
        if inbox is None:
            raise NotFound("our inbox on this relay is gone")
        relay = self._ctx.relays.get(relay_url)
        result = await relay.fetch_inbox(inbox_id, auth, self._ctx.now(), inbox.cursor)
        self._health.online(relay_url)
        if result.empty:
            return joined
        for _seq, item in result.items:
            group_id = self._accept_welcome(item, codes, warnings)
            if group_id is not None:
                joined.append(group_id)
        last = result.items[-1][0]
        with self._ctx.db.transaction():
            invite_store.set_inbox_cursor(self._ctx.db, relay_url, last)
        await relay.delete_inbox_items(inbox_id, auth, self._ctx.now(), last)
        return joined

    def _accept_welcome(
        self, item: bytes, codes: list[InviteCode], warnings: list[str]
    ) -> bytes | None:
        errors = []
        db = self._ctx.db
        me = self._ctx.identity
        for code in codes:
            welcome = None
            for joiner in delivery_keys.join_identities(db, me, code.encode()):
                try:
                    welcome = Welcome.open(item, joiner, code)
                    break
                except RemoteError as exc:
                    errors.append(str(exc))
            if welcome is None:
                continue
            group_id = welcome.state.group_id
            if group_store.load_group(db, group_id) is not None:
                return None
            with db.transaction():
                group_store.insert_group(
                    db,
                    group_id,
                    welcome.relay_url,
                    welcome.mailbox_id,
                    welcome.start_after,
                    self._ctx.now(),
                )
                for entry in welcome.entries:
                    group_store.insert_log_entry(db, group_id, entry, None)
                log_lines.record_join(
                    db, welcome.entries, welcome.state, me.public_key, self._ctx.now()
                )
                enter_epoch(db, welcome.state, welcome.epoch_secret, me.public_key)
                group_store.save_sender_heads(  # their earlier messages are not ours to see
                    db,
                    group_id,
                    {
                        m.identity_pk: UNKNOWN_HEAD
                        for m in welcome.state.roster()
                        if m.identity_pk != me.public_key
                    },
                )
                delivery_keys.settle(db, welcome.state, me.public_key)
                invite_store.delete_pending_join(db, code.encode())
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
        for invite in invite_store.open_invites(self._ctx.db):
            session = self._groups.session(invite.group_id)
            if not session.active or sync.is_down(session.relay_url):
                continue
            scope = f"invite:{invite.invite_id.hex()}"
            what = f"join requests for {session.state.name!r}"
            try:
                admitted += await self._sync_invite(invite, sync.warnings)
            except STEP_ERRORS as exc:
                self._health.step_failed(sync, scope, invite.group_id, session.relay_url, what, exc)
            else:
                self._health.step_done(scope)
        return admitted

    async def _sync_invite(self, invite: InviteRow, warnings: list[str]) -> int:
        admitted = 0
        invite_id, group_id = invite.invite_id, invite.group_id
        session = self._groups.session(group_id)
        secrets = InviteSecrets.derive(invite.secret)
        relay = self._ctx.relays.get(session.relay_url)
        try:
            result = await relay.fetch(secrets.mailbox_id, secrets.capability, invite.cursor)
        except RelayRejected as exc:
            if exc.code in ("not_found", "forbidden"):
                self._spend_invite(invite_id)
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
                invite_store.set_invite_cursor(self._ctx.db, invite_id, seq)
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
                request_id = invite_store.insert_join_request(
                    self._ctx.db,
                    invite_id,
                    group_id,
                    raw,
                    self._ctx.now(),
                    request.name,
                    request.identity_pk,
                )
            self._ctx.events.emit(
                JoinRequested(
                    group_id,
                    request_id,
                    request.name,
                    Queries.identity_fingerprint_hex(request.identity_pk),
                )
            )
            return 0
        await self._admit(group_id, invite_id, request)
        return 1

    async def approve(self, request_id: int) -> None:
        db = self._ctx.db
        row = invite_store.pending_join_request(db, request_id)
        if row is None:
            raise NotFound("no pending join request with that number")
        invite = invite_store.load_invite(db, row.invite_id)
        if invite is None:
            raise NotFound("the invite of this request is gone")
        request = JoinRequest.open(InviteSecrets.derive(invite.secret), row.request)
        await self._admit(row.group_id, row.invite_id, request)
        with db.transaction():
            invite_store.set_join_status(db, request_id, JoinStatus.PENDING, JoinStatus.ADMITTED)

    async def reject(self, request_id: int) -> None:
        with self._ctx.db.transaction():
            invite_store.set_join_status(
                self._ctx.db, request_id, JoinStatus.PENDING, JoinStatus.REJECTED
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
        entries = group_store.load_log(self._ctx.db, group_id, upto=entry.seq)
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
            self._spend_invite(invite_id)
            # If this fails, the relay's retention removes the mailbox eventually.
            with contextlib.suppress(RelayError):
                await self._ctx.relays.get(self._groups.session(group_id).relay_url).delete_mailbox(
                    secrets.mailbox_id, secrets.capability
                )

    def _spend_invite(self, invite_id: bytes) -> None:
        """Stop reading the invite's mailbox (already spent: nothing changes)."""
        with self._ctx.db.transaction():
            invite_store.set_invite_status(
                self._ctx.db, invite_id, InviteStatus.OPEN, InviteStatus.SPENT
            )
