"""Dispute cases through the desktop app: a member opens a case from the group's Cases
tab, the organizer's app joins it on its own and lists it, opens its chat, changes the
status with the header's control; the member's header follows, and the group sees the
shared status line without the member's name."""

from __future__ import annotations

from app.qt.cases_panel import CaseHeader, CasesPanel
from app.qt.dialogs.open_case import OpenCaseDialog
from app.qt.group_tabs import GroupTabs
from app.qt.main_window import MainWindow
from tests.qt.helpers import WAIT_MS, click, shown_texts
from tests.qt.pair import organizer_and_member

TITLE = "Late payment by Acme Studio"


def _tabs(window: MainWindow) -> GroupTabs:
    return window.tabs


def _open_case(qtbot, panel: CasesPanel) -> bytes:  # type: ignore[no-untyped-def]
    click(qtbot, panel.open_button)
    dialog = panel.dialog
    assert isinstance(dialog, OpenCaseDialog)
    assert dialog.private.isChecked()  # nothing is shared unless the member chooses
    qtbot.keyClicks(dialog.title, TITLE)
    dialog.status_only.setChecked(True)
    click(qtbot, dialog.open_button)
    qtbot.waitUntil(lambda: dialog.opened is not None, timeout=WAIT_MS)
    assert dialog.opened is not None
    return dialog.opened


def _joined(panel: CasesPanel) -> bool:
    case = panel.selected_case()
    return case is not None and case.joined and case.members == 2


def test_open_a_case_the_organizer_joins_and_changes_its_status(  # type: ignore[no-untyped-def]
    qtbot, relay, make_app
) -> None:
    _, alice, _, bob = organizer_and_member(qtbot, relay, make_app, "Freelancers")
    parent_view = bob.current_group()
    assert parent_view is not None
    parent = parent_view.group_id
    mine, theirs = _tabs(bob).cases, _tabs(alice).cases
    _tabs(bob).setCurrentWidget(mine)
    _tabs(alice).setCurrentWidget(theirs)
    assert "Open one" in mine.empty.text()

    case_id = _open_case(qtbot, mine)
    qtbot.waitUntil(lambda: mine.list.count() == 1, timeout=WAIT_MS)
    assert mine.selected_case().title == TITLE  # type: ignore[union-attr]

    # The organizer's app reads the invitation, joins, and lists the case.
    qtbot.waitUntil(lambda: _joined(theirs), timeout=WAIT_MS)
    click(qtbot, theirs.show_button)
    qtbot.waitUntil(
        lambda: (alice.current_group() or parent_view).group_id == case_id, timeout=WAIT_MS
    )
    header: CaseHeader = _tabs(alice).case_header
    qtbot.waitUntil(lambda: header.isVisible() and header.case is not None, timeout=WAIT_MS)
    assert header.badge.text() == "OPEN"
    assert header.controls.isVisible() and not header.share_button.isVisible()
    assert [header.next_status.itemData(i) for i in range(header.next_status.count())] == [
        "negotiating",
        "resolved",
    ]
    header.next_status.setCurrentIndex(header.next_status.findData("negotiating"))
    qtbot.keyClicks(header.note, "Call with Acme on Friday")
    click(qtbot, header.apply_button)
    qtbot.waitUntil(lambda: header.badge.text() == "NEGOTIATING", timeout=WAIT_MS)

    # The member's own header follows the organizer's change.
    bob.select_group(case_id)
    _tabs(bob).show_chat()
    own: CaseHeader = _tabs(bob).case_header
    qtbot.waitUntil(lambda: own.case is not None and own.badge.text() == "NEGOTIATING",
                    timeout=WAIT_MS)  # fmt: skip
    assert own.share_button.isVisible() and own.share_button.text() == "Stop sharing"
    qtbot.waitUntil(
        lambda: "Status changed to negotiating: Call with Acme on Friday" in shown_texts(bob),
        timeout=WAIT_MS,
    )

    # The group sees the shared status, posted by the organizer, without the title.
    bob.select_group(parent)
    qtbot.waitUntil(lambda: "A case is now negotiating" in shown_texts(bob), timeout=WAIT_MS)
    assert not any(TITLE in text for text in shown_texts(bob))
    assert not _tabs(bob).case_header.isVisible()  # no header in an ordinary group
