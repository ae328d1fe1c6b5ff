"""``caucus rates ...`` and ``caucus clients ...``: the union tools from the command line.

``rates submit`` posts (or replaces) this member's anonymous rate report for the current
calendar quarter; ``rates show`` reads the board (count, quartiles, per period; figures
only where at least k reports exist); ``rates export --csv FILE`` writes it as CSV;
``rates threshold`` lets an organizer set k. ``clients report`` posts (or replaces) this
member's anonymous report about a client; ``clients show`` reads the figures per client.
``show`` reads what this client has synced (run ``caucus sync`` first).
docs/union-tools.md describes the formats and what each party learns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from app.core.api import (
    UNITS,
    ClientError,
    ClientLine,
    Engine,
    ExportRatesCsv,
    RateCell,
    RatesBoard,
    ReportClient,
    ReportReceipt,
    SetReportsThreshold,
    ShowClients,
    ShowRates,
    SubmitRate,
)

__all__ = ["add_rates_commands", "clients_json", "rates_json"]

EXIT_QUEUED = 3  # as app.cli: accepted, waiting for the relay

_FIGURES = ("count", "q1", "median", "q3")


def _cell_json(cell: RateCell | None) -> dict[str, Any]:
    if cell is None:
        return {name: None for name in (*_FIGURES, "period")}
    return {
        "period": cell.period,
        "count": cell.count,
        "q1": cell.q1,
        "median": cell.median,
        "q3": cell.q3,
    }


def rates_json(board: RatesBoard) -> dict[str, Any]:
    """Per role, currency and unit: the latest period with figures, then every period."""
    lines = []
    for line in board.lines:
        entry: dict[str, Any] = {"role": line.role, "currency": line.currency, "unit": line.unit}
        entry.update(_cell_json(line.latest))
        entry["note"] = None if line.latest else f"fewer than {board.k} reports"
        entry["mine"] = line.mine
        entry["periods"] = [
            {**_cell_json(cell), "change": cell.change, "note": cell.note} for cell in line.periods
        ]
        lines.append(entry)
    return {"group": board.group_id.hex(), "k": board.k, "rates": lines}


def clients_json(group_id: bytes, k: int, lines: tuple[ClientLine, ...]) -> dict[str, Any]:
    out = []
    for line in lines:
        figures = line.figures
        entry: dict[str, Any] = {"client": line.client, "count": None}
        if figures is not None:
            entry.update(
                count=figures.count,
                paid_on_time=figures.paid_on_time,
                paid_late=figures.paid_late,
                median_days_late=figures.median_days_late,
                max_days_late=figures.max_days_late,
                scope_creep=figures.scope_creep,
                would_work_again=figures.would_work_again,
                comments=list(figures.comments),
            )
        entry["note"] = line.note
        entry["mine"] = line.mine
        out.append(entry)
    return {"group": group_id.hex(), "k": k, "clients": out}


def _delay_ms(engine: Engine, seconds: float) -> int:
    """A random wait of 0 to ``seconds`` (``--delay``), as ``ballot vote`` does."""
    if seconds <= 0:
        return 0
    return int.from_bytes(engine.context.rng(4), "big") % (int(seconds * 1000) + 1)


async def _post(engine: Engine, group_id: bytes, receipt: ReportReceipt) -> ReportReceipt:
    """Wait out the report's delay, then post it with the outbox of reports."""
    if receipt.posted:
        return receipt
    await asyncio.sleep(max(0, receipt.not_before - engine.context.now()) / 1000)
    left = await engine.rates.sender.flush(group_id)
    if left == 0:
        await engine.sync_group(group_id)
    return ReportReceipt(receipt.revision, left == 0, receipt.not_before)


def _receipt(receipt: ReportReceipt, what: str) -> int:
    if not receipt.posted:
        print(
            f"caucus: the relay did not take the {what}; it is kept and goes out with the"
            " next sync",
            file=sys.stderr,
        )
        return EXIT_QUEUED
    replaced = " (it replaces your earlier one)" if receipt.revision else ""
    print(f"Anonymous {what} posted{replaced}.")
    return 0


