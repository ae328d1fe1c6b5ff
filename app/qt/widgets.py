"""Small shared pieces of the screens: styled labels and buttons, a dialog's opening size,
and turning an error into a sentence a person can act on (never a traceback, never a
secret)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QWidget

from app.core.api import CaucusError, RelayUnavailable, WrongPassphrase

__all__ = [
    "error_label",
    "fit_dialog",
    "grow_to_fit",
    "human_error",
    "muted_label",
    "primary_button",
    "section_title",
    "show_error",
]


def human_error(error: BaseException) -> str:
    """What to show for a failed action. Engine errors carry safe messages by contract."""
    if isinstance(error, WrongPassphrase):
        return "Wrong passphrase. Try again."
    if isinstance(error, RelayUnavailable):
        return "The server cannot be reached right now. Check the connection and try again."
    if isinstance(error, CaucusError):
        text = str(error).strip()
        return text[:1].upper() + text[1:] if text else type(error).__name__
    return f"Something went wrong ({type(error).__name__})."


def primary_button(text: str, parent: QWidget | None = None) -> QPushButton:
    button = QPushButton(text, parent)
    button.setProperty("primary", "true")
    button.setAccessibleName(text.replace("&", ""))
    button.setDefault(True)
    return button


def error_label(parent: QWidget | None = None) -> QLabel:
    label = QLabel(parent)
    label.setObjectName("errorText")
    label.setWordWrap(True)
    label.setAccessibleName("Error message")
    label.hide()
    return label


def muted_label(text: str, parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


def section_title(text: str, parent: QWidget | None = None) -> QLabel:
    label = QLabel(text.upper(), parent)
    label.setObjectName("sectionTitle")
    label.setAccessibleName(text)
    return label


def show_error(label: QLabel, error: BaseException | str | None) -> None:
    """Show (or with None hide) an error under a form."""
    if error is None:
        label.clear()
        label.hide()
        return
    label.setText(error if isinstance(error, str) else human_error(error))
    label.show()
    window = label.window()
    if isinstance(window, QDialog):
        grow_to_fit(window)


def grow_to_fit(window: QWidget) -> None:
    """Make a dialog or small window taller if its rows need more height at its width
    than it has (a wrapped error or note just shown): Qt's minimum height does not count
    wrapped lines."""
    layout = window.layout()
    if layout is None:
        return
    needed = max(window.minimumSizeHint().height(), layout.heightForWidth(window.width()))
    if window.height() < needed:
        window.resize(window.width(), needed)


class _GrowWhenRowsChange(QObject):
    """Watches a dialog's layout requests (a row shown, a label's text changed) and grows
    the dialog when its rows now need more height than it has."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest and isinstance(watched, QWidget):
            grow_to_fit(watched)
        return False


def fit_dialog(dialog: QDialog, width: int) -> None:
    """Open ``dialog`` at ``width`` and the height every field asks for at that width.

    ``resize(width, 0)`` gives the layout's minimum, which Qt computes without the height
    that wrapped labels need at this width: the wrapped text then takes its lines from the
    rows below it and squeezes radio buttons and themed fields until their text is clipped.
    Only the width becomes a minimum, and never less than the layout's own (a narrower
    one would squeeze the form's label column); the layout keeps the height's, and the
    dialog grows when a row shown later (an error, a status) needs more than it has.
    """
    width = max(width, dialog.minimumSizeHint().width())
    dialog.setMinimumWidth(width)
    layout = dialog.layout()
    if layout is not None and layout.hasHeightForWidth():
        # Exactly what the rows need at this width (the size hint assumes another width,
        # and its extra height would be spread between the rows).
        height = max(dialog.minimumSizeHint().height(), layout.heightForWidth(width))
    else:
        height = dialog.sizeHint().height()
    dialog.resize(width, height)
    if dialog.findChild(_GrowWhenRowsChange) is None:
        dialog.installEventFilter(_GrowWhenRowsChange(dialog))
