"""Typed commands of the union tools (rates board, client reports), as in ``commands.py``:
a view builds a frozen value, the engine's runner calls ``run``. Input is checked here
in the core (``ClientError`` with one line), so the desktop app and the command line
refuse the same things."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.client_reports import ClientLine
from app.core.commands import Command
from app.core.engine import Engine
from app.core.rates import RatesBoard, board_csv
from app.core.union_send import ReportReceipt

__all__ = [
    "ExportRatesCsv",
    "ReportClient",
    "SetReportsThreshold",
    "ShowClients",
    "ShowRates",
    "SubmitRate",
]


@dataclass(frozen=True)
class SubmitRate(Command[ReportReceipt]):
    """Post (or replace) this member's anonymous rate report for the period."""

    group_id: bytes
    role: str
    rate: str
    currency: str
    unit: str
    seniority: str = ""
    region: str = ""
    period: str | None = None
    delay_ms: int | None = None
    """None: a random few seconds (the desktop app); 0: now."""

    async def run(self, engine: Engine) -> ReportReceipt:
        report = engine.rates.make_report(
            role=self.role,
            rate=self.rate,
            currency=self.currency,
            unit=self.unit,
            seniority=self.seniority,
            region=self.region,
            period=self.period,
        )
        return await engine.rates.submit(self.group_id, report, delay_ms=self.delay_ms)


@dataclass(frozen=True)
class ShowRates(Command[RatesBoard]):
    group_id: bytes

    async def run(self, engine: Engine) -> RatesBoard:
        return engine.rates.board(self.group_id)


@dataclass(frozen=True)
class ExportRatesCsv(Command[str]):
    """The board as CSV text (figures empty below the threshold)."""

    group_id: bytes

    async def run(self, engine: Engine) -> str:
        return board_csv(engine.rates.board(self.group_id))


@dataclass(frozen=True)
class SetReportsThreshold(Command[None]):
    """An organizer sets k for the group's rates and client reports."""

    group_id: bytes
    k: int

    async def run(self, engine: Engine) -> None:
        await engine.rates.set_threshold(self.group_id, self.k)


@dataclass(frozen=True)
class ReportClient(Command[ReportReceipt]):
    """Post (or replace) this member's anonymous report about a client."""

    group_id: bytes
    client: str
    paid_late_days: int
    scope_creep: bool
    again: bool
    comment: str = ""
    delay_ms: int | None = None
    """None: a random few seconds (the desktop app); 0: now."""

    async def run(self, engine: Engine) -> ReportReceipt:
        report = engine.client_reports.make_report(
            self.client,
            paid_late_days=self.paid_late_days,
            scope_creep=self.scope_creep,
            again=self.again,
            comment=self.comment,
        )
        return await engine.client_reports.report(self.group_id, report, delay_ms=self.delay_ms)


@dataclass(frozen=True)
class ShowClients(Command[tuple[ClientLine, ...]]):
    group_id: bytes
    client: str | None = None

    async def run(self, engine: Engine) -> tuple[ClientLine, ...]:
        return engine.client_reports.clients(self.group_id, self.client)
