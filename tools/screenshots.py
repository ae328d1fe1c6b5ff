"""Render the desktop app's main screens offscreen to PNG files under docs/screenshots/.

    python tools/screenshots.py [--out docs/screenshots] [--theme light|dark] [--width N]
                                [--only all|cases|link]

Everything is real: an embedded relay on loopback, headless engines for the other
members, and the app itself opening Alice's profile. Run it after changing a screen and
look at every picture before committing it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CAUCUS_KDF_COST", "interactive")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QWidget

from app.core.devices import DeviceView
from app.core.engine import Engine
from app.core.profile import create_profile
from app.core.views import MemberView
from app.qt.backups import RestoreDialog
from app.qt.controller import AppController, LaunchOptions
from app.qt.devices import DevicesDialog
from app.qt.dialogs.invite import InviteDialog
from app.qt.settings import DesktopSettings
from app.qt.theme import apply_theme
from crypto.ballot import BallotKind
from crypto.device_link import LinkCode
from crypto.group_log import Role
from relay.embedded import EmbeddedRelay

PASSPHRASE = "screenshot passphrase"  # noqa: S105 - throwaway profiles in a temp dir
DAY_MS = 24 * 3600 * 1000


class MovableClock:
    """Wall clock shifted by ``offset_ms``, so seeded messages spread over days."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return int(time.time() * 1000) + self.offset_ms


