"""Light and dark themes: a palette for the widgets, a QSS file from resources/themes/,
and the few colours the message delegate paints with (bubbles, marks, separators)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["THEMES", "Colors", "app_icon", "apply_theme", "colors", "resources_dir"]

log = logging.getLogger("caucus.qt")

THEMES = ("system", "light", "dark")


@dataclass(frozen=True)
class Colors:
    """Colours the custom painting uses; the rest comes from the palette and QSS."""

    dark: bool
    window: str
    base: str
    text: str
    muted: str
    accent: str
    accent_text: str
    bubble_mine: str
    bubble_theirs: str
    bubble_text_mine: str
    bubble_text_theirs: str
    separator: str
    danger: str
    ok: str
    warn: str


LIGHT = Colors(
    dark=False,
    window="#f4f5f7",
    base="#ffffff",
    text="#1d2026",
    muted="#6b7280",
    accent="#c0392b",
    accent_text="#ffffff",
    bubble_mine="#fbe3df",
    bubble_theirs="#eef0f3",
    bubble_text_mine="#1d2026",
    bubble_text_theirs="#1d2026",
    separator="#d5d9df",
    danger="#b42318",
    ok="#1a7f37",
    warn="#b26b00",
)
DARK = Colors(
    dark=True,
    window="#1b1e23",
    base="#22262c",
    text="#e6e8eb",
    muted="#9aa3ad",
    accent="#e0604f",
    accent_text="#ffffff",
    bubble_mine="#5a2a24",
    bubble_theirs="#2f343b",
    bubble_text_mine="#f4f5f7",
    bubble_text_theirs="#e6e8eb",
    separator="#3a4048",
    danger="#ff6b5e",
    ok="#4cc76a",
    warn="#f0b43c",
)

_current: Colors = LIGHT


def resources_dir() -> Path:
    """The repository's resources/ folder (icons, themes)."""
    return Path(__file__).resolve().parents[2] / "resources"


def colors() -> Colors:
    return _current


def _system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def _palette(c: Colors) -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: c.window,
        QPalette.ColorRole.WindowText: c.text,
        QPalette.ColorRole.Base: c.base,
        QPalette.ColorRole.AlternateBase: c.window,
        QPalette.ColorRole.Text: c.text,
        QPalette.ColorRole.Button: c.base,
        QPalette.ColorRole.ButtonText: c.text,
        QPalette.ColorRole.Highlight: c.accent,
        QPalette.ColorRole.HighlightedText: c.accent_text,
        QPalette.ColorRole.ToolTipBase: c.base,
        QPalette.ColorRole.ToolTipText: c.text,
        QPalette.ColorRole.PlaceholderText: c.muted,
        QPalette.ColorRole.Link: c.accent,
    }
    for role, value in roles.items():
        palette.setColor(role, QColor(value))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(c.muted))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(c.muted))
    return palette


def _indicator_palette(palette: QPalette, c: Colors) -> QPalette:
    """The palette of check boxes and radio buttons. Fusion draws their outline in the
    window colour made darker, which on the dark theme is nearly black on nearly black
    (an unticked box could not be seen) and on the light theme a pale grey under 3:1
    against the window. Here it comes from a grey chosen for each theme (and a fainter
    one when the control is disabled)."""
    indicators = QPalette(palette)
    outline, disabled = ("#c4cad2", "#6b7480") if c.dark else ("#9aa1aa", "#d5d9df")
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        indicators.setColor(group, QPalette.ColorRole.Window, QColor(outline))
    indicators.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Window, QColor(disabled))
    return indicators


def apply_theme(app: QApplication, name: str = "system") -> Colors:
    """Switch the whole app to ``name`` (system, light or dark); returns its colours."""
    global _current
    dark = _system_prefers_dark() if name == "system" else name == "dark"
    _current = DARK if dark else LIGHT
    app.setStyle("Fusion")  # the same look on every platform; QSS builds on it
    palette = _palette(_current)
    app.setPalette(palette)
    indicators = _indicator_palette(palette, _current)
    # The frames of spin boxes, date fields and list boxes come from the same outline:
    # on the dark theme they were as faint as the boxes. The light theme keeps Fusion's,
    # like its line edits a white field on a grey window.
    frames = indicators if _current.dark else palette
    for widget_class, chosen in (
        ("QCheckBox", indicators),
        ("QRadioButton", indicators),
        ("QAbstractSpinBox", frames),
        ("QComboBox", frames),
    ):
        # PySide6 6.11 takes the class name as str (bytes raises); its stub says bytes.
        app.setPalette(chosen, widget_class)  # type: ignore[arg-type]
    qss = resources_dir() / "themes" / ("dark.qss" if dark else "light.qss")
    try:
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
    except OSError:
        log.warning("theme file %s is missing; using the plain palette", qss.name)
        app.setStyleSheet("")
    return _current


def app_icon() -> QIcon:
    path = resources_dir() / "icons" / "caucus.svg"
    return QIcon(str(path)) if path.exists() else QIcon()
