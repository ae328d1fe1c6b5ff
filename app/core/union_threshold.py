"""The k threshold of a group's reports board: figures only where at least k reports exist.

Organizers set it with a signed group message (content type 49); the latest accepted one
holds, in every member's client alike (docs/union-tools.md section 5).
"""

from __future__ import annotations

from app.core.database import Database
from app.core.errors import ClientError, NotPermittedHere
from app.core.ports import Groups, Sending
from app.core.store import union_reports as store
from app.core.union_receive import threshold_text
from crypto.errors import MalformedData
from crypto.group_log import Role
from crypto.identity import Identity
from crypto.union.reports import CONTENT_TYPE_THRESHOLD, DEFAULT_K, ThresholdSetting

__all__ = ["below_text", "current_k", "set_threshold"]


def current_k(db: Database, group_id: bytes) -> int:
    """The group's k: the latest an organizer set, else ``DEFAULT_K``."""
    k = store.load_threshold(db, group_id)
    return DEFAULT_K if k is None else k


def below_text(k: int) -> str:
    return f"fewer than {k} reports"


async def set_threshold(
    groups: Groups, sending: Sending, identity: Identity, group_id: bytes, k: int
) -> None:
    """An organizer sets k (at least ``MIN_K``) for the group's rates and client reports."""
    session = groups.require_active(group_id)
    me = identity.public_key
    if not session.state.is_member(me) or session.state.role_of(me) != Role.ORGANIZER:
        raise NotPermittedHere("only an organizer can set the reports threshold")
    try:
        body = ThresholdSetting(k).encode()
    except MalformedData as exc:
        raise ClientError(str(exc)) from None
    await sending.send_content(group_id, CONTENT_TYPE_THRESHOLD, body, threshold_text(k))
    await groups.sync_group(group_id)
