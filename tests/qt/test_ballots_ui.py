"""Anonymous ballots through the desktop app: a ballot created through the dialog
reaches the other member, both vote through the controls (radio buttons; a reordered
ranking), no count is on screen before the close, the creator closes, and both see the
same tallied counts in the results view."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from app.core.api import BallotKind, BallotResultView, OptionCount
from app.qt.ballot_results import BallotResultsView, Bar, BarChart, Histogram, elimination_note
from app.qt.ballots_panel import BallotCard, BallotsPanel
from app.qt.dialogs.create_ballot import CreateBallotDialog
from app.qt.group_tabs import GroupTabs
from app.qt.main_window import MainWindow
from tests.qt.helpers import WAIT_MS, click
from tests.qt.pair import organizer_and_member

OFFER = "Accept the employer's offer?"
PRIORITY = "What should we push for first?"


def _tabs(window: MainWindow) -> GroupTabs:
    """The Chat / Documents / Ballots tabs above the conversation."""
    return window.tabs


def _create(  # type: ignore[no-untyped-def]
    qtbot, panel: BallotsPanel, question: str, kind: BallotKind, options: list[str]
) -> None:
    click(qtbot, panel.new_button)
    dialog = panel.dialog
    assert isinstance(dialog, CreateBallotDialog)
    qtbot.keyClicks(dialog.question, question)
    dialog.kind.setCurrentIndex(dialog.kind.findData(kind))
    for option in options:
        qtbot.keyClicks(dialog.new_option, option)
        click(qtbot, dialog.add_option)
    assert dialog.option_texts() == options
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: dialog.created_id is not None, timeout=WAIT_MS)


def _card(qtbot, panel: BallotsPanel, question: str) -> BallotCard:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: panel.card_for(question) is not None, timeout=WAIT_MS)
    card = panel.card_for(question)
    assert card is not None
    return card


def _bars(results: BallotResultsView, index: int) -> tuple[Bar, ...]:
    chart = results.charts[index]
    assert isinstance(chart, BarChart)
    return chart.bars


def _no_counts(card: BallotCard) -> bool:
    return card.results is None and not card.findChildren(BarChart)


def test_create_vote_close_and_compare_results(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Bakery")
    creator, voter = _tabs(alice), _tabs(bob)
    creator.setCurrentWidget(creator.ballots)
    voter.setCurrentWidget(voter.ballots)
    mine, theirs = creator.ballots, voter.ballots
    mine.vote_delay_ms = theirs.vote_delay_ms = 0  # post at once; the app waits 2-10 s
    # Both apps register their ballot keys on their first syncs; then both may vote.
    qtbot.waitUntil(lambda: mine.eligible_count() == 2, timeout=WAIT_MS)

    _create(qtbot, mine, OFFER, BallotKind.SINGLE, ["Accept", "Reject", "Counter-offer"])
    _create(qtbot, mine, PRIORITY, BallotKind.RANKED, ["Pay", "Hours", "Safety"])
    offer_a, offer_b = _card(qtbot, mine, OFFER), _card(qtbot, theirs, OFFER)
    rank_a, rank_b = _card(qtbot, mine, PRIORITY), _card(qtbot, theirs, PRIORITY)
    assert offer_b.progress.text() == "0 of 2 have voted"
    assert offer_b.chip.text() == "Open"
    assert offer_b.close_button.isHidden() and not offer_a.close_button.isHidden()

    click(qtbot, offer_b.choices[2])
    click(qtbot, offer_b.vote_button)
    click(qtbot, offer_a.choices[2])
    click(qtbot, offer_a.vote_button)
    assert rank_b.ranking is not None and rank_a.ranking is not None
    # Nothing is ranked until the voter ranks it: an untouched form submits nothing.
    assert rank_b.ranking.ranking() == ()
    click(qtbot, rank_b.vote_button)
    assert rank_b.error.text() == "Rank at least one option."
    for option in ("Safety", "Hours", "Pay"):  # ticked in this order
        items = rank_b.ranking.findItems(option, Qt.MatchFlag.MatchContains)
        items[0].setCheckState(Qt.CheckState.Checked)
    assert rank_b.ranking.ranking() == (2, 1, 0)
    rank_b.ranking.setCurrentRow(2)
    click(qtbot, rank_b.rank_up)  # Safety, Pay, Hours
    assert rank_b.ranking.ranking() == (2, 0, 1)
    assert rank_b.ranking.item(0).text() == "1. Safety"
    click(qtbot, rank_b.vote_button)
    rank_a.ranking.set_order(["Hours", "Pay"])  # Safety left unranked
    click(qtbot, rank_a.vote_button)

    for card in (offer_a, offer_b, rank_a, rank_b):
        qtbot.waitUntil(lambda c=card: c.progress.text() == "2 of 2 have voted", timeout=WAIT_MS)
        assert _no_counts(card)  # nothing to see before the close
    qtbot.waitUntil(lambda: offer_b.vote_status.text().startswith("✔ Your vote is in"),
                    timeout=WAIT_MS)  # fmt: skip

    for card in (offer_a, rank_a):
        click(qtbot, card.close_button)
        box = mine.confirmation
        assert isinstance(box, QMessageBox)
        click(qtbot, next(b for b in box.buttons() if b.text() == "Close and count"))
    for card in (offer_a, offer_b, rank_a, rank_b):
        qtbot.waitUntil(lambda c=card: c.results is not None, timeout=WAIT_MS)

    assert offer_a.result is not None and offer_b.result is not None
    assert offer_a.result.counts == offer_b.result.counts == (
        OptionCount("Accept", 0), OptionCount("Reject", 0), OptionCount("Counter-offer", 2),
    )  # fmt: skip
    results = offer_b.results
    assert isinstance(results, BallotResultsView)
    assert _bars(results, 0) == (
        Bar("Accept", 0), Bar("Reject", 0), Bar("Counter-offer", 2, True),
    )  # fmt: skip
    assert results.outcome.text() == "Result: Counter-offer"
    assert offer_b.chip.text() == "Result" and offer_b.mine.text() == "✔ Your vote was counted."
    assert not offer_b.controls.isVisible() and not offer_b.vote_button.isVisible()

    # Ranked: first choices Safety (Bob) and Hours (Alice); Pay has none and goes, the
    # Hours/Safety tie drops the option listed last, and Bob's ballot moves on to Hours.
    assert rank_a.result is not None and rank_b.result is not None
    assert rank_a.result.rounds == rank_b.result.rounds
    assert [r.eliminated for r in rank_b.result.rounds] == ["Pay", "Safety", None]
    assert rank_a.result.winners == rank_b.result.winners == ("Hours",)
    assert len(rank_b.results.charts) == 3
    assert rank_b.results.charts[2].bars == (Bar("Hours", 2, True),)
    # The tie is called a tie, and the rule that broke it is on screen.
    headings = {
        label.accessibleName(): label.text() for label in rank_b.results.findChildren(QLabel)
    }
    assert headings["Round 1"] == "Round 1: Pay has the fewest votes (0 votes) and is eliminated."
    assert headings["Round 2"] == (
        "Round 2: Hours and Safety tie for the fewest votes (1 vote); Safety is eliminated "
        "by the tie rule."
    )
    assert "Tie rule:" in headings["How the count works"]


def test_results_view_for_numeric_and_missed_quorum(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The result's JSON as the tally writes it, without a relay: a numeric survey shows
    its median, quartiles and histogram; a missed quorum names no winner but keeps the
    counts on record."""
    numeric = BallotResultsView(BallotResultView.from_tally({
        "kind": "numeric", "status": "tallied", "eligible": 4, "turnout": 3, "valid": 3,
        "invalid": 0, "quorum": {"required": 0, "met": True}, "counts": {"3": 1, "6": 1, "9": 1},
        "winners": [], "numeric": {
            "count": 3, "min": 3, "max": 9, "mean": 6.0, "q1": 4.5, "median": 6.0, "q3": 7.5,
            "histogram": [{"low": 0, "high": 4, "count": 1}, {"low": 5, "high": 9, "count": 2}],
        },
    }))  # fmt: skip
    qtbot.addWidget(numeric)
    assert numeric.outcome.text() == "Median answer: 6"
    assert isinstance(numeric.charts[0], Histogram)
    assert numeric.charts[0].bins == [(0, 4, 1), (5, 9, 2)]
    assert numeric.summary.text() == "3 of 4 voted · 3 valid"

    missed = BallotResultsView(BallotResultView.from_tally({
        "kind": "single", "status": "quorum_not_met", "eligible": 5, "turnout": 1, "valid": 1,
        "invalid": 0, "quorum": {"required": 3, "met": False},
        "counts": {"Yes, strike": 1, "Not yet": 0}, "winners": [],
    }))  # fmt: skip
    qtbot.addWidget(missed)
    assert missed.outcome.text().startswith("Quorum not met: 1 voted, 3 were needed")
    assert _bars(missed, 0) == (Bar("Yes, strike", 1), Bar("Not yet", 0))
    assert missed.summary.text() == "1 of 5 voted · 1 valid · quorum 3, not met"


