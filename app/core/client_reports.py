"""Client reports: one anonymous report per member and client, and the figures per client.

A member reports whether a client paid on time (or how many days late), whether the
scope crept, and whether they would work for them again, with an optional comment. The
key image is scoped to the normalised client name, so a member's reports about one
client link (a new one replaces theirs) and reports about different clients do not.
Figures and comments show only where at least k reports exist (docs/union-tools.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from app.core.errors import ClientError
from app.core.ports import Context, Groups
from app.core.store import union_reports as store
from app.core.union_send import ReportReceipt, ReportSender
from app.core.union_stats import decimal_text, quantile
from app.core.union_threshold import below_text, current_k
from crypto.errors import MalformedData
from crypto.union.fields import MAX_CLIENT_NAME, check_comment, normalise_name
from crypto.union.reports import CONTENT_TYPE_CLIENT_REPORT, ClientReport

__all__ = ["ClientFigures", "ClientLine", "ClientReports", "build_clients", "client_key"]


def client_key(name: str) -> str:
    """The normalised client name (NFKC, case folded, whitespace collapsed)."""
    try:
        return normalise_name(name, MAX_CLIENT_NAME, "client name")
    except MalformedData as exc:
        raise ClientError(str(exc)) from None


@dataclass(frozen=True)
class ClientFigures:
    """What the reports about one client add up to (shown at ``count >= k`` only)."""

    count: int
    paid_on_time: int
    paid_late: int
    median_days_late: str
    """Over every report, on-time ones counting 0 days."""
    max_days_late: int
    scope_creep: int
    would_work_again: int
    comments: tuple[str, ...]
    """Sorted by text, so their order says nothing of who wrote when."""


@dataclass(frozen=True)
class ClientLine:
    client: str
    figures: ClientFigures | None
    note: str | None
    mine: bool


def _figures(rows: list[store.ClientRow]) -> ClientFigures:
    late = sorted(Fraction(row.paid_late_days) for row in rows)
    return ClientFigures(
        count=len(rows),
        paid_on_time=sum(1 for row in rows if row.paid_late_days == 0),
        paid_late=sum(1 for row in rows if row.paid_late_days > 0),
        median_days_late=decimal_text(quantile(late, Fraction(1, 2))),
        max_days_late=max(row.paid_late_days for row in rows),
        scope_creep=sum(1 for row in rows if row.scope_creep),
        would_work_again=sum(1 for row in rows if row.again),
        comments=tuple(sorted(row.comment for row in rows if row.comment)),
    )


def build_clients(rows: list[store.ClientRow], k: int, mine: set[bytes]) -> tuple[ClientLine, ...]:
    """Lines per client, sorted by name; pure, so every member gets the same."""
    grouped: dict[str, list[store.ClientRow]] = {}
    for row in rows:
        grouped.setdefault(row.client, []).append(row)
    lines = []
    for client in sorted(grouped):
        reports = grouped[client]
        own = any(row.key_image in mine for row in reports)
        if len(reports) < k:
            lines.append(ClientLine(client, None, below_text(k), own))
        else:
            lines.append(ClientLine(client, _figures(reports), None, own))
    return tuple(lines)


class ClientReports:
    """Client reports of one unlocked profile."""

    def __init__(self, ctx: Context, groups: Groups) -> None:
        self._ctx = ctx
        self._groups = groups
        self.sender = ReportSender(ctx, groups)

    def make_report(
        self, client: str, *, paid_late_days: int, scope_creep: bool, again: bool, comment: str = ""
    ) -> ClientReport:
        """A report from a member's input; ``ClientError`` with one line when it is wrong."""
        try:
            return ClientReport(
                client_key(client),
                paid_late_days,
                scope_creep,
                again,
                check_comment(comment.strip()),
            )
        except MalformedData as exc:
            raise ClientError(str(exc)) from None

    async def report(
        self, group_id: bytes, report: ClientReport, *, delay_ms: int | None = None
    ) -> ReportReceipt:
        """Post (or replace) this member's report about the client, anonymously, after
        ``delay_ms`` (default: a random few seconds, ``REPORT_DELAY_MS``)."""
        return await self.sender.submit(group_id, report, delay_ms=delay_ms)

    def clients(self, group_id: bytes, client: str | None = None) -> tuple[ClientLine, ...]:
        db = self._ctx.db
        rows = store.current_client_reports(db, group_id)
        if client is not None:
            wanted = client_key(client)
            rows = [row for row in rows if row.client == wanted]
        mine = {
            image
            for name in {row.client for row in rows}
            if (image := self.sender.my_key_image(group_id, CONTENT_TYPE_CLIENT_REPORT, name))
        }
        return build_clients(rows, current_k(db, group_id), mine)
