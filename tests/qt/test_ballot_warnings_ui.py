"""A ballot card says in plain words when this member's votes differ from the set the
creator's reveal counts, and when eligibility changed (docs/ballots.md 13.1, 13.4)."""

from __future__ import annotations

import dataclasses

from app.core.ballot_views import BallotView
from app.qt.ballots_panel import BallotCard

VIEW = BallotView(
    group_id=bytes(16),
    ballot_id=bytes(range(16)),
    question="Strike on Friday?",
    kind="yes-no",
    options=("yes", "no", "abstain"),
    numeric_min=0,
    numeric_max=0,
    histogram_bins=0,
    creator_name="Alice",
    creator_fingerprint="00" * 16,
    created_by_me=False,
    status="closed",
    opens_at=0,
    closes_at=1,
    quorum=0,
    eligible=3,
    voted=2,
    i_am_eligible=True,
    my_revision=0,
    my_vote_pending=False,
    closed_by="deadline",
    result=None,
)


def _card(qtbot, view: BallotView) -> BallotCard:  # type: ignore[no-untyped-def]
    # Closed, not tallied: the card asks its panel for nothing, so it needs none.
    card = BallotCard(None, view)  # type: ignore[arg-type]
    qtbot.addWidget(card)
    card.show()
    return card


def test_a_card_without_findings_shows_no_warning(qtbot) -> None:  # type: ignore[no-untyped-def]
    card = _card(qtbot, VIEW)
    assert not card.warning.isVisible()


def test_a_card_says_results_differ_and_eligibility_changed(qtbot) -> None:  # type: ignore[no-untyped-def]
    differs = dataclasses.replace(
        VIEW,
        integrity="results differ between members: 1 of the 2 votes the creator's reveal"
        " counts have not reached this client; it asks the group to post them again",
    )
    card = _card(qtbot, differs)
    assert card.warning.isVisible()
    assert card.warning.text().startswith("⚠ Results differ between members: 1 of the 2")

    both = dataclasses.replace(differs, eligibility_changed=True)
    card.update_view(both, now_ms=2)
    lines = card.warning.text().split("\n")
    assert len(lines) == 2
    assert lines[1].startswith("⚠ Eligibility changed: a member of this ballot left")

    card.update_view(VIEW, now_ms=2)  # healed: the warning goes away
    assert not card.warning.isVisible()
