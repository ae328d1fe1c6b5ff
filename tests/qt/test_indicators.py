"""Check boxes and radio buttons can be seen in both themes, and the frames of number,
date and list boxes on the dark one.

Fusion draws their outline in the window colour made darker: on the dark theme that was
nearly black on nearly black, so an unticked "Announcements only" box or the unchosen
"Open a case" options were invisible (seen in the dark screenshots). The bar is WCAG's
for the parts of a control (1.4.11): 3:1 against what is around it.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QRadioButton,
    QSpinBox,
    QStyle,
    QStyleOptionButton,
    QWidget,
)

from app.qt.theme import apply_theme, colors
from app.qt.widgets import primary_button


def _luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def contrast(a: QColor, b: QColor) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def indicator_contrast(button: QAbstractButton) -> float:
    """The strongest contrast between a pixel of the indicator and the window colour."""
    option = QStyleOptionButton()
    option.initFrom(button)
    element = (
        QStyle.SubElement.SE_RadioButtonIndicator
        if isinstance(button, QRadioButton)
        else QStyle.SubElement.SE_CheckBoxIndicator
    )
    rect = button.style().subElementRect(element, option, button)
    window = button.window()
    image = window.grab(QRect(button.mapTo(window, rect.topLeft()), rect.size())).toImage()
    background = QColor(colors().window)
    return max(
        contrast(image.pixelColor(x, y), background)
        for x in range(image.width())
        for y in range(image.height())
    )


@pytest.mark.parametrize("kind", [QCheckBox, QRadioButton])
def test_an_unticked_box_stands_out_from_the_window(qtbot: Any, theme: str, kind: type) -> None:
    holder = QWidget()
    qtbot.addWidget(holder)
    holder.setAutoFillBackground(True)  # the window colour, from the theme's palette
    button = kind("Announcements only", holder)
    holder.resize(240, 40)
    holder.show()
    qtbot.waitExposed(holder)
    assert not button.isChecked()
    assert indicator_contrast(button) >= 3.0


def left_edge_contrast(widget: QWidget) -> float:
    """The strongest contrast with the window along the widget's left edge (its frame,
    away from the text inside)."""
    window = widget.window()
    top_left = widget.mapTo(window, widget.rect().topLeft())
    strip = QRect(top_left.x(), top_left.y() + widget.height() // 4, 3, widget.height() // 2)
    image = window.grab(strip).toImage()
    background = QColor(colors().window)
    return max(
        contrast(image.pixelColor(x, y), background)
        for x in range(image.width())
        for y in range(image.height())
    )


@pytest.mark.parametrize("kind", [QSpinBox, QDateTimeEdit, QComboBox])
def test_the_frame_of_a_number_date_or_list_box_shows_on_the_dark_theme(
    qtbot: Any, kind: type
) -> None:
    """Their frames are drawn from the same outline; on the dark theme they were as faint
    as the check boxes (the invite's "Uses", a ballot's closing date, "Role")."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, "dark")
    try:
        holder = QWidget()
        qtbot.addWidget(holder)
        holder.setAutoFillBackground(True)
        field = kind(holder)
        field.setGeometry(20, 10, 200, 30)
        holder.resize(240, 50)
        holder.show()
        qtbot.waitExposed(holder)
        assert left_edge_contrast(field) >= 3.0
    finally:
        apply_theme(app, "light")


def test_a_disabled_main_button_looks_disabled(qtbot: Any, theme: str) -> None:
    """ "Done" before the recovery key is confirmed, "Create" while working: a disabled
    main button kept the enabled one's bold white text, which on the dark theme's grey
    read as a button to press."""
    holder = QWidget()
    qtbot.addWidget(holder)
    holder.setAutoFillBackground(True)
    button = primary_button("Done", holder)
    button.setGeometry(10, 10, 120, 34)
    holder.resize(140, 54)
    holder.show()
    qtbot.waitExposed(holder)

    def white_pixels() -> int:
        image = button.grab().toImage()
        count = 0
        for x in range(image.width()):
            for y in range(image.height()):
                colour = image.pixelColor(x, y)
                count += min(colour.red(), colour.green(), colour.blue()) >= 250
        return count

    assert white_pixels() > 20  # enabled: white text on the accent colour
    button.setEnabled(False)
    qtbot.waitUntil(lambda: white_pixels() == 0)