def _picture(width: int, height: int) -> bytes:
    """A PNG of three coloured bands, built by hand (an attached picture in the chat)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    stripes = ((196, 52, 44), (244, 240, 232), (38, 84, 150))  # a poster's three bands
    rows = b"".join(
        b"\x00" + bytes(stripes[min(2, 3 * y // height)]) * width for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _profile(home: Path, name: str, relay_url: str) -> None:
    db = create_profile(
        home,
        name=name,
        relay_url=relay_url,
        passphrase=PASSPHRASE,
        rng=os.urandom,
        now=int(time.time() * 1000),
        cost="interactive",
    )
    db.close()


async def _seed(root: Path, relay_url: str) -> None:
    """Alice's group with Bob and Chidi, two channels and a conversation over two days,
    and Dana waiting for approval."""
    for name in ("alice", "bob", "chidi", "dana"):
        _profile(root / name, name.capitalize(), relay_url)
    clocks = {name: MovableClock() for name in ("alice", "bob", "chidi", "dana")}
    engines = {name: Engine.open(root / name, PASSPHRASE, clock_ms=clocks[name]) for name in clocks}
    alice, bob, chidi, dana = (engines[n] for n in ("alice", "bob", "chidi", "dana"))
    try:
        group = await alice.create_group("Riders' Union")
        await alice.create_channel(group, "announcements", announce_only=True)
        for member in (bob, chidi):
            code = await alice.create_invite(group)
            await member.join(code)
            await alice.sync()
            await member.sync()
        await alice.set_role(group, chidi.fingerprint, Role.ORGANIZER)
        code = await alice.create_invite(group, needs_approval=True)
        await dana.join(code)

        conversation: list[tuple[Engine, str, int]] = [
            (bob, "Has anyone else had their delivery rate cut this month?", -DAY_MS - 3_600_000),
            (
                chidi,
                "Yes — down from 4.10 to 3.60 per drop, no notice at all.",
                -DAY_MS - 3_000_000,
            ),
            (
                alice,
                "Same here. Let's collect numbers before Thursday's meeting.",
                -DAY_MS - 2_400_000,
            ),
            (bob, "I can bring the payslips from March and April.", -DAY_MS - 2_300_000),
            (
                alice,
                "Morning all. I drafted a letter to the platform, have a look when you can.",
                -3_600_000,
            ),
            (
                chidi,
                "Read it. Strong. I'd add the part about unpaid waiting time at restaurants.",
                -3_000_000,
            ),
            (bob, "Agreed. Waiting time is most of my evening shifts.", -2_700_000),
            (
                chidi,
                "Also: the survey on day rates goes out tomorrow, please fill it in — it is "
                "anonymous, nobody (not even us organizers) can see who answered what.",
                -600_000,
            ),
        ]
        for engine, text, offset in conversation:
            for clock in clocks.values():
                clock.offset_ms = offset
            await engine.send_text(group, text)
        for clock in clocks.values():
            clock.offset_ms = 0
        # Issue #12: the group's description and a pinned message (the letter).
        await alice.description.describe(
            group, "Delivery riders organising for fair rates. Meetings Thursdays, 7 pm."
        )
        picture = root / "picket-line.png"
        picture.write_bytes(_picture(480, 300))
        await bob.attachments.send(group, [picture], "Photo from this morning's picket")
        letter = next(m for m in alice.messages(group) if m.text.startswith("Morning all"))
        if letter.message_id is not None:
            await alice.pins.pin(group, letter.message_id)
        for engine in engines.values():
            await engine.sync()
        await alice.sync()  # queues Dana's request for approval
    finally:
        for engine in engines.values():
            await engine.close()


async def _link_laptop(root: Path, relay_url: str, member: str) -> None:
    """``member`` links a second computer (docs/protocol.md 8.4): their safety number
    changes for everyone in their groups."""
    _profile(root / f"{member}-laptop", "Laptop", relay_url)
    first = Engine.open(root / member, PASSPHRASE)
    laptop = Engine.open(root / f"{member}-laptop", PASSPHRASE)
    try:
        code = await first.link_device()
        await laptop.devices.add(code)
        await first.sync()
        await laptop.sync()
    finally:
        await first.close()
        await laptop.close()


def _pump(app: QApplication, until: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the app")
        app.processEvents()
        time.sleep(0.01)


def _settle(app: QApplication, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _save(widget: QWidget, out: Path, name: str) -> None:
    """PNG with a 256-colour palette of the picture's own most frequent colours: flat
    UI colours stay exact, files stay small (Qt's generic palette would snap light
    greys to white)."""
    path = out / f"{name}.png"
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)
    pixels = memoryview(image.constBits()).cast("I")
    table = [colour for colour, _count in Counter(pixels).most_common(256)]
    flags = Qt.ImageConversionFlag.ThresholdDither | Qt.ImageConversionFlag.AvoidDither
    image = image.convertToFormat(QImage.Format.Format_Indexed8, table, flags)
    image.save(str(path), "PNG", 9)  # type: ignore[call-overload]  # the stubs want bytes
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def _controller(home: Path, scratch: Path, **options: object) -> AppController:
    store = QSettings(str(scratch / f"{home.name}-settings.ini"), QSettings.Format.IniFormat)
    controller = AppController(
        LaunchOptions(home=home, use_keyring=False, **options),  # type: ignore[arg-type]
        settings=DesktopSettings(store),
    )
    controller.start()
    return controller


async def _seed_documents_and_ballots(root: Path, relay_url: str) -> dict[str, bytes]:
    """Signed documents (one in two versions, read by Bob) and ballots in Alice's group:
    one still open, and a single-choice, a ranked and a numeric one already tallied.
    Returns the ballot ids by name."""
    names = ("alice", "bob", "chidi")
    engines = {name: Engine.open(root / name, PASSPHRASE) for name in names}
    alice, bob, chidi = (engines[n] for n in names)

    async def sync_all() -> None:
        for engine in engines.values():
            await engine.sync()

    try:
        group = alice.active_group_ids()[0]
        await sync_all()  # each registers its ballot key...
        await sync_all()  # ...and learns the others'
        papers = root / "papers"
        papers.mkdir()
        minutes = papers / "minutes-2026-03-12.pdf"
        minutes.write_bytes(b"%PDF-1.4\n" + os.urandom(180_000))
        minutes_id = await alice.documents.publish(
            group, minutes, "Minutes of the March meeting", note="As read out on Thursday."
        )
        minutes.write_bytes(b"%PDF-1.4\n" + os.urandom(181_000))
        await alice.documents.publish(
            group, minutes, "Minutes of the March meeting", document_id=minutes_id,
            note="Corrected the attendance list (Bob was there).",
        )  # fmt: skip
        draft = papers / "rate-card-response.odt"
        draft.write_bytes(os.urandom(42_000))
        await chidi.documents.publish(
            group, draft, "Our response to the new rate card", note="Draft for Thursday."
        )
        await sync_all()
        await bob.documents.ack(minutes_id)
        await sync_all()

        now = int(time.time() * 1000)
        ballots: dict[str, bytes] = {}
        ballots["open"] = await alice.ballots.create(
            group, "Do we hold the strike vote on 2 June?", closes_at=now + 3 * DAY_MS,
            kind=BallotKind.YES_NO_ABSTAIN, quorum=2,
        )  # fmt: skip
        ballots["single"] = await chidi.ballots.create(
            group, "Which answer do we give to the new rate card?", closes_at=now + DAY_MS,
            kind=BallotKind.SINGLE, options=("Accept", "Reject", "Counter-offer"),
        )  # fmt: skip
        ballots["ranked"] = await alice.ballots.create(
            group, "What should we push for first?", closes_at=now + DAY_MS,
            kind=BallotKind.RANKED,
            options=("Pay per drop", "Paid waiting time", "Safety kit", "Holiday pay"),
        )  # fmt: skip
        ballots["numeric"] = await alice.ballots.create(
            group, "How many hours did you wait unpaid last week?", closes_at=now + DAY_MS,
            kind=BallotKind.NUMERIC, numeric_min=0, numeric_max=20, histogram_bins=10,
        )  # fmt: skip
        await sync_all()
        votes = {
            "open": {"bob": "yes"},
            "single": {"alice": "Reject", "bob": "Counter-offer", "chidi": "Counter-offer"},
            "ranked": {
                "alice": "Safety kit,Paid waiting time",
                "bob": "Paid waiting time,Pay per drop",
                "chidi": "Pay per drop,Paid waiting time,Holiday pay",
            },
            "numeric": {"alice": "6", "bob": "9", "chidi": "3"},
        }
        for ballot, by_member in votes.items():
            for name, choice in by_member.items():
                await engines[name].ballots.vote(ballots[ballot], choice, delay_ms=0)
        await sync_all()
        await chidi.ballots.close(ballots["single"])
        await alice.ballots.close(ballots["ranked"])
        await alice.ballots.close(ballots["numeric"])
        await sync_all()
        await sync_all()
        return ballots
    finally:
        for engine in engines.values():
            await engine.close()


def _documents_and_ballots(app: QApplication, root: Path, relay_url: str, out: Path,
                           suffix: str, width: int) -> None:  # fmt: skip
    """The documents panel, the publish dialog, the ballot list with an open ballot, the
    create-ballot dialog and tallied results (single choice, ranked, numeric)."""
    ballots = asyncio.run(_seed_documents_and_ballots(root, relay_url))
    alice = _controller(root / "alice", root)
    unlock = alice.unlock_screen
    if unlock is None:
        raise SystemExit("expected the unlock screen")
    unlock.passphrase.setText(PASSPHRASE)
    unlock.unlock.click()
    _pump(app, lambda: alice.main_window is not None)
    window = alice.main_window
    if window is None:
        raise SystemExit("no main window")
    window.resize(width, 720)
    _pump(app, lambda: "Online" in window.connection_label.text())
    tabs = window.tabs

    tabs.setCurrentWidget(tabs.documents)
    documents = tabs.documents
    _pump(app, lambda: documents.list.count() == 2)
    documents.select_document("Minutes of the March meeting")
    _settle(app, 0.5)
    _save(window, out, f"documents{suffix}")

    documents.select_document("Our response to the new rate card")
    publish = documents.open_publish_dialog(documents.selected_document())
    if publish is None:
        raise SystemExit("no publish dialog")
    publish.file.setText(str(root / "papers" / "rate-card-response.odt"))
    publish.note.setPlainText("Final text, as agreed on Thursday. Please read before Monday.")
    _settle(app)
    _save(publish, out, f"publish{suffix}")
    publish.close()

    tabs.setCurrentWidget(tabs.ballots)
    panel = tabs.ballots
    _pump(app, lambda: all(b in panel.cards for b in ballots.values()))
    _pump(app, lambda: panel.cards[ballots["numeric"]].results is not None)
    panel.scroll_area.verticalScrollBar().setValue(0)
    _settle(app, 0.5)
    _save(window, out, f"ballots{suffix}")

    dialog = panel.open_create_dialog()
    if dialog is None:
        raise SystemExit("no create-ballot dialog")
    dialog.question.setPlainText("Which day suits the next general meeting?")
    dialog.set_options(["Tuesday evening", "Thursday evening", "Saturday morning"])
    dialog.use_quorum.setChecked(True)
    _settle(app)
    _save(dialog, out, f"create-ballot{suffix}")
    dialog.close()

    for name in ("single", "ranked", "numeric"):
        card = panel.cards[ballots[name]]
        height = card.heightForWidth(640)
        card.resize(640, height if height > 0 else card.sizeHint().height())
        _settle(app, 0.2)
        _save(card, out, f"ballot-results-{name}{suffix}")

    # The chat after all that: ballots and documents as event lines, not bubbles.
    tabs.show_chat()
    window.chat.follow_latest()
    _settle(app, 0.5)
    _save(window, out, f"chat-events{suffix}")
    alice.shutdown()


async def _seed_reports(root: Path) -> None:
    """Rates over three quarters (one role reaches k = 3 each quarter, another does not)
    and client reports, from Alice, Bob and Chidi (docs/union-tools.md)."""
    names = ("alice", "bob", "chidi")
    engines = {name: Engine.open(root / name, PASSPHRASE) for name in names}
    try:
        group = engines["alice"].active_group_ids()[0]
        for engine in engines.values():
            await engine.sync()
        await engines["alice"].rates.set_threshold(group, 3)
        courier = {
            "2026-Q2": ("11.50", "12", "13.20"),
            "2026-Q3": ("11.80", "12.40", "13"),
            "2026-Q4": ("12.10", "12.90", "14"),
        }
        for period, amounts in courier.items():
            for name, amount in zip(names, amounts, strict=True):
                rates = engines[name].rates
                report = rates.make_report(
                    role="Courier", rate=amount, currency="EUR", unit="hour", period=period
                )
                await rates.submit(group, report, delay_ms=0)
        for name, amount in (("alice", "150"), ("bob", "165")):  # one report a quarter each
            rates = engines[name].rates
            report = rates.make_report(
                role="Dispatcher", rate=amount, currency="EUR", unit="day", period="2026-Q1"
            )
            await rates.submit(group, report, delay_ms=0)
        clients = (
            ("alice", "QuickBite", 0, False, True, "Paid within the week."),
            ("bob", "QuickBite", 21, True, False, "Three reminders before they paid."),
            ("chidi", "QuickBite", 9, True, True, ""),
            ("bob", "RoadRunner Foods", 45, True, False, "Never again."),
        )
        for name, client, late, creep, again, comment in clients:
            service = engines[name].client_reports
            filed = service.make_report(
                client, paid_late_days=late, scope_creep=creep, again=again, comment=comment
            )
            await service.report(group, filed, delay_ms=0)
        for engine in engines.values():
            await engine.sync()
    finally:
        for engine in engines.values():
            await engine.close()


def _rates(app: QApplication, root: Path, out: Path, suffix: str, width: int) -> None:
    """The Rates tab: the board with its chart, and the client reports."""
    asyncio.run(_seed_reports(root))
    alice = _controller(root / "alice", root)
    unlock = alice.unlock_screen
    if unlock is None:
        raise SystemExit("expected the unlock screen")
    unlock.passphrase.setText(PASSPHRASE)
    unlock.unlock.click()
    _pump(app, lambda: alice.main_window is not None)
    window = alice.main_window
    if window is None:
        raise SystemExit("no main window")
    window.resize(width, 720)
    tabs = window.tabs
    tabs.setCurrentWidget(tabs.rates)
    panel = tabs.rates
    _pump(app, lambda: panel.board is not None and len(panel.board.lines) == 2)
    panel.table.selectRow(0)
    _settle(app, 0.5)
    _save(window, out, f"rates{suffix}")
    panel.pages.setCurrentIndex(1)
    _pump(app, lambda: len(panel.clients) == 2)
    panel.client_table.selectRow(0)
    _settle(app, 0.5)
    _save(window, out, f"client-reports{suffix}")
    alice.shutdown()


def _backups(app: QApplication, alice: AppController, root: Path, out: Path, suffix: str) -> None:
    """Caucus → Backups…, the one-time recovery key, and the restore form."""
    window = alice.main_window
    if window is None:
        raise SystemExit("no main window")
    folder = root / "backups"
    folder.mkdir(exist_ok=True)
    window.backups_action.trigger()
    dialog = alice.backups_dialog
    if dialog is None:
        raise SystemExit("no backups dialog")
    dialog.folder.setText(str(folder))
    dialog.schedule.setCurrentIndex(2)  # weekly
    dialog.back_up.click()
    _pump(app, lambda: dialog.recovery_dialog is not None and dialog.recovery_dialog.isVisible())
    shown = dialog.recovery_dialog
    if shown is None:
        raise SystemExit("no recovery key dialog")
    _settle(app)
    _save(shown, out, f"recovery-key{suffix}")
    shown.confirm.setChecked(True)
    shown.done_button.click()
    _settle(app)
    _save(dialog, out, f"backups{suffix}")
    dialog.close()
    restore = RestoreDialog(replace=True)
    restore.file.setText(str(next(folder.glob("*.caucus-backup"))))
    restore.words.setPlainText("abandon ability able about above absent absorb abstract")
    restore.passphrase.setText("violet harbour cinnamon glacier")
    restore.repeat.setText("violet harbour cinnamon glacier")
    restore.show()
    _settle(app)
    _save(restore, out, f"forgot-passphrase{suffix}")
    restore.close()
    restore.deleteLater()


async def _seed_cases(root: Path) -> None:
    """Bob's case (shared as a status line, with evidence and a status change) and
    Chidi's (private, resolved), both joined by Alice, the organizer."""
    from app.core.api import CaseStatus, Sharing

    names = ("alice", "bob", "chidi")
    engines = {name: Engine.open(root / name, PASSPHRASE) for name in names}
    alice, bob, chidi = (engines[n] for n in names)

    async def sync_all() -> None:
        for engine in engines.values():
            await engine.sync()

    try:
        group = alice.active_group_ids()[0]
        await sync_all()  # Alice announces her case inbox...
        await sync_all()  # ...and the members learn it
        unpaid = await bob.cases.open(
            group, "Unpaid invoice from Acme Studio", sharing=Sharing.STATUS
        )
        scope = await chidi.cases.open(
            group, "Scope creep on the Harbour project", sharing=Sharing.NONE
        )
        for _ in range(4):  # invitation, admission, welcome, record
            await sync_all()
        await bob.send_text(
            unpaid, "Invoice 17 (EUR 2,400) was due on 3 March. Two reminders, no answer."
        )
        evidence = root / "invoice-17.pdf"
        evidence.write_bytes(b"%PDF-1.4\n" + os.urandom(60_000))
        await bob.documents.publish(
            unpaid, evidence, "Invoice 17 and both reminders", note="As sent to Acme."
        )
        await sync_all()
        await alice.send_text(unpaid, "Thanks Bob. I wrote to their director this morning.")
        await alice.cases.set_status(
            unpaid, CaseStatus.NEGOTIATING, "Call with Acme's director on Friday"
        )
        await alice.cases.set_status(scope, CaseStatus.RESOLVED, "They paid the extra days")
        await sync_all()
        await sync_all()
    finally:
        for engine in engines.values():
            await engine.close()


