"""The group's description: organizers set it with a signed DESCRIBE log entry
(docs/protocol.md 4.1.3), so every member holds the same text, a joiner gets it with the
log, and an entry from anyone else is refused by every client like any other entry an
author's role does not allow."""

from __future__ import annotations

from app.core.errors import ClientError, NotPermittedHere
from app.core.events import GroupChanged
from app.core.ports import Commits, Context, Groups
from crypto.group_log import GroupState, Role
from crypto.log_entry import EntryKind, describe_body, description_problem

__all__ = ["Description"]


class Description:
    """The engine part that sets and reads a group's description."""

    def __init__(self, ctx: Context, groups: Groups, commits: Commits) -> None:
        self._ctx = ctx
        self._groups = groups
        self._commits = commits

    def get(self, group_id: bytes) -> str:
        return self._groups.session(group_id).state.description

    async def describe(self, group_id: bytes, text: str) -> None:
        """Set the description (an empty text removes it); organizers only."""
        self._groups.require_active(group_id)
        text = text.strip()
        problem = description_problem(text)
        if problem is not None:
            raise ClientError(problem)
        body = describe_body(text)

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            if state.role_of(self._ctx.identity.public_key) != Role.ORGANIZER:
                raise NotPermittedHere("only organizers can change the group description")
            if state.description == text:
                raise ClientError("the group already has this description")
            return EntryKind.DESCRIBE, body

        await self._commits.commit(group_id, make)
        self._ctx.events.emit(GroupChanged(group_id))
