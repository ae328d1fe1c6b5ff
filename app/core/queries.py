"""Read-side of the engine: groups, members, messages and search as view values.

``Queries.reader`` is the desktop app's own connection for its lists: it is read-only
(``PRAGMA query_only``) and never loads a secret — no identity or delivery key, no epoch
secret, no ratchet chain — only the public identity key (from the delivery certificate)
and group states replayed from the signed log. Every write goes through the engine.
"""

from __future__ import annotations

from dataclasses import replace

from app.core.database import Database
from app.core.errors import ClientError, NotFound, NotPermittedHere
from app.core.message_kinds import classify
from app.core.pin_views import PinView, load_pins
from app.core.store import attachments as attachment_store
from app.core.store import conversation as conversation_store
from app.core.store import devices as device_store
from app.core.store import groups as group_store
from app.core.store import invites as invite_store
from app.core.store import messages as message_store
from app.core.store import profile as profile_store
from app.core.store.messages import MessageRow
from app.core.verified_keys import VerifiedMark, device_set_digest, verified_keys
from app.core.views import (
    DEFAULT_CHANNEL,
    AttachmentView,
    ChannelView,
    GroupView,
    JoinRequestView,
    MemberView,
    MessageView,
    ProfileView,
)
from crypto.device import DeviceCert, member_safety_number
from crypto.group_log import GroupState, LogEntry, Role
from crypto.identity import DeliveryCert, fingerprint

__all__ = ["Queries"]


