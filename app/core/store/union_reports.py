"""Every SQL statement on the union-tools tables (migrations/0020_union_reports.sql).

``rate_reports`` and ``client_reports`` hold verified reports (every revision, by hash);
``current_*`` return the one report that counts per key image and scope: the highest
revision, then the latest relay position. ``union_thresholds`` keeps the organizers' k,
``union_outbox`` this member's own reports until the relay took them. Write functions
join the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.core.database import Database

__all__ = [
    "ClientRow",
    "PendingReport",
    "RateRow",
    "ReportStatus",
    "current_client_reports",
    "current_rate_reports",
    "has_report",
    "insert_client_report",
    "insert_pending",
    "insert_rate_report",
    "load_pending",
    "load_threshold",
    "mark_pending",
    "max_own_revision",
    "max_seen_revision",
    "pending_ids",
    "set_threshold",
]


class ReportStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class RateRow:
    group_id: bytes
    report_hash: bytes
    period: str
    key_image: bytes
    revision: int
    relay_seq: int
    role: str
    seniority: str
    rate: str
    currency: str
    unit: int
    region: str


@dataclass(frozen=True)
class ClientRow:
    group_id: bytes
    report_hash: bytes
    client: str
    key_image: bytes
    revision: int
    relay_seq: int
    paid_late_days: int
    scope_creep: bool
    again: bool
    comment: str


@dataclass(frozen=True)
class PendingReport:
    """One of our reports, unsigned: signed afresh for the live ring when posted."""

    id: int
    group_id: bytes
    content_type: int
    scope: str
    revision: int
    fields: bytes
    status: ReportStatus


_TABLES = {48: ("rate_reports", "period"), 52: ("client_reports", "client")}


def _table(content_type: int) -> tuple[str, str]:
    try:
        return _TABLES[content_type]
    except KeyError:
        raise ValueError(f"content type {content_type} is not a report") from None


def has_report(db: Database, group_id: bytes, content_type: int, report_hash: bytes) -> bool:
    table, _ = _table(content_type)
    row = db.one(
        f"SELECT 1 FROM {table} WHERE group_id = ? AND report_hash = ?",  # noqa: S608
        (group_id, report_hash),
    )
    return row is not None


def insert_rate_report(db: Database, row: RateRow) -> None:
    db.execute(
        "INSERT INTO rate_reports (group_id, report_hash, period, key_image, revision,"
        " relay_seq, role, seniority, rate, currency, unit, region)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.group_id,
            row.report_hash,
            row.period,
            row.key_image,
            row.revision,
            row.relay_seq,
            row.role,
            row.seniority,
            row.rate,
            row.currency,
            row.unit,
            row.region,
        ),
    )


def insert_client_report(db: Database, row: ClientRow) -> None:
    db.execute(
        "INSERT INTO client_reports (group_id, report_hash, client, key_image, revision,"
        " relay_seq, paid_late_days, scope_creep, again, comment)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.group_id,
            row.report_hash,
            row.client,
            row.key_image,
            row.revision,
            row.relay_seq,
            row.paid_late_days,
            int(row.scope_creep),
            int(row.again),
            row.comment,
        ),
    )


def _newest(rows: list[Any], scope_at: int) -> list[Any]:
    """Per (scope, key image) the row with the highest (revision, relay_seq)."""
    best: dict[tuple[str, bytes], Any] = {}
    for row in rows:
        key = (row[scope_at], bytes(row[3]))
        held = best.get(key)
        if held is None or (row[4], row[5]) > (held[4], held[5]):
            best[key] = row
    return sorted(best.values(), key=lambda r: (r[scope_at], bytes(r[3])))


def current_rate_reports(db: Database, group_id: bytes) -> list[RateRow]:
    """The reports that count: one per member (key image) and period."""
    rows = db.all(
        "SELECT group_id, report_hash, period, key_image, revision, relay_seq, role,"
        " seniority, rate, currency, unit, region FROM rate_reports WHERE group_id = ?",
        (group_id,),
    )
    return [
        RateRow(bytes(r[0]), bytes(r[1]), r[2], bytes(r[3]), *r[4:12]) for r in _newest(rows, 2)
    ]


def current_client_reports(db: Database, group_id: bytes) -> list[ClientRow]:
    """The reports that count: one per member (key image) and client."""
    rows = db.all(
        "SELECT group_id, report_hash, client, key_image, revision, relay_seq,"
        " paid_late_days, scope_creep, again, comment FROM client_reports WHERE group_id = ?",
        (group_id,),
    )
    return [
        ClientRow(
            bytes(r[0]),
            bytes(r[1]),
            r[2],
            bytes(r[3]),
            r[4],
            r[5],
            r[6],
            bool(r[7]),
            bool(r[8]),
            r[9],
        )
        for r in _newest(rows, 2)
    ]


def max_seen_revision(
    db: Database, group_id: bytes, content_type: int, scope: str, key_image: bytes
) -> int | None:
    table, column = _table(content_type)
    row = db.one(
        f"SELECT max(revision) FROM {table} WHERE group_id = ? AND {column} = ?"  # noqa: S608
        " AND key_image = ?",
        (group_id, scope, key_image),
    )
    return None if row is None or row[0] is None else int(row[0])


def max_own_revision(db: Database, group_id: bytes, content_type: int, scope: str) -> int | None:
    row = db.one(
        "SELECT max(revision) FROM union_outbox WHERE group_id = ? AND content_type = ?"
        " AND scope = ?",
        (group_id, content_type, scope),
    )
    return None if row is None or row[0] is None else int(row[0])


def load_threshold(db: Database, group_id: bytes) -> int | None:
    row = db.one("SELECT k FROM union_thresholds WHERE group_id = ?", (group_id,))
    return None if row is None else int(row[0])


def set_threshold(db: Database, group_id: bytes, k: int, relay_seq: int) -> None:
    db.execute(
        "INSERT INTO union_thresholds (group_id, k, relay_seq) VALUES (?, ?, ?)"
        " ON CONFLICT (group_id) DO UPDATE SET k = excluded.k, relay_seq = excluded.relay_seq"
        " WHERE excluded.relay_seq > union_thresholds.relay_seq",
        (group_id, k, relay_seq),
    )


def insert_pending(
    db: Database,
    group_id: bytes,
    content_type: int,
    scope: str,
    revision: int,
    fields: bytes,
    now: int,
    not_before: int,
) -> int:
    """Queue one of our reports, to be posted from ``not_before`` on; an older one of the
    same scope still waiting is dropped (it would only be replaced)."""
    db.execute(
        "UPDATE union_outbox SET status = ? WHERE group_id = ? AND content_type = ?"
        " AND scope = ? AND status = ?",
        (ReportStatus.FAILED, group_id, content_type, scope, ReportStatus.PENDING),
    )
    cursor = db.execute(
        "INSERT INTO union_outbox (group_id, content_type, scope, revision, fields,"
        " not_before, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (group_id, content_type, scope, revision, fields, not_before, ReportStatus.PENDING, now),
    )
    return int(cursor.lastrowid)


def load_pending(db: Database, row_id: int) -> PendingReport | None:
    row = db.one(
        "SELECT id, group_id, content_type, scope, revision, fields, status FROM union_outbox"
        " WHERE id = ?",
        (row_id,),
    )
    if row is None:
        return None
    return PendingReport(
        row[0], bytes(row[1]), row[2], row[3], row[4], bytes(row[5]), ReportStatus(row[6])
    )


def pending_ids(db: Database, group_id: bytes, due_at: int | None = None) -> list[int]:
    """Our queued reports in the group; with ``due_at``, only those whose delay is over."""
    rows = db.all(
        "SELECT id FROM union_outbox WHERE group_id = ? AND status = ?"
        " AND (? IS NULL OR not_before <= ?) ORDER BY id",
        (group_id, ReportStatus.PENDING, due_at, due_at),
    )
    return [int(r[0]) for r in rows]


def mark_pending(
    db: Database, row_id: int, status: ReportStatus, relay_seq: int | None = None
) -> None:
    """pending -> sent (with the relay's position) or failed."""
    db.execute(
        "UPDATE union_outbox SET status = ?, relay_seq = ? WHERE id = ? AND status = ?",
        (status, relay_seq, row_id, ReportStatus.PENDING),
    )
