"""Read-side of the engine: groups, members, messages and search as view values.

``Queries.reader`` is the desktop app's own connection for its lists: it is read-only
(``PRAGMA query_only``) and never loads a secret — no identity or delivery key, no epoch
secret, no ratchet chain — only the public identity key (from the delivery certificate)
and group states replayed from the signed log. Every write goes through the engine.
"""

from __future__ import annotations

from typing import Any

from app.core.database import Database
from app.core.errors import ClientError, NotFound, NotPermittedHere
from app.core.verified_keys import verified_keys
from app.core.views import (
    DEFAULT_CHANNEL,
    ChannelView,
    GroupView,
    JoinRequestView,
    MemberView,
    MessageView,
    ProfileView,
)
from crypto.group_log import GroupState, LogEntry, Role
from crypto.identity import DeliveryCert, fingerprint

__all__ = ["Queries"]

_MESSAGE_COLUMNS = (
    "id, group_id, channel_id, message_id, sender_pk, sender_name, text, sent_at, status, warning"
)


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
        row = db.one("SELECT delivery_cert FROM profile")
        if row is None:
            raise NotFound("the profile database holds no profile")
        db.execute("PRAGMA query_only = ON")
        return cls(db, DeliveryCert.decode(bytes(row[0])).identity_pk)

    def group_state(self, group_id: bytes) -> tuple[GroupState, str]:
        """The group's validated state and its status (``active``, ``removed``, ...), as
        stored; the engine overrides this with its live sessions."""
        cached = self._read_cache.get(group_id)
        if cached is None:
            row = self.db.one("SELECT status FROM groups WHERE group_id = ?", (group_id,))
            if row is None:
                raise NotFound("no such group")
            cached = GroupState.replay(self.log(group_id)), str(row[0])
            self._read_cache[group_id] = cached
        return cached

    def eligible_voters(self, group_id: bytes) -> int:
        """How many members have a registered ballot key (who a new ballot counts)."""
        return len(self.group_state(group_id)[0].ballot_roster())

    def verified_keys(self) -> dict[bytes, str]:
        """Identity keys this person verified -> the member's name at the time."""
        return verified_keys(self.db)

    def forget(self, group_id: bytes | None = None) -> None:
        """Drop cached group state after a ``GroupChanged`` event (reader use)."""
        if group_id is None:
            self._read_cache.clear()
        else:
            self._read_cache.pop(group_id, None)

    def profile(self) -> ProfileView:
        """This profile's display name and default relay."""
        row = self.db.one("SELECT name, relay_url FROM profile")
        if row is None:
            raise NotFound("the profile database holds no profile")
        return ProfileView(name=str(row[0]), relay_url=str(row[1]), fingerprint=self.fingerprint)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.me).hex()

    @staticmethod
    def identity_fingerprint_hex(identity_pk: bytes) -> str:
        return fingerprint(identity_pk).hex()

    # -- groups ---------------------------------------------------------------------------

    def group_ids(self) -> list[bytes]:
        return [row[0] for row in self.db.all("SELECT group_id FROM groups ORDER BY joined_at")]

    def group(self, group_id: bytes) -> GroupView:
        state, status = self.group_state(group_id)
        role = state.role_of(self.me) if state.is_member(self.me) else None
        (read_upto,) = self.db.one("SELECT read_upto FROM groups WHERE group_id = ?", (group_id,))
        (unread,) = self.db.one(
            "SELECT count(*) FROM messages WHERE group_id = ? AND id > ? AND sender_pk != ?",
            (group_id, read_upto, self.me),
        )
        channels = [ChannelView(DEFAULT_CHANNEL, "general", False)] + [
            ChannelView(c.channel_id, c.name, c.announce_only) for c in state.channels.values()
        ]
        return GroupView(
            group_id=group_id,
            name=state.name,
            status=status,
            my_role=_role_name(role) if role is not None else None,
            member_count=len(state.roster()),
            unread=unread,
            channels=tuple(channels),
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

    def mark_read(self, group_id: bytes) -> None:
        with self.db.transaction():
            self.db.execute(
                "UPDATE groups SET read_upto = (SELECT coalesce(max(id), 0) FROM messages"
                " WHERE group_id = ?) WHERE group_id = ?",
                (group_id, group_id),
            )

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
            )
            for record in state.roster()
        ]
        views.sort(key=lambda m: (m.role != "organizer", m.name.casefold(), m.fingerprint))
        return views

    def member_by_fingerprint(self, state: GroupState, text: str) -> bytes:
        wanted = text.strip().lower()
        if len(wanted) < 16:
            raise ClientError("give at least 16 hex digits of the fingerprint")
        found = [
            record.identity_pk
            for record in state.roster()
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
        return [
            LogEntry.decode(raw)
            for (raw,) in self.db.all(
                "SELECT entry FROM log_entries WHERE group_id = ? ORDER BY seq", (group_id,)
            )
        ]

    def join_requests(self, group_id: bytes | None = None) -> list[JoinRequestView]:
        from crypto.invite import InviteSecrets, JoinRequest

        rows = self.db.all(
            "SELECT r.id, r.group_id, r.request, r.status, r.received_at, i.secret"
            " FROM join_requests r JOIN invites i ON i.invite_id = r.invite_id"
            " WHERE (? IS NULL OR r.group_id = ?) ORDER BY r.id",
            (group_id, group_id),
        )
        views = []
        for request_id, gid, raw, status, received_at, secret in rows:
            request = JoinRequest.open(InviteSecrets.derive(secret), raw)
            views.append(
                JoinRequestView(
                    request_id,
                    gid,
                    request.name,
                    fingerprint(request.identity_pk).hex(),
                    status,
                    received_at,
                )
            )
        return views

    # -- messages -------------------------------------------------------------------------

    def _view(self, row: Any) -> MessageView:
        return MessageView(
            row_id=row[0],
            group_id=row[1],
            channel_id=row[2],
            message_id=row[3],
            sender_name=row[5],
            sender_fingerprint=fingerprint(row[4]).hex(),
            text=row[6],
            sent_at=row[7],
            status=row[8],
            warning=row[9],
            is_mine=row[4] == self.me,
        )

    def message(self, row_id: int) -> MessageView:
        row = self.db.one(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (row_id,))  # noqa: S608
        if row is None:
            raise NotFound("no such message")
        return self._view(row)

    def messages(
        self,
        group_id: bytes,
        channel_id: bytes | None = None,
        *,
        limit: int | None = None,
        before: int | None = None,
    ) -> list[MessageView]:
        """Messages in display order (oldest first); ``limit`` takes the newest ones."""
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE group_id = ?"  # noqa: S608
        params: list[Any] = [group_id]
        if channel_id is not None:
            sql += " AND channel_id = ?"
            params.append(channel_id)
        if before is not None:
            sql += " AND id < ?"
            params.append(before)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.db.all(sql, tuple(params))
        rows.reverse()
        return [self._view(row) for row in rows]

    def message_count(self, group_id: bytes, channel_id: bytes | None = None) -> int:
        if channel_id is None:
            (count,) = self.db.one("SELECT count(*) FROM messages WHERE group_id = ?", (group_id,))
        else:
            (count,) = self.db.one(
                "SELECT count(*) FROM messages WHERE group_id = ? AND channel_id = ?",
                (group_id, channel_id),
            )
        return int(count)

    def search(
        self, query: str, group_id: bytes | None = None, limit: int = 200
    ) -> list[MessageView]:
        """Full-text search (SQLite FTS5 inside the encrypted database)."""
        terms = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
        if not terms:
            return []
        rows = self.db.all(
            f"SELECT {', '.join('m.' + c.strip() for c in _MESSAGE_COLUMNS.split(','))}"  # noqa: S608
            " FROM messages_fts f JOIN messages m ON m.id = f.rowid"
            " WHERE messages_fts MATCH ? AND (? IS NULL OR m.group_id = ?)"
            " ORDER BY m.id DESC LIMIT ?",
            (terms, group_id, group_id, limit),
        )
        return [self._view(row) for row in rows]


def _role_name(role: Role) -> str:
    return "organizer" if role == Role.ORGANIZER else "member"
