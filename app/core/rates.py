"""The rates board: members' anonymous rate reports and their figures per role.

``RatesService`` checks a member's input, hands the report to ``ReportSender`` (ring
signed, posted anonymously) and reads the board: per role, currency and unit, the count,
median and quartiles of the reports of each calendar quarter, only where at least k
reports exist (docs/union-tools.md). The figures come from the stored reports alone
(one per member and period: the newest revision), so every member computes the same.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from app.core.errors import ClientError
from app.core.ports import Context, Groups, Sending
from app.core.store import union_reports as store
from app.core.union_send import ReportReceipt, ReportSender
from app.core.union_stats import decimal_text, quartiles
from app.core.union_threshold import below_text, current_k, set_threshold
from crypto.errors import MalformedData
from crypto.union.fields import (
    MAX_REGION,
    MAX_ROLE,
    MAX_SENIORITY,
    check_currency,
    normalise_name,
    parse_amount,
    parse_period,
)
from crypto.union.reports import CONTENT_TYPE_RATE_REPORT, RateReport, RateUnit

__all__ = [
    "UNITS",
    "RateCell",
    "RateLine",
    "RatesBoard",
    "RatesService",
    "board_csv",
    "quarter_of",
]

UNITS = {"hour": RateUnit.HOUR, "day": RateUnit.DAY, "project": RateUnit.PROJECT}
_UNIT_NAMES = {unit: name for name, unit in UNITS.items()}


def quarter_of(ms: int) -> str:
    """The UTC calendar quarter (``2026-Q4``) of a moment in milliseconds since the epoch."""
    day = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class RateCell:
    """One period of one line: figures only when ``count >= k`` (else all None)."""

    period: str
    count: int | None
    q1: str | None
    median: str | None
    q3: str | None
    change: str | None
    """The median's change from the previous period that has figures (the trend)."""
    note: str | None


@dataclass(frozen=True)
class RateLine:
    """One role, currency and unit: the latest period with figures, and every period."""

    role: str
    currency: str
    unit: str
    latest: RateCell | None
    periods: tuple[RateCell, ...]
    mine: bool
    """This member has a report in this line (only they can tell)."""


@dataclass(frozen=True)
class RatesBoard:
    group_id: bytes
    k: int
    lines: tuple[RateLine, ...]


def _cell(period: str, amounts: list[str], k: int, previous: str | None) -> RateCell:
    if len(amounts) < k:
        return RateCell(period, None, None, None, None, None, below_text(k))
    figures = quartiles(amounts)
    change = None
    if previous is not None:
        change = decimal_text(Fraction(Decimal(figures.median)) - Fraction(Decimal(previous)))
    return RateCell(period, figures.count, figures.q1, figures.median, figures.q3, change, None)


def build_board(group_id: bytes, rows: list[store.RateRow], k: int, mine: set[bytes]) -> RatesBoard:
    """The board from the current reports; pure, so every member gets the same."""
    grouped: dict[tuple[str, str, int], dict[str, list[str]]] = {}
    own: set[tuple[str, str, int]] = set()
    for row in rows:
        key = (row.role, row.currency, row.unit)
        grouped.setdefault(key, {}).setdefault(row.period, []).append(row.rate)
        if row.key_image in mine:
            own.add(key)
    lines = []
    for key in sorted(grouped):
        cells: list[RateCell] = []
        previous: str | None = None
        for period in sorted(grouped[key]):
            cell = _cell(period, grouped[key][period], k, previous)
            previous = cell.median if cell.median is not None else previous
            cells.append(cell)
        latest = next((c for c in reversed(cells) if c.count is not None), None)
        role, currency, unit = key
        lines.append(
            RateLine(role, currency, _UNIT_NAMES[RateUnit(unit)], latest, tuple(cells), key in own)
        )
    return RatesBoard(group_id, k, tuple(lines))


def board_csv(board: RatesBoard) -> str:
    """One row per line and period, figures empty below the threshold."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["role", "currency", "unit", "period", "count", "q1", "median", "q3"])
    for line in board.lines:
        for cell in line.periods:
            writer.writerow(
                [
                    line.role,
                    line.currency,
                    line.unit,
                    cell.period,
                    "" if cell.count is None else cell.count,
                    cell.q1 or "",
                    cell.median or "",
                    cell.q3 or "",
                ]
            )
    return out.getvalue()


class RatesService:
    """Rate reports of one unlocked profile."""

    def __init__(self, ctx: Context, groups: Groups, sending: Sending) -> None:
        self._ctx = ctx
        self._groups = groups
        self._sending = sending
        self.sender = ReportSender(ctx, groups)

    def make_report(
        self,
        *,
        role: str,
        rate: str,
        currency: str,
        unit: str,
        seniority: str = "",
        region: str = "",
        period: str | None = None,
    ) -> RateReport:
        """A report from a member's input; ``ClientError`` with one line when it is wrong."""
        try:
            if unit not in UNITS:
                raise MalformedData("the unit is hour, day or project")
            return RateReport(
                period=parse_period(period) if period else quarter_of(self._ctx.now()),
                role=normalise_name(role, MAX_ROLE, "role"),
                rate=str(parse_amount(rate.strip())),  # the text as written, checked
                currency=check_currency(currency.strip()),
                unit=UNITS[unit],
                seniority=normalise_name(seniority, MAX_SENIORITY, "seniority")
                if seniority.strip()
                else "",
                region=normalise_name(region, MAX_REGION, "region") if region.strip() else "",
            )
        except MalformedData as exc:
            raise ClientError(str(exc)) from None

    async def submit(
        self, group_id: bytes, report: RateReport, *, delay_ms: int | None = None
    ) -> ReportReceipt:
        """Post (or replace) this member's report for its period, anonymously, after
        ``delay_ms`` (default: a random few seconds, ``REPORT_DELAY_MS``)."""
        return await self.sender.submit(group_id, report, delay_ms=delay_ms)

    def board(self, group_id: bytes) -> RatesBoard:
        db = self._ctx.db
        rows = store.current_rate_reports(db, group_id)
        mine = {
            image
            for period in {row.period for row in rows}
            if (image := self.sender.my_key_image(group_id, CONTENT_TYPE_RATE_REPORT, period))
        }
        return build_board(group_id, rows, current_k(db, group_id), mine)

    async def set_threshold(self, group_id: bytes, k: int) -> None:
        await set_threshold(self._groups, self._sending, self._ctx.identity, group_id, k)

    async def flush_quietly(self, group_id: bytes) -> None:
        """Post our queued reports of both kinds (the engine's step after a sync)."""
        await self.sender.flush_quietly(group_id)