def _cases(app: QApplication, root: Path, out: Path, suffix: str, width: int) -> None:
    """The Cases tab as the organizer sees it, the Open a case dialog, and a case's chat
    with its status header."""
    asyncio.run(_seed_cases(root))
    alice = _controller(root / "alice", root)
    unlock = alice.unlock_screen
    if unlock is None:
        raise SystemExit("expected the unlock screen")
    unlock.passphrase.setText(PASSPHRASE)
    unlock.unlock.click()
    _pump(app, lambda: alice.main_window is not None)
    window = alice.main_window
    if window is None:
        raise SystemExit("no main window")
    window.resize(width, 720)
    _pump(app, lambda: "Online" in window.connection_label.text())
    parent = next(g for g in window.reader.groups() if g.name == "Riders' Union")
    window.select_group(parent.group_id)
    tabs = window.tabs
    tabs.setCurrentWidget(tabs.cases)
    panel = tabs.cases
    _pump(app, lambda: panel.list.count() == 2)
    panel.select_case("Unpaid invoice from Acme Studio")
    _settle(app, 0.5)
    _save(window, out, f"cases{suffix}")

    dialog = panel.open_dialog()
    if dialog is None:
        raise SystemExit("no open-case dialog")
    dialog.title.setText("Deliveries re-rated without notice")
    dialog.status_only.setChecked(True)
    _settle(app)
    _save(dialog, out, f"open-case{suffix}")
    dialog.close()

    panel.show_selected_case()
    header = tabs.case_header
    _pump(app, lambda: header.case is not None and header.isVisible())
    window.chat.follow_latest()
    _settle(app, 0.5)
    _save(window, out, f"case-chat{suffix}")
    alice.shutdown()


