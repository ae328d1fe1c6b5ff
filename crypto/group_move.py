"""Group moves: how an organizer carries a wedged group to a new mailbox (protocol 4.5).

A member who appends a rule-breaking commit moves the relay's mailbox to an epoch no
honest member holds. The organizer authors the next valid entry (a REKEY, or a REMOVE of
the rule-breaker) on the state every honest member still holds, seals it as an ordinary
commit under that epoch's commit key, creates a new mailbox for its epoch, and signs the
binding of the new mailbox to the entry. Members read the move from the help mailbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from crypto.commit import open_commit, open_epoch_delivery, seal_commit
from crypto.errors import InvalidLogEntry, NotPermitted, UnsupportedVersion, UsageError
from crypto.group_log import GroupState, Role
from crypto.identity import Identity, verify_framed
from crypto.items import peek_item
from crypto.key_schedule import EpochKeys
from crypto.log_entry import EntryKind, LogEntry
from crypto.wire import Reader, Writer

__all__ = [
    "MOVE_KINDS",
    "MOVE_VERSION",
    "VerifiedMove",
    "move_epoch",
    "open_group_move",
    "seal_group_move",
]

MOVE_VERSION = 2
MAX_MOVE_COMMIT = 262000
MOVE_KINDS = frozenset({EntryKind.REKEY, EntryKind.REMOVE})


@dataclass(frozen=True)
class VerifiedMove:
    """A move that passed every check: apply ``entry``, enter its epoch with
    ``epoch_secret`` and read ``mailbox_id`` from its start. ``epoch_secret`` is None when
    the move's entry removes us."""

    entry: LogEntry
    state: GroupState
    mailbox_id: bytes
    epoch_secret: bytes | None = field(repr=False)


def _signed_parts(group_id: bytes, mailbox_id: bytes, entry_hash: bytes) -> tuple[bytes, ...]:
    return (group_id, mailbox_id, entry_hash)


def seal_group_move(
    organizer: Identity,
    keys: EpochKeys,
    entry: LogEntry,
    new_state: GroupState,
    new_secret: bytes,
    mailbox_id: bytes,
    rng: Callable[[int], bytes],
) -> bytes:
    """The body of a group move (help kind 3) for ``entry``, authored by ``organizer`` on
    the state of ``keys.epoch`` (``author_entry`` gives entry, secret and new state)."""
    if entry.author != organizer.public_key:
        raise UsageError("a move carries the organizer's own entry")
    if entry.kind not in MOVE_KINDS:
        raise UsageError("a move carries a REKEY or a REMOVE")
    if len(mailbox_id) != 16:
        raise UsageError("mailbox id must be 16 bytes")
    commit = seal_commit(keys, entry, new_state, new_secret, rng)
    signature = organizer.sign("group-move", *_signed_parts(entry.group_id, mailbox_id, entry.hash))
    return bytes(
        Writer()
        .u8(MOVE_VERSION)
        .fixed(mailbox_id, 16)
        .var(commit, MAX_MOVE_COMMIT)
        .fixed(signature, 64)
    )


def move_epoch(body: bytes) -> int:
    """The epoch a move's commit ends, read without any key (``MalformedData``)."""
    _, commit, _ = _parse(body)
    return peek_item(commit)[2]


def _parse(body: bytes) -> tuple[bytes, bytes, bytes]:
    reader = Reader(body)
    version = reader.u8()
    if version != MOVE_VERSION:
        raise UnsupportedVersion(f"group move version {version} (this client speaks 2)")
    mailbox_id = reader.fixed(16)
    commit = reader.var(MAX_MOVE_COMMIT)
    signature = reader.fixed(64)
    reader.finish()
    return mailbox_id, commit, signature


def open_group_move(body: bytes, keys: EpochKeys, state: GroupState, me: Identity) -> VerifiedMove:
    """Check a move against our live ``state`` and its ``keys`` (protocol 4.5 order)."""
    mailbox_id, commit, signature = _parse(body)
    entry = open_commit(keys, commit)
    new_state = state.apply(entry)
    if entry.kind not in MOVE_KINDS:
        raise InvalidLogEntry("a group move carries only a REKEY or a REMOVE")
    if state.role_of(entry.author) != Role.ORGANIZER:
        raise NotPermitted("only an organizer can move the group")
    verify_framed(
        entry.author,
        signature,
        "group-move",
        *_signed_parts(entry.group_id, mailbox_id, entry.hash),
    )
    if not new_state.is_member(me.public_key):
        return VerifiedMove(entry, new_state, mailbox_id, None)
    secret = open_epoch_delivery(commit, entry, new_state, me)
    return VerifiedMove(entry, new_state, mailbox_id, secret)
