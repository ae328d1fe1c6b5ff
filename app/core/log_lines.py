"""Chat lines for changes to the group: joins, removals, leaves, role changes, renames,
new channels and description changes (docs/protocol.md 4.1.3).

Nothing travels for them: each member writes the line itself when it applies the signed
log entry, in the same transaction and at the same place in the mailbox order as the
messages around it, so every member who applied the entry shows the same line at the
same place. The line is a message row of ``LOG_LINE``, a content type that never goes
on the wire (a received message claiming it has no handler and is rejected).
"""

from __future__ import annotations

from collections.abc import Sequence

from app.core.database import Database
from app.core.message_kinds import LOG_LINE, classify
from app.core.status import MessageStatus
from app.core.store import messages as message_store
from app.core.views import DEFAULT_CHANNEL, MessageView
from crypto.group_log import GroupState, LogEntry, Role
from crypto.identity import fingerprint
from crypto.log_entry import ZERO_ID, AddBody, EntryKind

__all__ = ["line_for", "record", "record_join"]


def _name(state: GroupState, identity_pk: bytes) -> str:
    record = state.members.get(identity_pk)
    return record.name if record is not None else "someone"


def line_for(before: GroupState, entry: LogEntry, after: GroupState) -> str | None:
    """What the line says about ``entry`` (applied to ``before``, giving ``after``), or
    None for entries a member has no reason to see (invites, rekeys, keys)."""
    # A linked device writes its member's entries: the line names the member, and the
    # devices (slots of their own in the roster) are never "joined" or "gone" people.
    author = _name(before, before.owners.get(entry.author, entry.author))
    joined = [m for m in after.people() if not before.is_member(m.identity_pk)]
    gone = [m for m in before.people() if not after.is_member(m.identity_pk)]
    if entry.kind == EntryKind.ADD and joined:
        who = joined[0]
        if AddBody.decode(entry.body).invite_id != ZERO_ID:
            return f"{who.name} joined with {author}'s invite"
        return f"{author} added {who.name}"
    if entry.kind == EntryKind.REMOVE and gone:
        return f"{author} removed {gone[0].name}"
    if entry.kind == EntryKind.LEAVE:
        return f"{author} left"
    if entry.kind == EntryKind.ROLE:
        for member in after.people():
            if before.is_member(member.identity_pk) and (
                before.role_of(member.identity_pk) != member.role
            ):
                role = "an organizer" if member.role == Role.ORGANIZER else "a member"
                return f"{author} made {member.name} {role}"
        return None
    if entry.kind == EntryKind.RENAME:
        return f"{author} renamed the group to “{after.name}”"
    if entry.kind == EntryKind.DESCRIBE:
        if not after.description:
            return f"{author} removed the group description"
        return f"{author} changed the group description"
    if entry.kind == EntryKind.DEVICE_ADD:
        return f"{author} linked a new device; {author}'s safety number changed"
    if entry.kind == EntryKind.DEVICE_REMOVE:
        return f"{author} removed a linked device"
    if entry.kind == EntryKind.CHANNEL:
        added = [c for c in after.channels.sorted_values if c.channel_id not in before.channels]
        if added:
            return f"{author} created the channel #{added[0].name}"
        return f"{author} changed a channel"
    return None


def record(
    db: Database,
    group_id: bytes,
    before: GroupState,
    entry: LogEntry,
    after: GroupState,
    me_pk: bytes,
    relay_seq: int | None,
    now: int,
) -> MessageView | None:
    """Store the line for ``entry`` (joins the caller's transaction); its view, or None
    when the entry makes no line."""
    text = line_for(before, entry, after)
    if text is None:
        return None
    author = _name(before if before.is_member(entry.author) else after, entry.author)
    row_id = message_store.insert_message(
        db,
        group_id,
        DEFAULT_CHANNEL,
        None,
        entry.author,
        author,
        entry.timestamp,
        now,
        LOG_LINE,
        entry.hash,
        text,
        MessageStatus.RECEIVED,
        relay_seq if relay_seq is not None else 0,
        None,
    )
    if row_id is None:
        return None
    kind, opens = classify(LOG_LINE)
    return MessageView(
        row_id=row_id,
        group_id=group_id,
        channel_id=DEFAULT_CHANNEL,
        message_id=None,
        sender_name=author,
        sender_fingerprint=fingerprint(entry.author).hex(),
        text=text,
        sent_at=entry.timestamp,
        status=MessageStatus.RECEIVED,
        warning=None,
        is_mine=entry.author == me_pk,
        kind=kind.value,
        opens=opens.value if opens is not None else None,
    )


def record_join(
    db: Database, entries: Sequence[LogEntry], after: GroupState, me_pk: bytes, now: int
) -> None:
    """A joiner's first line: the entry that added it, as the members who were there
    see it (the history before it is not ours to show)."""
    if len(entries) < 2 or entries[-1].kind != EntryKind.ADD or not after.is_member(me_pk):
        return
    before = GroupState.replay(entries[:-1])
    if before.is_member(me_pk):
        return
    record(db, after.group_id, before, entries[-1], after, me_pk, None, now)
