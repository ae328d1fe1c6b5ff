"""Dispute cases (docs/union-tools.md "Dispute cases"): a member opens a case that only
they and the parent group's organizers see.

A case is a real group of its own (mailbox, epoch keys, log) created by the opener. The
parent's organizers join it through the normal invite flow: each organizer's client
announces, in the parent group, an inbox that only it can read (content type 56); the
opener's client creates a one-use organizer invite of the case group per organizer and
sends the code, sealed to the organizer's delivery key in the parent roster and signed
by the opener, to that inbox; the organizer's client checks it and joins. Members of the
parent who are not organizers never receive anything of the case. The opener's client
keeps inviting organizers who appear in the parent later (each once).

Status changes, sharing and records are signed messages in the case group, applied by
``app.core.case_receive``. A status line reaches the parent group only if the opener
shares it, and is posted by an organizer of the case, never by the opener, so the line
does not name them.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Protocol

import nacl.signing

from app.core import delivery_keys
from app.core.case_receive import status_change_text  # and registers the content handlers
from app.core.case_views import CaseDetail, CaseView
from app.core.errors import ClientError, NotFound, NotPermittedHere, RelayError
from app.core.events import GroupChanged
from app.core.ports import Context, Groups, Sending
from app.core.queries import Queries
from app.core.relay_inbox import InboxTable, ensure_inbox
from app.core.store import cases as store
from app.core.store import groups as group_store
from crypto.case import (
    CaseInbox,
    CaseInvitation,
    CaseLine,
    CaseRecord,
    CaseSharing,
    CaseStatus,
    CaseStatusChange,
    Sharing,
    case_tag,
    transition_allowed,
)
from crypto.errors import RemoteError, UsageError
from crypto.group_log import GroupState, Role

__all__ = ["CASE_INVITE_TTL_MS", "CaseService", "GroupMaking"]

_CASE_INBOXES = InboxTable(
    store.load_case_inbox, store.insert_case_inbox, store.mark_case_inbox_registered
)

CASE_INVITE_TTL_MS = 30 * 24 * 3600 * 1000
"""How long an organizer's invite to a case group stays usable."""

_SHARING_NAMES = {
    Sharing.NONE: "none",
    Sharing.STATUS: "status",
    Sharing.STATUS_AND_TITLE: "status-and-title",
}


class GroupMaking(Protocol):
    """The engine's group creation and invite flow, which a case reuses."""

    async def create_group(self, name: str) -> bytes: ...

    async def create_invite(
        self,
        group_id: bytes,
        *,
        role: Role = ...,
        ttl_ms: int = ...,
        max_uses: int = ...,
        needs_approval: bool = ...,
    ) -> str: ...

    async def join(self, code_text: str) -> None: ...


