"""An inbox of ours on one relay (join answers, case invitations): made once with a
random id and auth seed, registered with the relay, and kept in a table of the profile.
The relay checks the auth key on every read, so only this profile reads it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import nacl.signing

from app.core.database import Database
from app.core.errors import RelayRejected
from app.core.ports import Context

__all__ = ["InboxTable", "ensure_inbox"]


class InboxRecord(Protocol):
    @property
    def inbox_id(self) -> bytes: ...

    @property
    def auth_seed(self) -> bytes: ...

    @property
    def registered(self) -> bool: ...


@dataclass(frozen=True)
class InboxTable:
    """Where one kind of inbox is kept (``store.invites`` or ``store.cases``)."""

    load: Callable[[Database, str], InboxRecord | None]
    insert: Callable[[Database, str, bytes, bytes], None]
    mark_registered: Callable[[Database, str], None]


async def ensure_inbox(
    ctx: Context, table: InboxTable, relay_url: str
) -> tuple[bytes, nacl.signing.SigningKey]:
    """Our inbox on ``relay_url`` and the key that reads it, made and registered first if
    needed (a registration whose answer was lost is finished on the next call)."""
    db = ctx.db
    row = table.load(db, relay_url)
    if row is None:
        inbox_id, seed = ctx.rng(16), ctx.rng(32)
        with db.transaction():
            table.insert(db, relay_url, inbox_id, seed)
        registered = False
    else:
        inbox_id, seed, registered = row.inbox_id, row.auth_seed, row.registered
    auth = nacl.signing.SigningKey(seed)
    if not registered:
        try:
            await ctx.relays.get(relay_url).create_inbox(inbox_id, bytes(auth.verify_key))
        except RelayRejected as exc:
            if exc.code != "exists":
                raise
            # Created by an earlier attempt whose answer was lost; the relay still checks
            # our auth key on every read, so a stranger's inbox is unusable.
        with db.transaction():
            table.mark_registered(db, relay_url)
    return inbox_id, auth
