"""Every dialog opens tall enough for its rows, and stays so when an error appears.

Qt's minimum height for a dialog does not count the extra lines of wrapped labels, so a
dialog opened at that minimum (``resize(width, 0)``) gave the wrapped intro its lines from
the rows below: the "Open a case" choices were drawn 8 px tall and overlapped (seen in
the screenshots). A wrapped error shown later squeezed the fields of seven dialogs the
same way, and a minimum width below the layout's cut a form label to its first word.
Each check: no visible button, field or label is smaller than it asks to be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QWidget,
)

from app.core.views import GroupView
from app.qt.backups import BackupsDialog, RecoveryKeyDialog, RestoreDialog
from app.qt.dialogs.create import NewChannelDialog, NewGroupDialog
from app.qt.dialogs.create_ballot import CreateBallotDialog
from app.qt.dialogs.group_info import GroupInfoDialog
from app.qt.dialogs.invite import InviteDialog
from app.qt.dialogs.join import JoinDialog
from app.qt.dialogs.open_case import OpenCaseDialog
from app.qt.dialogs.passphrase import ChangePassphraseDialog
from app.qt.dialogs.publish import PublishDialog
from app.qt.first_run import FirstRunScreen
from app.qt.widgets import show_error

# The dialogs only keep the bridge for when a button is pressed; none is pressed here.
NO_BRIDGE: Any = None
GROUP = GroupView(bytes(16), "Riders' Union", "active", "organizer", 3, 0, ())
ERROR = "The server could not be reached, so nothing was changed. Try again in a minute."

DIALOGS: dict[str, Callable[[], QDialog]] = {
    "open case": lambda: OpenCaseDialog(NO_BRIDGE, GROUP, None),
    "group info": lambda: GroupInfoDialog(NO_BRIDGE, GROUP),
    "invite": lambda: InviteDialog(NO_BRIDGE, GROUP, relay_url="http://127.0.0.1:8000"),
    "join": lambda: JoinDialog(NO_BRIDGE),
    "publish": lambda: PublishDialog(title="Minutes of the March meeting", next_version=2),
    "new group": lambda: NewGroupDialog(NO_BRIDGE),
    "new channel": lambda: NewChannelDialog(NO_BRIDGE, bytes(16)),
    "change passphrase": ChangePassphraseDialog,
    "new ballot": lambda: CreateBallotDialog(NO_BRIDGE, bytes(16), 3),
    "recovery key": lambda: RecoveryKeyDialog(" ".join(["harbour"] * 24)),
    "backups": lambda: BackupsDialog(lambda *_args: None),
    "restore": lambda: RestoreDialog(replace=True),
}


def squeezed(dialog: QWidget) -> list[str]:
    """The visible controls drawn smaller than they ask (their text is clipped)."""
    found = []
    for widget in dialog.findChildren(QWidget):
        if not widget.isVisible():
            continue
        if not isinstance(widget, (QAbstractButton, QLineEdit, QComboBox, QLabel)):
            continue
        if isinstance(widget.parent(), QAbstractSpinBox):  # drawn inside the spin box's frame
            continue
        needed = widget.minimumSizeHint().height()
        if widget.hasHeightForWidth():
            needed = max(needed, widget.heightForWidth(widget.width()))
        if widget.height() < needed:
            found.append(f"{type(widget).__name__} {widget.height()} px < {needed} px high")
        wraps = isinstance(widget, QLabel) and widget.wordWrap()
        if not wraps and widget.width() < widget.minimumSizeHint().width():
            found.append(f"{type(widget).__name__} {widget.width()} px wide, too narrow")
    return found


@pytest.mark.parametrize("name", sorted(DIALOGS))
def test_a_dialog_fits_its_rows_when_opened_and_after_an_error(
    qtbot: Any, theme: str, name: str
) -> None:
    dialog = DIALOGS[name]()
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    assert squeezed(dialog) == []

    error = getattr(dialog, "error", None)
    if isinstance(error, QLabel):
        height = dialog.height()
        show_error(error, ERROR)
        qtbot.waitUntil(error.isVisible)
        assert dialog.height() > height
        assert squeezed(dialog) == []
    dialog.close()


def test_the_first_run_window_grows_for_notes_that_wrap(qtbot: Any, theme: str) -> None:
    """The start door at its opening size: ticking "Let people on this local network reach
    it" shows a four-line note, a passphrase a two-line hint, a failure a two-line error;
    the window grows for each instead of drawing rows over each other."""
    screen = FirstRunScreen(
        embedded_preselected=True, keyring_available=False, keyring_reason="no keyring here"
    )
    qtbot.addWidget(screen)
    screen.show()
    qtbot.waitExposed(screen)
    assert screen.pages.currentWidget() is screen.start_page
    screen.resize(600, 560)
    qtbot.waitUntil(lambda: screen.height() >= 560)
    assert squeezed(screen) == []

    screen.embedded_lan.setChecked(True)
    qtbot.waitUntil(lambda: squeezed(screen) == [])
    screen.start_fields.passphrase.setText("tram lantern orbit velvet")
    qtbot.waitUntil(lambda: squeezed(screen) == [])
    show_error(screen.error, ERROR + " " + ERROR)
    qtbot.waitUntil(lambda: squeezed(screen) == [])
    assert screen.width() == 600


def test_a_dialog_grows_when_a_status_line_wraps(qtbot: Any, theme: str) -> None:
    """Not only errors: the backups dialog's status ("Backed up to … (487,786 bytes).")
    wraps onto two lines after a backup, and squeezed the folder row until the dialog
    grew for any row whose height changes."""
    dialog = BackupsDialog(lambda *_args: None)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    height = dialog.height()
    dialog.status.setText(
        "Backed up to caucus-20261203-225924-866.caucus-backup (487,786 bytes). " * 2
    )
    qtbot.waitUntil(lambda: dialog.height() > height)
    qtbot.waitUntil(lambda: squeezed(dialog) == [])
