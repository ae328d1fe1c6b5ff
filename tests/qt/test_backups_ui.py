"""The desktop's backup screens (docs/protocol.md section 9): Backups → "Back up now"
shows the recovery key once, in a dialog that closes only when the person confirms;
"Forgot passphrase?" on the unlock screen and "Restore from a backup" on the first run
restore the profile with a new passphrase."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.qt.backups import BackupsDialog, RecoveryKeyDialog, RestoreDialog
from tests.qt.helpers import (
    WAIT_MS,
    click,
    create_group,
    create_profile,
    open_window,
    send,
    shown_texts,
)

NEW_PASSPHRASE = "violet harbour cinnamon glacier"


def _back_up(qtbot, app, folder: Path) -> str:  # type: ignore[no-untyped-def]
    """Backups → folder → Back up now; confirm the recovery key; returns its words."""
    window = open_window(app)
    window.backups_action.trigger()
    dialog = app.backups_dialog
    assert isinstance(dialog, BackupsDialog)
    qtbot.keyClicks(dialog.folder, str(folder))
    click(qtbot, dialog.back_up)
    qtbot.waitUntil(lambda: dialog.recovery_dialog is not None, timeout=WAIT_MS)
    shown = dialog.recovery_dialog
    assert isinstance(shown, RecoveryKeyDialog)
    qtbot.waitUntil(shown.isVisible, timeout=WAIT_MS)
    words = " ".join(label.text().split(". ", 1)[1] for label in shown.word_labels)
    assert len(words.split()) == 24
    assert not shown.done_button.isEnabled()
    qtbot.keyClick(shown, Qt.Key.Key_Escape)  # not before the person confirms
    assert shown.isVisible()
    shown.confirm.setChecked(True)
    click(qtbot, shown.done_button)
    qtbot.waitUntil(lambda: not shown.isVisible(), timeout=WAIT_MS)
    return words


def _fill_restore(qtbot, dialog: RestoreDialog, backup: Path, words: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(dialog.file, str(backup))
    dialog.words.setPlainText(words)
    qtbot.keyClicks(dialog.passphrase, NEW_PASSPHRASE)
    qtbot.keyClicks(dialog.repeat, NEW_PASSPHRASE)
    click(qtbot, dialog.restore)


def test_back_up_then_forgot_passphrase_restores_the_profile(  # type: ignore[no-untyped-def]
    qtbot, relay, make_app, tmp_path: Path
) -> None:
    app = make_app("alice")
    window = create_profile(qtbot, app, "Alice", relay.url)
    create_group(qtbot, window, "Warehouse")
    send(qtbot, window, "kept in the backup")
    qtbot.waitUntil(lambda: "kept in the backup" in shown_texts(window), timeout=WAIT_MS)
    folder = tmp_path / "backups"
    folder.mkdir()
    words = _back_up(qtbot, app, folder)
    backups = list(folder.glob("*.caucus-backup"))
    assert len(backups) == 1

    # A second "Back up now" shows no key: it was shown once.
    dialog = app.backups_dialog
    first = dialog.recovery_dialog
    click(qtbot, dialog.back_up)
    qtbot.waitUntil(lambda: len(list(folder.glob("*.caucus-backup"))) == 2, timeout=WAIT_MS)
    qtbot.waitUntil(dialog.back_up.isEnabled, timeout=WAIT_MS)
    assert dialog.recovery_dialog is first
    dialog.close()

    app.lock()
    screen = app.unlock_screen
    click(qtbot, screen.forgot)
    restore = app.restore_dialog
    assert isinstance(restore, RestoreDialog) and restore.replace
    # A mistyped key is refused in the form; nothing is restored.
    _fill_restore(qtbot, restore, backups[0], " ".join(words.split()[:23]))
    assert restore.error.isVisible() and "24 words" in restore.error.text()
    restore.file.clear()
    restore.passphrase.clear()
    restore.repeat.clear()
    _fill_restore(qtbot, restore, backups[0], words)
    qtbot.waitUntil(lambda: app.main_window is not None, timeout=WAIT_MS)
    window = open_window(app)
    qtbot.waitUntil(lambda: "kept in the backup" in shown_texts(window), timeout=WAIT_MS)
    assert list(tmp_path.glob("alice.replaced-*"))  # the old profile was set aside


def test_first_run_restores_from_a_backup(  # type: ignore[no-untyped-def]
    qtbot, relay, make_app, tmp_path: Path
) -> None:
    alice = make_app("alice")
    window = create_profile(qtbot, alice, "Alice", relay.url)
    create_group(qtbot, window, "Depot")
    folder = tmp_path / "backups"
    folder.mkdir()
    words = _back_up(qtbot, alice, folder)
    (backup,) = folder.glob("*.caucus-backup")
    alice.backups_dialog.close()

    other = make_app("laptop")
    screen = other.first_run
    click(qtbot, screen.restore_door)
    restore = other.restore_dialog
    assert isinstance(restore, RestoreDialog) and not restore.replace
    _fill_restore(qtbot, restore, backup, words)
    qtbot.waitUntil(lambda: other.main_window is not None, timeout=WAIT_MS)
    restored = open_window(other)
    qtbot.waitUntil(lambda: restored.title.text().startswith("Depot"), timeout=WAIT_MS)
