"""Check boxes and radio buttons can be seen in both themes.

Fusion draws their outline in the window colour made darker: on the dark theme that was
nearly black on nearly black, so an unticked "Announcements only" box or the unchosen
"Open a case" options were invisible (seen in the dark screenshots). The bar is WCAG's
for the parts of a control (1.4.11): 3:1 against what is around it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QWidget,
)

from app.qt.theme import apply_theme, colors


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest) -> Iterator[str]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, request.param)
    try:
        yield request.param
    finally:
        apply_theme(app, "light")


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