async def _link_code(home: Path) -> str:
    engine = Engine.open(home, PASSPHRASE)
    try:
        return await engine.link_device()
    finally:
        await engine.close()


def _link_screens(app: QApplication, root: Path, out: Path, suffix: str, width: int) -> None:
    """The first run's doors, the "Link this computer" form, and the waiting screen
    while Alice's other computer (here: not running) has to answer; then Cancel."""
    code = asyncio.run(_link_code(root / "alice"))
    laptop = _controller(root / "laptop", root)
    screen = laptop.first_run
    if screen is None:
        raise SystemExit("expected the first-run screen")
    screen.resize(width, 720)
    _settle(app)
    _save(screen, out, f"first-run-doors{suffix}")
    screen.link_door.click()
    screen.link_code.setPlainText(code)
    screen.link_fields.name.setText("Alice's laptop")
    screen.link_fields.passphrase.setText("tram lantern orbit velvet")
    screen.link_fields.repeat.setText("tram lantern orbit velvet")
    _settle(app)
    _save(screen, out, f"link-computer{suffix}")
    screen.link_button.click()
    _pump(app, lambda: screen.waiting_title.text() == "Waiting for your other computer")
    _settle(app)
    _save(screen, out, f"link-waiting{suffix}")
    screen.cancel_link.click()
    _pump(app, lambda: not laptop.busy())
    # A code no computer showed: the one-line error, the form kept as it was.
    screen.link_code.setPlainText(
        LinkCode.generate(LinkCode.parse(code).relay_url, os.urandom).encode()
    )
    screen.link_button.click()
    _pump(app, lambda: not laptop.busy() and screen.link_error.isVisible())
    _settle(app)
    _save(screen, out, f"link-error{suffix}")
    laptop.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument(
        "--width", type=int, default=1180, help="main window width in px (720, 1440, ...)"
    )
    parser.add_argument(
        "--only",
        choices=("all", "cases", "link"),
        default="all",
        help="cases: only the case screens; link: only the first run's link door",
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    suffix = ("" if args.theme == "light" else "-dark") + (
        "" if args.width == 1180 else f"-{args.width}"
    )

    app = QApplication([sys.argv[0]])
    app.setApplicationName("Caucus")
    apply_theme(app, args.theme)
    with tempfile.TemporaryDirectory(prefix="caucus-shots-") as tmp:
        root = Path(tmp)
        relay = EmbeddedRelay(root / "relay.db").start()
        try:
            asyncio.run(_seed(root, relay.url))
            if args.only == "cases":
                _cases(app, root, out, suffix, args.width)
                return 0
            if args.only == "link":
                _link_screens(app, root, out, suffix, args.width)
                return 0

            first = _controller(root / "newcomer", root, embedded_relay=True)
            screen = first.first_run
            if screen is None:
                raise SystemExit("expected the first-run screen")
            screen.name.setText("Dana")
            screen.passphrase.setText("tram lantern orbit velvet")
            screen.repeat.setText("tram lantern orbit velvet")
            screen.resize(560, max(520, screen.minimumSizeHint().height()))
            _settle(app)
            _save(screen, out, f"first-run{suffix}")
            first.shutdown()

            alice = _controller(root / "alice", root)
            unlock = alice.unlock_screen
            if unlock is None:
                raise SystemExit("expected the unlock screen")
            unlock.passphrase.setText("not my passphrase")
            unlock.unlock.click()
            _pump(app, lambda: unlock.error.isVisible())
            _save(unlock, out, f"unlock{suffix}")
            unlock.passphrase.setText(PASSPHRASE)
            unlock.unlock.click()
            _pump(app, lambda: alice.main_window is not None)
            window = alice.main_window
            if window is None:
                raise SystemExit("no main window")
            window.resize(args.width, 720)
            _pump(app, lambda: window.members.requests.count() > 0)
            members = window.reader.members(window.current_group().group_id)  # type: ignore[union-attr]
            chidi = next(m for m in members if m.name == "Chidi")
            alice.store.mark_verified(chidi)
            window.members.refresh()
            window.members.select_member("Bob")
            _pump(app, lambda: "Online" in window.connection_label.text())
            _settle(app, 0.5)
            _save(window, out, f"main-window{suffix}")
            window.chat.verticalScrollBar().setValue(0)
            _pump(app, window.chat.jump_button.isVisible)
            _settle(app)
            _save(window, out, f"chat-scrolled-up{suffix}")
            window.chat.follow_latest()
            _save(window.members, out, f"members{suffix}")

            # Issue #12: the pins bar, the held banner (shown as a held send shows it)
            # and the group info dialog.
            window.extras.held_banner.show()
            _settle(app, 0.5)
            _save(window, out, f"chat-pins-held{suffix}")
            window.extras.held_banner.hide()
            window.open_group_info()
            _settle(app)
            if window.dialog is None:
                raise SystemExit("no group info dialog")
            _save(window.dialog, out, f"group-info{suffix}")
            window.dialog.close()

            bob = next(m for m in members if m.name == "Bob")
            window.open_verify_dialog(bob)
            _settle(app)
            if window.dialog is None:
                raise SystemExit("no verification dialog")
            _save(window.dialog, out, f"verify{suffix}")
            window.dialog.close()

            # Issue #13: Chidi, whom Alice verified, links a laptop: the number changed,
            # so the mark turns into a warning until they compare again.
            asyncio.run(_link_laptop(root, relay.url, "chidi"))
            group_id = window.current_group().group_id  # type: ignore[union-attr]

            def chidi_now() -> MemberView:
                return next(m for m in window.reader.members(group_id) if m.name == "Chidi")

            window.reader.forget(group_id)
            _pump(app, lambda: bool(chidi_now().devices))
            window.members.refresh()
            _pump(app, lambda: "⚠" in window.members.warning.text())
            _settle(app)
            _save(window.members, out, f"members-changed{suffix}")
            window.open_verify_dialog(chidi_now())
            _settle(app)
            if window.dialog is None:
                raise SystemExit("no verification dialog")
            _save(window.dialog, out, f"verify-changed{suffix}")
            window.dialog.close()

            window.open_invite_dialog()
            invite = window.dialog
            if not isinstance(invite, InviteDialog):
                raise SystemExit("no invite dialog")
            invite.approval.setChecked(True)
            invite.create_button.click()
            _pump(app, lambda: invite.code.text().startswith("caucus://"))
            _settle(app)
            _save(invite, out, f"invite{suffix}")
            invite.close()

            window.open_devices_dialog()
            devices = window.dialog
            if not isinstance(devices, DevicesDialog):
                raise SystemExit("no devices dialog")
            _pump(app, lambda: devices.list.count() == 1)
            first_device = devices.devices()[0]
            # A linked laptop beside the real first device, as the list shows one.
            laptop = DeviceView("3f9c2a71d04e8b65", "Laptop", False, False)
            devices.show_devices([first_device, laptop])
            devices.list.setCurrentRow(1)
            devices.link_button.click()
            _pump(app, lambda: devices.code.text().startswith("caucus://link#"))
            _settle(app)
            _save(devices, out, f"devices{suffix}")
            devices.close()
            _backups(app, alice, root, out, suffix)
            alice.shutdown()
            _documents_and_ballots(app, root, relay.url, out, suffix, args.width)
            _rates(app, root, out, suffix, args.width)
            _cases(app, root, out, suffix, args.width)
            _link_screens(app, root, out, suffix, args.width)
        finally:
            relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
