"""Addresses in messages are links: drawn as such, and a click shows the whole address
with Open / Cancel before anything is opened."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtWidgets import QMessageBox

from app.qt.main_window import MainWindow
from app.qt.message_delegate import MessageDelegate
from app.qt.rich_text import SpanKind, find_links
from tests.qt.helpers import WAIT_MS, create_group, create_profile, send, shown_texts

TEXT = "Rota is at https://example.org/rota?week=12. Not javascript:alert(1) or file:///etc"


def test_only_plain_web_addresses_are_links() -> None:
    links = find_links(TEXT + " (see https://x.org/a_(b)) ftp://x.org http://")
    assert [s.target for s in links] == ["https://example.org/rota?week=12", "https://x.org/a_(b)"]
    assert all(s.kind is SpanKind.LINK for s in links)
    assert find_links("javascript:https") == () and find_links("xhttps://evil.org") == ()
    emoji = find_links("👍 https://a.org")[0]  # positions count UTF-16 units, as Qt does
    assert (emoji.start, emoji.end) == (3, 16)


def _link_point(window: MainWindow, url: str, *, beside: bool = False) -> QPoint:
    model = window.message_model
    row = next(r for r in range(model.rowCount()) if model.index(r).data() == TEXT)
    index = model.index(row)
    window.chat.scrollTo(index)
    delegate = window.chat.itemDelegate()
    assert isinstance(delegate, MessageDelegate)
    place = delegate.span_rect(index, url)
    assert not place.isEmpty()
    point = place.center() + window.chat.visualRect(index).topLeft()
    if beside:  # on "at ", just before the address
        point -= QPoint(place.width() // 2 + 8, 0)
    return point


def _click_link(qtbot, window: MainWindow, url: str, *, beside: bool = False) -> None:  # type: ignore[no-untyped-def]
    point = _link_point(window, url, beside=beside)
    qtbot.mouseClick(window.chat.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_a_link_opens_only_after_the_address_is_shown_and_confirmed(qtbot, relay, make_app) -> None:  # type: ignore[no-untyped-def]
    window = create_profile(qtbot, make_app("alice"), "Alice", relay.url)
    create_group(qtbot, window, "Couriers")
    window.resize(1000, 700)
    window.show()
    opened: list[QUrl] = []

    def opener(url: QUrl) -> bool:
        opened.append(url)
        return True

    window.chat.opener = opener
    send(qtbot, window, TEXT)
    qtbot.waitUntil(lambda: TEXT in shown_texts(window), timeout=WAIT_MS)
    url = "https://example.org/rota?week=12"

    # A pointing hand over the address, the ordinary arrow beside it.
    viewport = window.chat.viewport()
    qtbot.mouseMove(viewport, _link_point(window, url))
    qtbot.waitUntil(
        lambda: viewport.cursor().shape() == Qt.CursorShape.PointingHandCursor, timeout=WAIT_MS
    )
    qtbot.mouseMove(viewport, _link_point(window, url, beside=True))
    qtbot.waitUntil(
        lambda: viewport.cursor().shape() == Qt.CursorShape.ArrowCursor, timeout=WAIT_MS
    )

    # Text beside the link is not a link.
    _click_link(qtbot, window, url, beside=True)
    assert window.chat.link_dialog is None

    _click_link(qtbot, window, url)
    box = window.chat.link_dialog
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.text() == f"Open this address?\n\n{url}"
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert opened == []

    _click_link(qtbot, window, url)
    box = window.chat.link_dialog
    assert isinstance(box, QMessageBox)
    open_button = next(b for b in box.buttons() if b.text() == "Open")
    qtbot.mouseClick(open_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl(url)]