class CaseService:
    """Opening cases, changing their status and sharing, and their upkeep."""

    def __init__(
        self,
        ctx: Context,
        groups: Groups,
        outbox: Sending,
        making: GroupMaking,
        reads: Queries,
    ) -> None:
        self._ctx = ctx
        self._groups = groups
        self._outbox = outbox
        self._making = making
        self._reads = reads

    @property
    def _me(self) -> bytes:
        return self._ctx.identity.public_key

    # -- commands -----------------------------------------------------------------------

    async def open(self, parent_group_id: bytes, title: str, *, sharing: Sharing) -> bytes:
        """Open a case in ``parent_group_id``; returns the case id (its group's id)."""
        self._groups.require_active(parent_group_id)
        title = title.strip()
        try:
            record = CaseRecord(parent_group_id, title, CaseStatus.OPEN, sharing)
        except UsageError as exc:
            raise ClientError(str(exc)) from None
        if store.load_case(self._ctx.db, parent_group_id) is not None:
            raise ClientError("a case cannot have cases of its own")
        name = f"Case: {title}"
        while len(name.encode("utf-8")) > 128:
            name = name[:-1]
        case_id = await self._making.create_group(name)
        with self._ctx.db.transaction():
            store.insert_case(
                self._ctx.db,
                case_id,
                parent_group_id,
                title,
                self._me,
                int(CaseStatus.OPEN),
                int(sharing),
                self._ctx.now(),
            )
            store.set_record_members(self._ctx.db, case_id, 1)
            if sharing != Sharing.NONE:
                store.set_line_status(self._ctx.db, case_id, int(CaseStatus.OPEN))
        await self._outbox.send_content(
            case_id, record.content_type, record.encode(), f"case: {title} (open)"
        )
        await self._invite_organizers(case_id)
        return case_id

    async def set_status(self, case_id: bytes, status: CaseStatus, note: str = "") -> CaseView:
        """Change the status (the opener or an organizer of the case); every member's
        client checks the change again when it arrives."""
        row = self._require_case(case_id)
        session = self._groups.require_active(case_id)
        if session.state.role_of(self._me) != Role.ORGANIZER:
            raise NotPermittedHere("only the opener and the organizers change a case's status")
        await self._groups.sync_group(case_id)  # decide on the newest status we can see
        row = self._require_case(case_id)
        current = CaseStatus(row.status)
        if not transition_allowed(current, status):
            raise ClientError(f"a case cannot go from {current.label} to {status.label}")
        try:
            change = CaseStatusChange(current, status, note.strip())
        except UsageError as exc:
            raise ClientError(str(exc)) from None
        await self._outbox.send_content(
            case_id, change.content_type, change.encode(), status_change_text(status, change.note)
        )
        await self._groups.sync_group(case_id)  # our own change, applied as everyone does
        self._ctx.events.emit(GroupChanged(case_id))
        return self.view(case_id)

    async def share(self, case_id: bytes, sharing: Sharing) -> CaseView:
        """The opener lets the parent group see status lines (or stops)."""
        row = self._require_case(case_id)
        self._groups.require_active(case_id)
        if row.opener_pk != self._me:
            raise NotPermittedHere("only the opener decides what the group sees of a case")
        body = CaseSharing(sharing)
        await self._outbox.send_content(
            case_id, body.content_type, body.encode(), f"sharing: {_SHARING_NAMES[sharing]}"
        )
        await self._groups.sync_group(case_id)
        self._ctx.events.emit(GroupChanged(case_id))
        return self.view(case_id)

    # -- reads --------------------------------------------------------------------------

    def list_cases(self, parent_group_id: bytes | None = None) -> list[CaseView]:
        return [self._view(row) for row in store.parent_cases(self._ctx.db, parent_group_id)]

    def view(self, case_id: bytes) -> CaseView:
        return self._view(self._require_case(case_id))

    def detail(self, case_id: bytes) -> CaseDetail:
        view = self.view(case_id)
        timeline = tuple(self._reads.messages(case_id)) if view.joined else ()
        return CaseDetail(view, timeline)

    def resolve(self, text: str) -> bytes:
        """A case by its id (32 hex digits, or the first 8 or more), or its exact title."""
        text = text.strip().lower()
        rows = store.parent_cases(self._ctx.db)
        if len(text) >= 8 and all(c in "0123456789abcdef" for c in text):
            found = [row for row in rows if row.case_group_id.hex().startswith(text)]
        else:
            found = [row for row in rows if row.title.lower() == text]
        if len(found) == 1:
            return found[0].case_group_id
        if found:
            raise ClientError("several cases match; give more of the case id")
        raise NotFound(f"no case {text!r}")

    def _require_case(self, case_id: bytes) -> store.CaseRow:
        row = store.load_case(self._ctx.db, case_id)
        if row is None:
            raise NotFound("no such case")
        return row

    def _view(self, row: store.CaseRow) -> CaseView:
        joined = group_store.load_group(self._ctx.db, row.case_group_id) is not None
        members = 0
        can_change = False
        opener_name = ""
        if joined:
            session = self._groups.session(row.case_group_id)
            state = session.state
            members = len(state.roster())
            if state.is_member(row.opener_pk):
                opener_name = state.member(row.opener_pk).name
            can_change = (
                session.active
                and state.is_member(self._me)
                and state.role_of(self._me) == Role.ORGANIZER
            )
        return CaseView(
            case_id=row.case_group_id,
            parent_group_id=row.parent_group_id,
            title=row.title,
            status=CaseStatus(row.status).label,
            sharing=_SHARING_NAMES[Sharing(row.sharing)],
            opener_fingerprint=Queries.identity_fingerprint_hex(row.opener_pk),
            opener_name=opener_name,
            opened_by_me=row.opener_pk == self._me,
            can_change_status=can_change,
            next_statuses=tuple(
                s.label for s in CaseStatus if transition_allowed(CaseStatus(row.status), s)
            ),
            joined=joined,
            members=members,
            opened_at=row.opened_at,
        )

    # -- upkeep (each sync, per active group) -------------------------------------------

    async def maintain(self, group_id: bytes, warnings: list[str] | None = None) -> None:
        """As a parent's organizer: announce our case inbox and read invitations. As a
        case's opener: keep the record current and invite new organizers. As the case's
        reporter: post its shared status line. Relay failures are left for the next pass
        (``RelayUnavailable`` propagates, as for the other upkeep)."""
        session = self._groups.session(group_id)
        if not session.active:
            return
        state = session.state
        if state.is_member(self._me) and state.role_of(self._me) == Role.ORGANIZER:
            await self._announce_inbox(group_id)
            await self._read_invitations(session.relay_url, warnings)
        row = store.load_case(self._ctx.db, group_id)
        if row is None:
            return
        if row.opener_pk == self._me:
            await self._repost_record(row, state)
            await self._invite_organizers(group_id)
        await self._post_line(group_id)

    async def _announce_inbox(self, group_id: bytes) -> None:
        """Tell the group where we receive case invitations, again whenever the roster
        changed (a member who joined since did not see the last announcement)."""
        session = self._groups.session(group_id)
        inbox_id, _ = await self._ensure_inbox(session.relay_url)
        members = b"".join(m.identity_pk for m in session.state.roster())
        roster = hashlib.blake2b(members, digest_size=16).digest()
        if store.announced(self._ctx.db, group_id) == (inbox_id, roster):
            return
        body = CaseInbox(inbox_id)
        await self._outbox.send_content(
            group_id, body.content_type, body.encode(), "can receive dispute cases"
        )
        with self._ctx.db.transaction():
            store.record_inbox(self._ctx.db, group_id, self._me, inbox_id)
            store.set_announced(self._ctx.db, group_id, inbox_id, roster)

    async def _ensure_inbox(self, relay_url: str) -> tuple[bytes, nacl.signing.SigningKey]:
        return await ensure_inbox(self._ctx, _CASE_INBOXES, relay_url)

    async def _read_invitations(self, relay_url: str, warnings: list[str] | None) -> None:
        db = self._ctx.db
        inbox_id, auth = await self._ensure_inbox(relay_url)
        row = store.load_case_inbox(db, relay_url)
        cursor = row.cursor if row is not None else 0
        relay = self._ctx.relays.get(relay_url)
        result = await relay.fetch_inbox(inbox_id, auth, self._ctx.now(), cursor)
        if result.empty:
            return
        for _seq, item in result.items:
            code = self._accept_invitation(item, warnings)
            if code is not None:
                try:
                    await self._making.join(code)
                except ClientError as exc:
                    self._warn(None, "case-join-failed", f"could not join a case: {exc}", warnings)
        last = result.items[-1][0]
        with db.transaction():
            store.set_case_inbox_cursor(db, relay_url, last)
        with contextlib.suppress(RelayError):
            await relay.delete_inbox_items(inbox_id, auth, self._ctx.now(), last)

    def _accept_invitation(self, item: bytes, warnings: list[str] | None) -> str | None:
        """Check an invitation against every group where we are an organizer; store the
        case and return the invite code to join with, or None (with a warning)."""
        db, me = self._ctx.db, self._ctx.identity
        for parent_id in self._groups.active_group_ids():
            state = self._groups.session(parent_id).state
            if not state.is_member(self._me) or state.role_of(self._me) != Role.ORGANIZER:
                continue
            try:
                mine = delivery_keys.identity_for(db, me, state.member(self._me).delivery_cert)
                invitation = CaseInvitation.open(item, mine)
            except RemoteError:
                continue
            if invitation.parent_group_id != parent_id:
                continue
            if not state.is_member(invitation.opener):
                self._warn(
                    parent_id,
                    "bad-case-invitation",
                    "a case invitation from a non-member",
                    warnings,
                )
                return None
            if group_store.load_group(db, invitation.case_group_id) is not None:
                return None  # already in it
            with db.transaction():
                store.insert_case(
                    db,
                    invitation.case_group_id,
                    parent_id,
                    invitation.title,
                    invitation.opener,
                    int(invitation.status),
                    int(Sharing.NONE),
                    self._ctx.now(),
                )
            return invitation.invite_code
        self._warn(None, "bad-case-invitation", "an item in our case inbox did not open", warnings)
        return None

    def _warn(
        self, group_id: bytes | None, kind: str, detail: str, warnings: list[str] | None
    ) -> None:
        self._ctx.events.warn(group_id, kind, detail)
        if warnings is not None:
            warnings.append(detail)

    async def _invite_organizers(self, case_id: bytes) -> int:
        """Send an invitation to each organizer of the parent who announced a case inbox,
        is not in the case and was not invited before; returns how many were sent."""
        row = self._require_case(case_id)
        if row.opener_pk != self._me:
            return 0
        parent = self._groups.session(row.parent_group_id)
        case = self._groups.session(case_id)
        if not parent.active or not case.active:
            return 0
        directory = store.directory(self._ctx.db, row.parent_group_id)
        done = store.invited(self._ctx.db, case_id)
        sent = 0
        for organizer in parent.state.organizers():
            pk = organizer.identity_pk
            if pk == self._me or pk in done or case.state.is_member(pk) or pk not in directory:
                continue
            code = await self._making.create_invite(
                case_id, role=Role.ORGANIZER, ttl_ms=CASE_INVITE_TTL_MS, max_uses=1
            )
            invitation = CaseInvitation(
                row.parent_group_id,
                case_id,
                row.title,
                CaseStatus(row.status),
                code,
                pk,
                self._me,
            )
            item = invitation.seal(self._ctx.identity, organizer.delivery_cert, self._ctx.rng)
            await self._ctx.relays.get(parent.relay_url).post_inbox(directory[pk], item)
            with self._ctx.db.transaction():
                store.invitation_sent(self._ctx.db, case_id, pk, self._ctx.now())
            sent += 1
        return sent

    async def _repost_record(self, row: store.CaseRow, state: GroupState) -> None:
        """Members who joined since our last record did not see it (a joiner reads from
        its ADD on): send it again, with the status and sharing of now."""
        count = len(state.roster())
        if count <= row.record_members:
            return
        record = CaseRecord(
            row.parent_group_id, row.title, CaseStatus(row.status), Sharing(row.sharing)
        )
        await self._outbox.send_content(
            row.case_group_id,
            record.content_type,
            record.encode(),
            f"case: {row.title} ({CaseStatus(row.status).label})",
        )
        with self._ctx.db.transaction():
            store.set_record_members(self._ctx.db, row.case_group_id, count)
            if row.sharing != Sharing.NONE and row.line_status == 0:
                # A reporter may have joined only now: the current status goes out.
                store.set_line_status(self._ctx.db, row.case_group_id, row.status)

    def _reporter(
        self, row: store.CaseRow, case_state: GroupState, parent: GroupState
    ) -> bytes | None:
        """Who posts the case's status lines: the first member of the case roster that
        is an organizer of the parent and not the opener (so the line names no opener)."""
        for member in case_state.roster():
            pk = member.identity_pk
            if pk == row.opener_pk or not parent.is_member(pk):
                continue
            if parent.role_of(pk) == Role.ORGANIZER:
                return pk
        return None

    async def _post_line(self, case_id: bytes) -> None:
        row = self._require_case(case_id)
        if row.line_status == 0:
            return
        parent = self._groups.session(row.parent_group_id)
        case = self._groups.session(case_id)
        if not parent.active or not case.active:
            return
        reporter = self._reporter(row, case.state, parent.state)
        if reporter is None:
            return  # kept until an organizer of the parent is in the case
        if reporter == self._me and row.sharing != Sharing.NONE:
            title = row.title if row.sharing == Sharing.STATUS_AND_TITLE else ""
            line = CaseLine(case_tag(case_id), CaseStatus(row.line_status), title)
            await self._outbox.send_content(
                row.parent_group_id, line.content_type, line.encode(), line.shown()
            )
        with self._ctx.db.transaction():
            store.set_line_status(self._ctx.db, case_id, 0)