def test_a_ballot_shows_in_the_chat_as_one_line_that_opens_the_ballots(
    qtbot, relay, make_app
) -> None:  # type: ignore[no-untyped-def]
    """Issue #12: automatic messages flooded the chat as bubbles and led nowhere."""
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Bakery")
    tabs = _tabs(alice)
    tabs.setCurrentWidget(tabs.ballots)
    qtbot.waitUntil(lambda: tabs.ballots.eligible_count() == 2, timeout=WAIT_MS)
    _create(qtbot, tabs.ballots, OFFER, BallotKind.SINGLE, ["Accept", "Reject"])

    bob_tabs = _tabs(bob)
    bob_tabs.show_chat()
    model = bob.message_model

    def event_row() -> int:  # the ballot's line (Bob's join has a line too)
        for row in range(model.rowCount()):
            message = model.message_at(row)
            if message is not None and message.kind == "event" and message.opens == "ballots":
                return row
        return -1

    qtbot.waitUntil(lambda: event_row() >= 0, timeout=WAIT_MS)
    message = model.message_at(event_row())
    assert message is not None and message.opens == "ballots"
    assert message.text == f"Ballot: {OFFER}"
    bob.resize(1000, 700)
    bob.show()
    index = model.index(event_row())
    bob.chat.scrollTo(index)
    rect = bob.chat.visualRect(index)
    qtbot.mouseClick(bob.chat.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: bob_tabs.currentWidget() is bob_tabs.ballots, timeout=WAIT_MS)


def test_a_tie_of_three_names_each_option_once_in_ballot_order() -> None:
    """Three options tied for the fewest read as a list ("A, B and C tie"), the eliminated
    one among them once, not "C and A, B tie"."""
    counts = {"Pay per drop": 1, "Paid waiting time": 1, "Safety kit": 1, "Holiday pay": 2}
    assert elimination_note(counts, "Safety kit") == (
        "Pay per drop, Paid waiting time and Safety kit tie for the fewest votes (1 vote); "
        "Safety kit is eliminated by the tie rule"
    )
    assert elimination_note({"Yes": 3, "No": 0}, "No") == (
        "No has the fewest votes (0 votes) and is eliminated"
    )
