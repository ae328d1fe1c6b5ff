"""Every SQL statement on backups (migrations/0019_backups.sql): the backup public key and
the periodic-backup settings, and the groups a restore left waiting for an epoch of their
own. Write functions join the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.core.database import Database

__all__ = [
    "BackupSettings",
    "Schedule",
    "clear_restored",
    "is_restored",
    "load_settings",
    "mark_restored",
    "restored_groups",
    "save_settings",
    "saw_foreign_key_commit",
    "set_last_at",
    "set_public_key",
]


class Schedule(Enum):
    OFF = "off"
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class BackupSettings:
    public_key: bytes
    folder: str | None
    schedule: Schedule
    keep: int
    last_at: int | None


def load_settings(db: Database) -> BackupSettings | None:
    row = db.one("SELECT public_key, folder, schedule, keep, last_at FROM backup_settings")
    if row is None:
        return None
    return BackupSettings(bytes(row[0]), row[1], Schedule(row[2]), int(row[3]), row[4])


def set_public_key(db: Database, public_key: bytes) -> None:
    """Store (or replace) the backup public key, keeping the other settings."""
    db.execute(
        "INSERT INTO backup_settings (id, public_key) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET public_key = excluded.public_key",
        (public_key,),
    )


def save_settings(db: Database, folder: str | None, schedule: Schedule, keep: int) -> None:
    db.execute(
        "UPDATE backup_settings SET folder = ?, schedule = ?, keep = ? WHERE id = 1",
        (folder, schedule.value, keep),
    )


def set_last_at(db: Database, at: int) -> None:
    db.execute("UPDATE backup_settings SET last_at = ? WHERE id = 1", (at,))


def mark_restored(db: Database, now: int) -> int:
    """Mark every active group restored; returns how many."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO restored_groups (group_id, restored_at)"
        " SELECT group_id, ? FROM groups WHERE status = 'active'",
        (now,),
    )
    return int(cursor.rowcount)


def is_restored(db: Database, group_id: bytes) -> bool:
    return db.one("SELECT 1 FROM restored_groups WHERE group_id = ?", (group_id,)) is not None


def restored_groups(db: Database) -> list[bytes]:
    return [bytes(r[0]) for r in db.all("SELECT group_id FROM restored_groups ORDER BY group_id")]


def clear_restored(db: Database, group_id: bytes) -> None:
    db.execute("DELETE FROM restored_groups WHERE group_id = ?", (group_id,))


# The line a commit leaves when its key box went to a delivery key this profile does not
# hold (app/core/delivery_keys.py ``identity_for``): the original copy of a restored
# profile replaced the key after the backup.
_FOREIGN_KEY = "%holds no private key for that delivery key%"


def saw_foreign_key_commit(db: Database, group_id: bytes) -> bool:
    row = db.one(
        "SELECT 1 FROM warnings WHERE group_id = ? AND kind = 'rejected' AND detail LIKE ?",
        (group_id, _FOREIGN_KEY),
    )
    return row is not None