class Queries:
    """Reads over the profile database; the engine adds the writes."""

    def __init__(self, db: Database, me: bytes) -> None:
        self.db = db
        self.me = me
        self._read_cache: dict[bytes, tuple[GroupState, str]] = {}

    @classmethod
    def reader(cls, db: Database) -> Queries:
        """A read-only view over its own connection (for a UI thread beside the engine):
        from here on the connection refuses writes, and no secret is read."""
        row = profile_store.public_profile(db)
        if row is None:
            raise NotFound("the profile database holds no profile")
        db.refuse_writes()
        linked = device_store.device_self(db)  # a linked device reads as its member
        if linked is not None:
            return cls(db, DeviceCert.decode(linked[0]).owner_pk)
        return cls(db, DeliveryCert.decode(row.delivery_cert).identity_pk)

    def group_state(self, group_id: bytes) -> tuple[GroupState, str]:
        """The group's validated state and its status (``active``, ``removed``, ...), as
        stored; the engine overrides this with its live sessions."""
        cached = self._read_cache.get(group_id)
        if cached is None:
            row = group_store.load_group(self.db, group_id)
            if row is None:
                raise NotFound("no such group")
            cached = GroupState.replay(self.log(group_id)), row.status
            self._read_cache[group_id] = cached
        return cached

    def eligible_voters(self, group_id: bytes) -> int:
        """How many members have a registered ballot key (who a new ballot counts)."""
        return len(self.group_state(group_id)[0].ballot_roster())

    def verified_keys(self) -> dict[bytes, VerifiedMark]:
        """Identity keys this person verified -> the name and device set at the time."""
        return verified_keys(self.db)

    def forget(self, group_id: bytes | None = None) -> None:
        """Drop cached group state after a ``GroupChanged`` event (reader use)."""
        if group_id is None:
            self._read_cache.clear()
        else:
            self._read_cache.pop(group_id, None)

    def profile(self) -> ProfileView:
        """This profile's display name and default relay."""
        row = profile_store.public_profile(self.db)
        if row is None:
            raise NotFound("the profile database holds no profile")
        return ProfileView(name=row.name, relay_url=row.relay_url, fingerprint=self.fingerprint)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.me).hex()

    @staticmethod
    def identity_fingerprint_hex(identity_pk: bytes) -> str:
        return fingerprint(identity_pk).hex()

    # -- groups ---------------------------------------------------------------------------

    def group_ids(self) -> list[bytes]:
        return group_store.group_ids(self.db)

    def group(self, group_id: bytes) -> GroupView:
        state, status = self.group_state(group_id)
        role = state.role_of(self.me) if state.is_member(self.me) else None
        row = group_store.load_group(self.db, group_id)
        if row is None:
            raise NotFound("no such group")
        unread = message_store.count_unread(self.db, group_id, row.read_upto, self.me)
        channels = [ChannelView(DEFAULT_CHANNEL, "general", False)] + [
            ChannelView(c.channel_id, c.name, c.announce_only) for c in state.channels.values()
        ]
        return GroupView(
            group_id=group_id,
            name=state.name,
            status=status,
            my_role=_role_name(role) if role is not None else None,
            member_count=len(state.people()),
            unread=unread,
            channels=tuple(channels),
            muted=row.muted,
            read_upto=row.read_upto,
            description=state.description,
        )

    def groups(self) -> list[GroupView]:
        return [self.group(group_id) for group_id in self.group_ids()]

    def resolve_group(self, text: str) -> bytes:
        """A group by its 32-hex-digit id or its exact name."""
        text = text.strip()
        ids = self.group_ids()
        if len(text) == 32:
            try:
                wanted = bytes.fromhex(text)
            except ValueError:
                wanted = b""
            if wanted in ids:
                return wanted
        matches = [gid for gid in ids if self.group_state(gid)[0].name == text]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ClientError(f"several groups are named {text!r}; use the group id")
        raise NotFound(f"no group {text!r}")

    def set_muted(self, group_id: bytes, muted: bool) -> None:
        if group_store.load_group(self.db, group_id) is None:
            raise NotFound("no such group")
        with self.db.transaction():
            group_store.set_muted(self.db, group_id, muted)

    def mark_read(self, group_id: bytes) -> None:
        with self.db.transaction():
            group_store.mark_read(self.db, group_id)

    # -- members --------------------------------------------------------------------------

    def members(self, group_id: bytes) -> list[MemberView]:
        """The roster for display: organizers first, then by name."""
        state = self.group_state(group_id)[0]
        me = self.me
        views = [
            MemberView(
                name=record.name,
                fingerprint=fingerprint(record.identity_pk).hex(),
                role=_role_name(record.role),
                identity_pk=record.identity_pk,
                is_me=record.identity_pk == me,
                devices=device_set_digest(state.devices_of(record.identity_pk)),
            )
            for record in state.people()  # one row per member, not per device
        ]
        views.sort(key=lambda m: (m.role != "organizer", m.name.casefold(), m.fingerprint))
        return views

    def member_safety_number(self, group_id: bytes, member_fingerprint: str) -> str:
        """Our safety number with a member of the group, over both identity keys and both
        members' linked devices (docs/protocol.md 8.3): it changes when a device is added."""
        state = self.group_state(group_id)[0]
        other = self.member_by_fingerprint(state, member_fingerprint)
        return member_safety_number(
            (self.me, state.devices_of(self.me)), (other, state.devices_of(other))
        )

    def member_by_fingerprint(self, state: GroupState, text: str) -> bytes:
        wanted = text.strip().lower()
        if len(wanted) < 16:
            raise ClientError("give at least 16 hex digits of the fingerprint")
        found = [
            record.identity_pk
            for record in state.people()
            if fingerprint(record.identity_pk).hex().startswith(wanted)
        ]
        if len(found) != 1:
            raise NotFound(
                "no member with that fingerprint" if not found else "ambiguous fingerprint"
            )
        return found[0]

    def check_can_post(self, state: GroupState, channel_id: bytes) -> None:
        if channel_id == DEFAULT_CHANNEL:
            return
        channel = state.channels.get(channel_id)
        if channel is None:
            raise NotFound("no such channel")
        if channel.announce_only and state.role_of(self.me) != Role.ORGANIZER:
            raise NotPermittedHere("only organizers can post in this channel")

    def log(self, group_id: bytes) -> list[LogEntry]:
        return group_store.load_log(self.db, group_id)

    def join_requests(self, group_id: bytes | None = None) -> list[JoinRequestView]:
        """Requests to join, with who sent them as the engine recorded it (no secret is
        read: the desktop app's reader uses this)."""
        return [
            JoinRequestView(
                row.request_id,
                row.group_id,
                row.name,
                fingerprint(row.identity_pk).hex(),
                row.status,
                row.received_at,
            )
            for row in invite_store.join_request_senders(self.db, group_id)
        ]

    # -- messages -------------------------------------------------------------------------

    def _views(self, rows: list[MessageRow]) -> list[MessageView]:
        """Views of rows of one group, with their reactions read in one query."""
        if not rows:
            return []
        ids = [row.message_id for row in rows if row.message_id is not None]
        reactions = conversation_store.reactions_for(self.db, rows[0].group_id, ids) if ids else {}
        files = attachment_store.summaries(self.db, [row.row_id for row in rows])
        views = [self._view(row, reactions.get(row.message_id or b"", {})) for row in rows]
        return [
            replace(view, attachments=tuple(AttachmentView(*f) for f in files[view.row_id]))
            if view.row_id in files and not view.deleted
            else view
            for view in views
        ]

    def _view(self, row: MessageRow, reactions: dict[str, list[str]] | None = None) -> MessageView:
        kind, opens = classify(row.content_type)
        return MessageView(
            row_id=row.row_id,
            group_id=row.group_id,
            channel_id=row.channel_id,
            message_id=row.message_id,
            sender_name=row.sender_name,
            sender_fingerprint=fingerprint(row.sender_pk).hex(),
            text=row.text,
            sent_at=row.sent_at,
            status=row.status,
            warning=row.warning,
            is_mine=row.sender_pk == self.me,
            kind=kind.value,
            opens=opens.value if opens is not None else None,
            reply_to=row.reply_to,
            edited=row.edited_at is not None,
            deleted=row.deleted,
            reactions=tuple((emoji, tuple(names)) for emoji, names in (reactions or {}).items()),
        )

    def message(self, row_id: int) -> MessageView:
        row = message_store.load_message(self.db, row_id)
        if row is None:
            raise NotFound("no such message")
        return self._views([row])[0]

    def message_by_id(self, group_id: bytes, message_id: bytes) -> MessageView:
        """A message by its id (the same at every member), or ``NotFound``."""
        found = conversation_store.target(self.db, group_id, message_id)
        if found is None:
            raise NotFound("no such message in this group")
        return self.message(found.row_id)

    def messages(
        self,
        group_id: bytes,
        channel_id: bytes | None = None,
        *,
        limit: int | None = None,
        before: int | None = None,
    ) -> list[MessageView]:
        """Messages in display order (oldest first); ``limit`` takes the newest ones."""
        rows = message_store.load_messages(
            self.db, group_id, channel_id, limit=limit, before=before
        )
        return self._views(rows)

    def message_count(self, group_id: bytes, channel_id: bytes | None = None) -> int:
        return message_store.count_messages(self.db, group_id, channel_id)

    def pinned(self, group_id: bytes) -> list[PinView]:
        """The group's pinned messages, first pinned first (protocol 4.1.3)."""
        return load_pins(self.db, group_id)

    def search(
        self, query: str, group_id: bytes | None = None, limit: int = 200
    ) -> list[MessageView]:
        """Full-text search (SQLite FTS5 inside the encrypted database)."""
        rows = message_store.search(self.db, query, group_id, limit)
        return [self._view(row) for row in rows]


def _role_name(role: Role) -> str:
    return "organizer" if role == Role.ORGANIZER else "member"
