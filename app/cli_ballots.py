"""``caucus ballot ...``: anonymous ballots and surveys from the command line.

``create`` prints the ballot id as its last line; ``vote`` casts (or replaces) this
profile's vote, posted anonymously (``--delay`` adds a random wait, as the desktop app
does); ``close`` (the creator, or an organizer) ends the ballot now and the creator's
client releases its key; ``verify`` re-checks every stored vote's ring signature and
recomputes the result (votes are checked as they arrive; this is the full audit); ``list --json``
and ``results --json`` read what this client has synced (run ``caucus sync`` first).
Results carry counts only once the creator's key was released; before that, "N of M have
voted". Both say in plain words when this client's votes differ from the set the
creator's reveal counts ("results differ between members: ...") and when a member of the
ballot left or was removed before the close ("eligibility changed"), docs/ballots.md 13.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import sys
from typing import Any

from app.cli_json import ballot_json, iso_seconds
from app.core.api import ClientError, Engine, NotFound, RelayUnavailable, kind_from_name
from crypto.ballot import BallotKind

__all__ = ["add_ballot_commands", "parse_deadline"]

EXIT_QUEUED = 3  # as app.cli: accepted, waiting for the relay

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNIT_MS = {"": 1000, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_deadline(closes: str | None, closes_in: str | None, now_ms: int) -> int:
    """Milliseconds since the epoch from ``--closes ISO8601`` (no zone: local time) or
    ``--closes-in`` (``90``, ``30s``, ``10m``, ``2h``, ``1d``, ``1w``)."""
    if closes_in is not None:
        match = _DURATION.fullmatch(closes_in.strip().lower())
        if match is None:
            raise ClientError("--closes-in takes a duration such as 30s, 10m, 2h or 1d")
        return now_ms + int(float(match.group(1)) * _UNIT_MS[match.group(2)])
    if closes is None:
        raise ClientError("give --closes or --closes-in")
    try:
        moment = dt.datetime.fromisoformat(closes.strip())
    except ValueError:
        raise ClientError("--closes takes a date and time such as 2026-12-01T18:00Z") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return int(moment.timestamp() * 1000)


async def cmd_ballot_create(engine: Engine, args: argparse.Namespace) -> int:
    service = engine.ballots
    group_id = engine.resolve_group(args.group)
    kind = kind_from_name(args.kind or ("single" if args.option else "yes-no"))
    numeric = kind is BallotKind.NUMERIC
    if numeric and (args.min is None or args.max is None):
        raise ClientError("a numeric ballot needs --min and --max")
    ballot_id = await service.create(
        group_id,
        args.question,
        closes_at=parse_deadline(args.closes, args.closes_in, engine.context.now()),
        kind=kind,
        options=tuple(args.option or ()),
        quorum=args.quorum,
        numeric_min=args.min if numeric else 0,
        numeric_max=args.max if numeric else 0,
        histogram_bins=args.bins,
    )
    print(ballot_id.hex())
    return 0


async def cmd_ballot_vote(engine: Engine, args: argparse.Namespace) -> int:
    service = engine.ballots
    try:
        group_id, ballot_id = service.resolve_ballot(args.ballot)
    except NotFound:
        await engine.sync()  # a ballot created since our last sync
        group_id, ballot_id = service.resolve_ballot(args.ballot)
    delay_ms = 0
    if args.delay:
        delay_ms = int.from_bytes(engine.context.rng(4), "big") % (int(args.delay * 1000) + 1)
    try:
        receipt = await service.vote(ballot_id, args.choice, delay_ms=delay_ms)
        if not receipt.posted:
            await asyncio.sleep(max(0, receipt.not_before - engine.context.now()) / 1000)
            await engine.flush_outbox()  # the one outbox posts the vote once it is due
            if service.ballot(group_id, ballot_id).my_vote_pending:
                raise RelayUnavailable("the relay did not take the vote")
            await engine.sync_group(group_id)
    except RelayUnavailable as exc:
        print(f"caucus: {exc}; the vote is kept and goes out with the next sync", file=sys.stderr)
        return EXIT_QUEUED
    view = service.ballot(group_id, ballot_id)
    print(f"Vote cast (revision {receipt.revision}); {view.progress}")
    return 0


async def cmd_ballot_close(engine: Engine, args: argparse.Namespace) -> int:
    view = await engine.ballots.close(args.ballot)
    print(f"Ballot {view.status}; {view.progress}")
    return 0


async def cmd_ballot_rerun(engine: Engine, args: argparse.Namespace) -> int:
    closes_at = None
    if args.closes or args.closes_in:
        closes_at = parse_deadline(args.closes, args.closes_in, engine.context.now())
    ballot_id = await engine.ballots.rerun(args.ballot, closes_at=closes_at)
    print(ballot_id.hex())
    return 0


async def cmd_ballot_cancel(engine: Engine, args: argparse.Namespace) -> int:
    view = await engine.ballots.cancel(args.ballot)
    print(f"Ballot {view.status}")
    return 0


async def cmd_ballot_verify(engine: Engine, args: argparse.Namespace) -> int:
    """Exit 0 when every stored vote verifies again and the stored result (if any) is
    what a fresh tally gives; 1 otherwise, naming what failed."""
    audit = await engine.ballots.verify(args.ballot)
    print(f"Checked {audit.checked} stored vote(s): {len(audit.failed)} failed")
    for failure in audit.failed:
        print(f"  {failure}")
    if audit.unchecked:
        print(f"{audit.unchecked} vote(s) were stored without their bytes and not checked")
    if audit.result_matches is not None:
        print(
            "The stored result is what a fresh tally gives"
            if audit.result_matches
            else "The stored result differs from a fresh tally of the counted votes"
        )
    return 0 if audit.ok else 1


async def cmd_ballot_list(engine: Engine, args: argparse.Namespace) -> int:
    views = engine.ballots.ballots(engine.resolve_group(args.group))
    if args.json:
        print(json.dumps([ballot_json(v) for v in views], ensure_ascii=False))
        return 0
    for v in views:
        print(f"{v.id_hex}  {v.status:<14}  {v.progress:<22}  closes {iso_seconds(v.closes_at)}")
        print(f"    {v.question}  ({v.kind}, by {v.creator_name})")
        for note in _notes(v.eligibility_changed, v.integrity):
            print(f"    {note}")
        for number, option in enumerate(v.options, start=1):
            print(f"    {number}. {option}")
    return 0


async def cmd_ballot_results(engine: Engine, args: argparse.Namespace) -> int:
    service = engine.ballots
    group_id, ballot_id = service.resolve_ballot(args.ballot)
    data = service.results(group_id, ballot_id)
    data["closes_at"] = iso_seconds(data["closes_at"])
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    print(data["question"])
    print(f"{data['status']}; {data['voted']}")
    for note in _notes(bool(data.get("eligibility_changed")), data.get("integrity")):
        print(note)
    counts = data.get("counts")
    if counts is None:
        print("Results are hidden until the ballot closes and its creator releases the key.")
        return 0
    for label, count in counts.items():
        print(f"  {label}: {count}")
    if data.get("winners"):
        print(f"Winner: {', '.join(data['winners'])}")
    numeric = data.get("numeric")
    if numeric:
        print(f"median {numeric['median']}, quartiles {numeric['q1']} / {numeric['q3']}")
    mine = data.get("mine")
    if mine is not None:
        print("Your vote was counted." if mine["counted"] else "Your vote is NOT in the count!")
    counted = data.get("counted")
    if counted is not None:
        print(f"Counted votes: {counted['count']}, set digest {counted['digest'][:16]}")
    return 0


def _notes(eligibility_changed: bool, integrity: str | None) -> list[str]:
    """Plain-word warnings on a ballot (docs/ballots.md 13.1, 13.4)."""
    notes = []
    if integrity:
        notes.append(f"Warning: {integrity}.")
    if eligibility_changed:
        notes.append(
            "Warning: eligibility changed: a member of this ballot left or was removed"
            " before it closed; organizers may run it again (caucus ballot rerun)."
        )
    return notes


def add_ballot_commands(sub: Any) -> None:
    """Add ``caucus ballot ...`` to the top-level subparsers."""
    ballot = sub.add_parser("ballot", help="anonymous ballots and surveys")
    bsub = ballot.add_subparsers(dest="ballot_command", required=True, metavar="ACTION")

    p = bsub.add_parser("create", help="start a ballot; prints its id last")
    p.add_argument("group")
    p.add_argument("--question", required=True)
    p.add_argument("--option", action="append", help="an option (repeat)")
    p.add_argument("--kind", choices=("yes-no", "single", "approval", "ranked", "numeric"))
    p.add_argument("--min", type=int, help="numeric: smallest answer")
    p.add_argument("--max", type=int, help="numeric: largest answer")
    p.add_argument("--bins", type=int, default=10, help="numeric: histogram bins")
    p.add_argument("--quorum", type=int, default=0, help="minimum number of voters")
    deadline = p.add_mutually_exclusive_group(required=True)
    deadline.add_argument("--closes", help="deadline, ISO 8601 (e.g. 2026-12-01T18:00Z)")
    deadline.add_argument("--closes-in", help="deadline from now, e.g. 10m, 2h, 3d")
    p.set_defaults(handler=cmd_ballot_create)

    p = bsub.add_parser(
        "rerun", help="run a ballot again with today's members (creator or organizer)"
    )
    p.add_argument("ballot", help="ballot id (or its first 8+ hex digits)")
    deadline = p.add_mutually_exclusive_group()
    deadline.add_argument("--closes", help="deadline, ISO 8601; default: as long as before")
    deadline.add_argument("--closes-in", help="deadline from now, e.g. 10m, 2h, 3d")
    p.set_defaults(handler=cmd_ballot_rerun)

    p = bsub.add_parser("vote", help="cast or change your vote")
    p.add_argument("ballot", help="ballot id (or its first 8+ hex digits)")
    p.add_argument(
        "choice",
        help="yes/no/abstain; an option's text or number; approval: A,B; ranked: B,A,C;"
        " numeric: a whole number",
    )
    p.add_argument("--delay", type=float, default=0.0, help="post after a random 0..N s wait")
    p.set_defaults(handler=cmd_ballot_vote)

    p = bsub.add_parser("close", help="close your ballot now and release its results")
    p.add_argument("ballot")
    p.set_defaults(handler=cmd_ballot_close)

    p = bsub.add_parser("cancel", help="withdraw your ballot; nothing is counted")
    p.add_argument("ballot")
    p.set_defaults(handler=cmd_ballot_cancel)

    p = bsub.add_parser(
        "verify", help="check every stored vote again and recompute the result (slow)"
    )
    p.add_argument("ballot", help="ballot id (or its first 8+ hex digits)")
    p.set_defaults(handler=cmd_ballot_verify)

    p = bsub.add_parser("list", help="a group's ballots")
    p.add_argument("group")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ballot_list)

    p = bsub.add_parser("results", help="a ballot's status and, once closed, its result")
    p.add_argument("ballot")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ballot_results)