async def cmd_rates_submit(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    command = SubmitRate(
        group_id,
        role=args.role,
        rate=args.rate,
        currency=args.currency,
        unit=args.unit,
        seniority=args.seniority or "",
        region=args.region or "",
        period=args.period,
        delay_ms=_delay_ms(engine, args.delay),
    )
    return _receipt(await _post(engine, group_id, await command.run(engine)), "rate report")


async def cmd_rates_show(engine: Engine, args: argparse.Namespace) -> int:
    board = await ShowRates(engine.resolve_group(args.group)).run(engine)
    if args.json:
        print(json.dumps(rates_json(board), ensure_ascii=False))
        return 0
    if not board.lines:
        print("No rate reports yet.")
    for line in board.lines:
        mine = "  (yours among them)" if line.mine else ""
        print(f"{line.role} — {line.currency} per {line.unit}{mine}")
        for cell in line.periods:
            if cell.count is None:
                print(f"  {cell.period}: {cell.note}")
                continue
            trend = f", change {cell.change}" if cell.change is not None else ""
            print(
                f"  {cell.period}: {cell.count} reports, median {cell.median},"
                f" quartiles {cell.q1} / {cell.q3}{trend}"
            )
    print(f"Figures show where at least {board.k} reports exist.")
    return 0


async def cmd_rates_export(engine: Engine, args: argparse.Namespace) -> int:
    text = await ExportRatesCsv(engine.resolve_group(args.group)).run(engine)
    path: Path = args.csv
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ClientError(f"cannot write {path}: {exc.strerror}") from None
    print(f"Wrote {path}")
    return 0


async def cmd_rates_threshold(engine: Engine, args: argparse.Namespace) -> int:
    await SetReportsThreshold(engine.resolve_group(args.group), args.k).run(engine)
    print(f"Figures now show where at least {args.k} reports exist.")
    return 0


def _yes_no(text: str) -> bool:
    answer = text.strip().casefold()
    if answer not in ("yes", "no"):
        raise argparse.ArgumentTypeError("answer yes or no")
    return answer == "yes"


async def cmd_clients_report(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    command = ReportClient(
        group_id,
        client=args.client,
        paid_late_days=args.paid_late_days,
        scope_creep=args.scope_creep,
        again=args.again,
        comment=args.comment or "",
        delay_ms=_delay_ms(engine, args.delay),
    )
    return _receipt(await _post(engine, group_id, await command.run(engine)), "client report")


async def cmd_clients_show(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group)
    lines = await ShowClients(group_id, args.client).run(engine)
    k = (await ShowRates(group_id).run(engine)).k
    if args.json:
        print(json.dumps(clients_json(group_id, k, lines), ensure_ascii=False))
        return 0
    if not lines:
        print("No client reports yet.")
    for line in lines:
        mine = "  (yours among them)" if line.mine else ""
        figures = line.figures
        if figures is None:
            print(f"{line.client}: {line.note}{mine}")
            continue
        print(
            f"{line.client}: {figures.count} reports{mine}; paid on time {figures.paid_on_time},"
            f" late {figures.paid_late} (median {figures.median_days_late} days,"
            f" at most {figures.max_days_late}); scope creep {figures.scope_creep};"
            f" would work again {figures.would_work_again}"
        )
        for comment in figures.comments:
            print(f"  “{comment}”")
    print(f"Figures and comments show where at least {k} reports exist.")
    return 0


def add_rates_commands(sub: Any) -> None:
    """Add ``caucus rates ...`` and ``caucus clients ...`` to the top-level subparsers."""
    rates = sub.add_parser("rates", help="the anonymous rates board")
    rsub = rates.add_subparsers(dest="rates_command", required=True, metavar="ACTION")

    p = rsub.add_parser("submit", help="post or replace your anonymous rate for this quarter")
    p.add_argument("group")
    p.add_argument("--role", required=True, help="role or skill, e.g. 'translator'")
    p.add_argument("--rate", required=True, help="a decimal amount, e.g. 450 or 52.50")
    p.add_argument("--currency", required=True, help="ISO 4217 code, e.g. EUR")
    p.add_argument("--unit", required=True, choices=tuple(UNITS))
    p.add_argument("--seniority", help="e.g. junior, senior")
    p.add_argument("--region", help="optional region")
    p.add_argument("--period", help="calendar quarter, e.g. 2026-Q4 (default: this one)")
    p.add_argument("--delay", type=float, default=0.0, help="post after a random 0..N s wait")
    p.set_defaults(handler=cmd_rates_submit)

    p = rsub.add_parser("show", help="the board: count and quartiles per role and quarter")
    p.add_argument("group")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_rates_show)

    p = rsub.add_parser("export", help="write the board as CSV")
    p.add_argument("group")
    p.add_argument("--csv", type=Path, required=True, metavar="FILE")
    p.set_defaults(handler=cmd_rates_export)

    p = rsub.add_parser("threshold", help="set k, the reports a figure needs (organizers)")
    p.add_argument("group")
    p.add_argument("k", type=int)
    p.set_defaults(handler=cmd_rates_threshold)

    clients = sub.add_parser("clients", help="anonymous reports about clients")
    csub = clients.add_subparsers(dest="clients_command", required=True, metavar="ACTION")

    p = csub.add_parser("report", help="post or replace your anonymous report on a client")
    p.add_argument("group")
    p.add_argument("client")
    p.add_argument("--paid-late-days", type=int, required=True, help="0 if paid on time")
    p.add_argument("--scope-creep", type=_yes_no, required=True, metavar="yes|no")
    p.add_argument("--again", type=_yes_no, required=True, metavar="yes|no")
    p.add_argument("--comment")
    p.add_argument("--delay", type=float, default=0.0, help="post after a random 0..N s wait")
    p.set_defaults(handler=cmd_clients_report)

    p = csub.add_parser("show", help="what the reports on each client add up to")
    p.add_argument("group")
    p.add_argument("client", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_clients_show)
