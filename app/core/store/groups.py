"""Every SQL statement on a group's tables (migrations/0001_init.sql).

``groups`` (one row per group we are or were in), ``log_entries`` (the signed group log),
``epoch_keys`` (the keys of the live epoch, never its secret: 0012_delivery_keys.sql),
``epochs`` (the bare live epoch secret of profiles before 0012, converted on open),
``send_chains`` / ``recv_chains`` (the ratchet chains of the live epoch), ``sender_heads``
(the last message hash seen from each sender) and ``warnings`` (integrity findings).

A group's ``status`` is a ``GroupStatus`` and changes only along ``GROUP_TRANSITIONS``, by
an ``UPDATE`` guarded by the old status. Functions that read key material
(``load_epoch_keys``, ``load_legacy_epoch``, ``load_send_chain``, ``load_recv_chains``)
are never called by the desktop app's read-only connection; the others select no secret
column.
Write functions join the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.database import Database
from app.core.status import GROUP_TRANSITIONS, GroupStatus, move
from crypto.errors import UsageError
from crypto.group_log import LogEntry
from crypto.key_schedule import EpochKeys
from crypto.ratchet import ReceiveChain, SendChain

__all__ = [
    "GroupRow",
    "LegacyEpochRow",
    "LoggedEntry",
    "active_group_ids",
    "clear_chains",
    "delete_key_material",
    "group_ids",
    "insert_group",
    "insert_log_entry",
    "insert_warning",
    "last_sent",
    "legacy_epoch_groups",
    "live_epoch",
    "load_epoch_keys",
    "load_group",
    "load_legacy_epoch",
    "load_log",
    "load_recv_chains",
    "load_send_chain",
    "load_sender_heads",
    "logged_entry",
    "mark_read",
    "save_epoch_keys",
    "save_recv_chains",
    "save_send_chain",
    "save_sender_heads",
    "set_cursor",
    "set_last_sent",
    "set_muted",
    "set_status",
]


# -- rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupRow:
    """One ``groups`` row, without ``last_sent`` (read only when sealing)."""

    group_id: bytes
    relay_url: str
    mailbox_id: bytes
    cursor: int
    status: GroupStatus
    read_upto: int
    joined_at: int
    muted: bool = False


@dataclass(frozen=True)
class LegacyEpochRow:
    """A live epoch stored as its bare secret by a profile before migration 0012."""

    epoch: int
    secret: bytes


@dataclass(frozen=True)
class LoggedEntry:
    """A stored log entry, encoded, with where it sat in the mailbox (None if unknown)."""

    entry: bytes
    relay_seq: int | None


# -- groups -----------------------------------------------------------------------------


def insert_group(
    db: Database, group_id: bytes, relay_url: str, mailbox_id: bytes, cursor: int, joined_at: int
) -> None:
    """A group we just created or joined, ``active``."""
    db.execute(
        "INSERT INTO groups (group_id, relay_url, mailbox_id, cursor, joined_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (group_id, relay_url, mailbox_id, cursor, joined_at),
    )


def load_group(db: Database, group_id: bytes) -> GroupRow | None:
    row = db.one(
        "SELECT relay_url, mailbox_id, cursor, status, read_upto, joined_at, muted FROM groups"
        " WHERE group_id = ?",
        (group_id,),
    )
    if row is None:
        return None
    return GroupRow(
        group_id=group_id,
        relay_url=str(row[0]),
        mailbox_id=bytes(row[1]),
        cursor=int(row[2]),
        status=GroupStatus(row[3]),
        read_upto=int(row[4]),
        joined_at=int(row[5]),
        muted=bool(row[6]),
    )


def group_ids(db: Database) -> list[bytes]:
    """Every group, in the order we joined them."""
    return [bytes(row[0]) for row in db.all("SELECT group_id FROM groups ORDER BY joined_at")]


def active_group_ids(db: Database) -> list[bytes]:
    return [
        bytes(row[0])
        for row in db.all(
            "SELECT group_id FROM groups WHERE status = ? ORDER BY joined_at",
            (GroupStatus.ACTIVE.value,),
        )
    ]


def set_cursor(db: Database, group_id: bytes, cursor: int) -> None:
    """The last relay sequence number processed."""
    db.execute("UPDATE groups SET cursor = ? WHERE group_id = ?", (cursor, group_id))


def set_status(db: Database, group_id: bytes, old: GroupStatus, new: GroupStatus) -> None:
    """Move the group's status along ``GROUP_TRANSITIONS``; ``UsageError`` when the table
    forbids it or the stored status is not ``old``."""
    move(GROUP_TRANSITIONS, old, new)
    cursor = db.execute(
        "UPDATE groups SET status = ? WHERE group_id = ? AND status = ?",
        (new.value, group_id, old.value),
    )
    if cursor.rowcount != 1:
        raise UsageError(f"the group's status is not {old}")


def last_sent(db: Database, group_id: bytes) -> bytes:
    """The hash of our last sealed message (zeros before the first)."""
    row = db.one("SELECT last_sent FROM groups WHERE group_id = ?", (group_id,))
    if row is None:
        raise UsageError("no such group")
    return bytes(row[0])


def set_last_sent(db: Database, group_id: bytes, message_hash: bytes) -> None:
    db.execute("UPDATE groups SET last_sent = ? WHERE group_id = ?", (message_hash, group_id))


def set_muted(db: Database, group_id: bytes, muted: bool) -> None:
    """Whether the group raises notifications (0006_group_mute.sql)."""
    db.execute("UPDATE groups SET muted = ? WHERE group_id = ?", (int(muted), group_id))


def mark_read(db: Database, group_id: bytes) -> None:
    """Everything in the group so far counts as read."""
    db.execute(
        "UPDATE groups SET read_upto = (SELECT coalesce(max(id), 0) FROM messages"
        " WHERE group_id = ?) WHERE group_id = ?",
        (group_id, group_id),
    )


# -- the group log ----------------------------------------------------------------------


def insert_log_entry(db: Database, group_id: bytes, entry: LogEntry, relay_seq: int | None) -> None:
    db.execute(
        "INSERT INTO log_entries (group_id, seq, entry, relay_seq) VALUES (?, ?, ?, ?)",
        (group_id, entry.seq, entry.encode(), relay_seq),
    )


def load_log(db: Database, group_id: bytes, upto: int | None = None) -> list[LogEntry]:
    """The group's log in order, up to entry ``upto`` when given."""
    if upto is None:
        rows = db.all("SELECT entry FROM log_entries WHERE group_id = ? ORDER BY seq", (group_id,))
    else:
        rows = db.all(
            "SELECT entry FROM log_entries WHERE group_id = ? AND seq <= ? ORDER BY seq",
            (group_id, upto),
        )
    return [LogEntry.decode(bytes(row[0])) for row in rows]


