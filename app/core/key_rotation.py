"""The schedule that rotates our delivery key in each group, and the tidying after it
(docs/protocol.md 3.2): a DELIVERY_KEY commit when ``delivery_keys.rotation_due`` says
so, then the old private half deleted (by the session, as the entry is applied) and the
database checkpointed so the deleted row does not linger in its write-ahead log.
"""

from __future__ import annotations

from app.core import delivery_keys
from app.core.delivery_keys import KeyPolicy
from app.core.ports import Commits, Context, Groups
from app.core.store import invites as invite_store
from crypto.group_log import EntryKind, GroupState, delivery_key_body

__all__ = ["KeyRotation"]


class KeyRotation:
    """Delivery key rotation for one unlocked profile."""

    def __init__(self, ctx: Context, groups: Groups, commits: Commits, policy: KeyPolicy) -> None:
        self._ctx = ctx
        self._groups = groups
        self._commits = commits
        self.policy = policy

    def due(self, group_id: bytes) -> bool:
        session = self._groups.require_active(group_id)
        return delivery_keys.rotation_due(
            self._ctx.db, session.state, self._ctx.identity.public_key, self._ctx.now(), self.policy
        )

    async def rotate(self, group_id: bytes) -> None:
        """Replace our delivery key in the group with a fresh one (a DELIVERY_KEY commit);
        the old private half is deleted as soon as the entry is applied."""
        self._groups.require_active(group_id)
        db = self._ctx.db
        with db.transaction():
            fresh = delivery_keys.begin_rotation(
                db, self._ctx.identity, group_id, self._ctx.rng, self._ctx.now()
            )
        cert = fresh.delivery_cert

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            return EntryKind.DELIVERY_KEY, delivery_key_body(cert)

        await self._commits.commit(group_id, make)
        self.tidy()
        self._ctx.db.checkpoint()

    async def maintain(self, group_id: bytes) -> None:
        """Rotate when due, then tidy."""
        if self._groups.session(group_id).active and self.due(group_id):
            await self.rotate(group_id)
        self.tidy()

    def tidy(self) -> None:
        """Delete an older profile's single key once nothing uses it. The engine
        checkpoints the database after each sync pass, so deleted rows leave the log."""
        db = self._ctx.db
        me = self._ctx.identity.public_key
        sessions = [self._groups.session(g) for g in self._groups.active_group_ids()]
        listed = {
            s.state.member(me).delivery_cert.delivery_pk
            for s in sessions
            if s.active and s.state.is_member(me)
        }
        codes = [row.code for row in invite_store.pending_joins(db)]
        with db.transaction():
            delivery_keys.collect_profile_keys(db, listed, codes)
