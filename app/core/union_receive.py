"""Incoming union-tools items: anonymous rate and client reports, and the k threshold.

Every handler runs inside the sync transaction in relay order with the group state of
the epoch the item arrived in, so every member's client accepts the same reports and
the same threshold (docs/union-tools.md section 4):

- a report (anonymous payload 48 or 52) must name this group and the log position of
  that epoch, and its ring signature must verify over that epoch's registered ballot
  keys; a replay (same bytes) is a duplicate; nothing about its author is stored but
  the key image;
- a threshold (signed message 49) counts only from an organizer of that epoch; the
  latest in relay order holds.

Registered when imported.
"""

from __future__ import annotations

from app.core.content_handlers import AnonymousItem, Received, register, register_payload
from app.core.events import ReportsChanged
from app.core.store import union_reports as store
from app.core.store.union_reports import ClientRow, RateRow
from crypto.ballot.blsag import Ring
from crypto.ballot.transport import open_vote_item
from crypto.errors import MalformedData, RemoteError, Replay
from crypto.group_log import Role
from crypto.union.reports import (
    CONTENT_TYPE_CLIENT_REPORT,
    CONTENT_TYPE_RATE_REPORT,
    CONTENT_TYPE_THRESHOLD,
    ClientReport,
    RateReport,
    ThresholdSetting,
    open_report,
    report_hash,
)

__all__ = ["ReportRejected", "on_report", "on_threshold", "threshold_text"]


class ReportRejected(RemoteError):
    """A report or threshold breaks a rule every member's client applies."""


def threshold_text(k: int) -> str:
    return f"Rates and client reports now need at least {k} reports to show figures"


def on_report(item: AnonymousItem, payload: bytes) -> str | None:
    db, group_id, state = item.db, item.group_id, item.state
    content_type = payload[0]
    if store.has_report(db, group_id, content_type, report_hash(payload)):
        raise Replay("this report was received before")
    roster = state.ballot_roster()
    if not roster:
        raise ReportRejected("a report in a group with no registered ballot keys")
    signed = open_report(payload, Ring.of(roster))
    if signed.group_id != group_id:
        raise ReportRejected("the report names another group")
    if signed.log_seq != state.seq:
        raise ReportRejected("the report's ring is not the group's at the position it states")
    report = signed.report
    if isinstance(report, RateReport):
        store.insert_rate_report(
            db,
            RateRow(
                group_id,
                signed.report_hash,
                report.period,
                signed.key_image,
                signed.revision,
                item.relay_seq,
                report.role,
                report.seniority,
                report.rate,
                report.currency,
                int(report.unit),
                report.region,
            ),
        )
    elif isinstance(report, ClientReport):
        store.insert_client_report(
            db,
            ClientRow(
                group_id,
                signed.report_hash,
                report.client,
                signed.key_image,
                signed.revision,
                item.relay_seq,
                report.paid_late_days,
                report.scope_creep,
                report.again,
                report.comment,
            ),
        )
    else:  # pragma: no cover - open_report returns one of the two
        raise MalformedData("unknown report")
    item.changed.append(ReportsChanged(group_id))
    return None


def on_threshold(received: Received) -> str:
    setting = ThresholdSetting.decode(received.message.body)
    if received.sender.role != Role.ORGANIZER:
        raise ReportRejected("only an organizer can set the reports threshold")
    store.set_threshold(received.db, received.group_id, setting.k, received.relay_seq)
    received.changed.append(ReportsChanged(received.group_id))
    return threshold_text(setting.k)


def open_payload(item: AnonymousItem) -> bytes:
    """The payload of an anonymous item (for tests and tools)."""
    return open_vote_item(item.keys, item.item)


register_payload(CONTENT_TYPE_RATE_REPORT, on_report)
register_payload(CONTENT_TYPE_CLIENT_REPORT, on_report)
register(CONTENT_TYPE_THRESHOLD, on_threshold)