def logged_entry(db: Database, group_id: bytes, seq: int) -> LoggedEntry | None:
    """Entry ``seq`` as stored, or None."""
    row = db.one(
        "SELECT entry, relay_seq FROM log_entries WHERE group_id = ? AND seq = ?",
        (group_id, seq),
    )
    if row is None:
        return None
    return LoggedEntry(bytes(row[0]), int(row[1]) if row[1] is not None else None)


# -- key material of the live epoch -----------------------------------------------------


def live_epoch(db: Database, group_id: bytes) -> int | None:
    """The number of the group's live epoch (its keys not read), or None."""
    row = db.one("SELECT epoch FROM epoch_keys WHERE group_id = ?", (group_id,))
    return int(row[0]) if row is not None else None


def load_epoch_keys(db: Database, group_id: bytes) -> EpochKeys | None:
    """The live epoch's keys (without its secret), or None."""
    row = db.one("SELECT keys FROM epoch_keys WHERE group_id = ?", (group_id,))
    return EpochKeys.decode(bytes(row[0])) if row is not None else None


def save_epoch_keys(db: Database, keys: EpochKeys) -> None:
    """The live epoch's keys, replacing the previous epoch's; ``UsageError`` if they
    still carry the epoch secret (it is never stored)."""
    if keys.secret is not None:
        raise UsageError("forget the epoch secret before storing the epoch's keys")
    db.execute(
        "INSERT OR REPLACE INTO epoch_keys (group_id, epoch, keys) VALUES (?, ?, ?)",
        (keys.group_id, keys.epoch, keys.encode()),
    )
    db.execute("DELETE FROM epochs WHERE group_id = ?", (keys.group_id,))
    db.secret_deleted()  # the previous epoch's keys


