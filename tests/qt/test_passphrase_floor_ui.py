"""The desktop app's forms enforce the passphrase strength floor (issue #9): a weak new
passphrase is refused with the engine's one-line reason under the field, and nothing is
created or re-keyed; a strong one goes through."""

from __future__ import annotations

import pytest

from app.core.passphrase_policy import ALLOW_WEAK_ENV
from tests.qt.helpers import PASSPHRASE, WAIT_MS, click, create_profile


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """The floor as people get it: the suite's explicit override removed."""
    monkeypatch.delenv(ALLOW_WEAK_ENV, raising=False)


@pytest.mark.usefixtures("strict")
def test_first_run_refuses_a_weak_passphrase_under_the_field(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alice")
    screen = app.first_run
    click(qtbot, screen.start_door)
    fields = screen.start_fields
    qtbot.keyClicks(fields.name, "Alice")
    qtbot.keyClicks(fields.passphrase, "password")
    qtbot.keyClicks(fields.repeat, "password")
    screen.embedded.setChecked(False)
    qtbot.keyClicks(screen.relay_url, relay.url)
    click(qtbot, screen.create_button)
    assert fields.floor.isVisible()
    assert fields.floor.text() == (
        "The passphrase is too weak (this is a top-10 common password):"
        " use four or more unrelated words."
    )
    assert not screen.error.isVisible()
    assert app.main_window is None and not app.busy()

    fields.passphrase.clear()  # typing again clears the refusal
    assert not fields.floor.isVisible()
    fields.repeat.clear()
    qtbot.keyClicks(fields.passphrase, PASSPHRASE)
    qtbot.keyClicks(fields.repeat, PASSPHRASE)
    click(qtbot, screen.create_button)
    qtbot.waitUntil(lambda: app.main_window is not None, timeout=WAIT_MS)


@pytest.mark.usefixtures("strict")
def test_changing_to_a_one_character_passphrase_is_refused(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("alice")
    window = create_profile(qtbot, app, "Alice", relay.url)
    window.passphrase_action.trigger()
    dialog = app._passphrase_dialog
    qtbot.keyClicks(dialog.old, PASSPHRASE)
    qtbot.keyClicks(dialog.new, "x")
    qtbot.keyClicks(dialog.repeat, "x")
    click(qtbot, dialog.change)
    assert dialog.floor.isVisible()
    assert dialog.floor.text().startswith("The passphrase is too weak (")
    assert dialog.change.isEnabled() and app.main_window is window  # nothing re-keyed