def legacy_epoch_groups(db: Database) -> list[bytes]:
    """Groups whose live epoch is still stored as a bare secret (before 0012)."""
    return [bytes(row[0]) for row in db.all("SELECT group_id FROM epochs")]


def load_legacy_epoch(db: Database, group_id: bytes) -> LegacyEpochRow | None:
    row = db.one("SELECT epoch, secret FROM epochs WHERE group_id = ?", (group_id,))
    return LegacyEpochRow(int(row[0]), bytes(row[1])) if row is not None else None


def clear_chains(db: Database, group_id: bytes) -> None:
    """Delete the send and receive chains (they belong to an epoch that ended)."""
    db.execute("DELETE FROM send_chains WHERE group_id = ?", (group_id,))
    db.execute("DELETE FROM recv_chains WHERE group_id = ?", (group_id,))


def delete_key_material(db: Database, group_id: bytes) -> None:
    """Delete the epoch's keys and every chain (we are no longer a member)."""
    db.execute("DELETE FROM epochs WHERE group_id = ?", (group_id,))
    db.execute("DELETE FROM epoch_keys WHERE group_id = ?", (group_id,))
    db.secret_deleted()
    clear_chains(db, group_id)


def load_send_chain(db: Database, group_id: bytes) -> SendChain | None:
    row = db.one("SELECT chain FROM send_chains WHERE group_id = ?", (group_id,))
    return SendChain.decode(bytes(row[0])) if row is not None else None


def save_send_chain(db: Database, group_id: bytes, chain: SendChain) -> None:
    db.execute(
        "INSERT OR REPLACE INTO send_chains (group_id, chain) VALUES (?, ?)",
        (group_id, chain.encode()),
    )


def load_recv_chains(db: Database, group_id: bytes) -> dict[int, ReceiveChain]:
    """Sender index -> that sender's receive chain."""
    return {
        int(index): ReceiveChain.decode(bytes(raw))
        for index, raw in db.all(
            "SELECT sender_index, chain FROM recv_chains WHERE group_id = ?", (group_id,)
        )
    }


def save_recv_chains(db: Database, group_id: bytes, chains: dict[int, ReceiveChain]) -> None:
    if chains:
        db.executemany(
            "INSERT OR REPLACE INTO recv_chains (group_id, sender_index, chain) VALUES (?, ?, ?)",
            [(group_id, index, chain.encode()) for index, chain in chains.items()],
        )


# -- sender heads -----------------------------------------------------------------------


def load_sender_heads(db: Database, group_id: bytes) -> dict[bytes, bytes]:
    """Sender identity key -> hash of the last message seen from them."""
    return {
        bytes(pk): bytes(last)
        for pk, last in db.all(
            "SELECT sender_pk, last_hash FROM sender_heads WHERE group_id = ?", (group_id,)
        )
    }


def save_sender_heads(db: Database, group_id: bytes, heads: dict[bytes, bytes]) -> None:
    if heads:
        db.executemany(
            "INSERT OR REPLACE INTO sender_heads (group_id, sender_pk, last_hash) VALUES (?, ?, ?)",
            [(group_id, pk, last) for pk, last in heads.items()],
        )


# -- warnings --------------------------------------------------------------------------


def insert_warning(db: Database, group_id: bytes | None, kind: str, detail: str, at: int) -> None:
    """An integrity finding shown to the person (a gap, a fork, a rejected item)."""
    db.execute(
        "INSERT INTO warnings (group_id, kind, detail, at) VALUES (?, ?, ?, ?)",
        (group_id, kind, detail, at),
    )
