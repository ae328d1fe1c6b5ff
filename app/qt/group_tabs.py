"""Chat, Documents, Ballots and Cases of the open group as tabs above the conversation area.

The main window hands over its chat view and composer and calls ``set_group``; the two
panels follow the engine's events on their own, so hooking them in costs the window a
few lines.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from app.core.api import GroupView, Queries
from app.qt.ballots_panel import BallotsPanel
from app.qt.cases_panel import CaseHeader, CasesPanel
from app.qt.documents_panel import DocumentsPanel
from app.qt.engine_bridge import EngineBridge
from app.qt.rates_panel import RatesPanel

__all__ = ["GroupTabs"]


class GroupTabs(QTabWidget):
    """``chat`` and ``composer`` form the first tab; documents, ballots and cases follow.
    ``open_group`` asks the window to show another group (a case's own chat)."""

    open_group = Signal(bytes)

    def __init__(
        self,
        reader: Queries,
        bridge: EngineBridge,
        chat: QWidget,
        composer: QWidget,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("groupTabs")
        self.setAccessibleName("Group sections")
        self.setDocumentMode(True)
        self.tabBar().setDrawBase(False)  # the pane's top border is the only line
        # Flat tabs underlined in the accent colour: styled by the theme's QSS
        # (#groupTabs), so switching themes restyles them at once.
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        self.case_header = CaseHeader(bridge)  # shown only while the chat is a case's
        box.addWidget(self.case_header)
        box.addWidget(chat, 1)
        box.addWidget(composer)
        self.chat_page = page
        self.documents = DocumentsPanel(bridge)
        self.ballots = BallotsPanel(reader, bridge)
        self.addTab(page, "Chat")
        self.addTab(self.documents, "Documents")
        self.addTab(self.ballots, "Ballots")
        self.cases = CasesPanel(bridge)
        self.cases.open_case.connect(self.open_group)
        self.cases.open_case.connect(lambda _case_id: self.show_chat())
        self.addTab(self.cases, "Cases")
        for index, tip in enumerate(
            (
                "The conversation in the chosen channel",
                "Signed documents: minutes, agreements, leaflets",
                "Anonymous ballots and surveys",
                "Dispute cases: private with the organizers",
            )
        ):
            self.setTabToolTip(index, f"{tip} (Ctrl+{index + 1})")
            shortcut = QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda i=index: self.setCurrentIndex(i))
        self.rates = RatesPanel.add_to(self, bridge)  # union tools (docs/union-tools.md)

    def show_chat(self) -> None:
        """Back to the conversation (a channel was chosen, or a search result opened)."""
        self.setCurrentWidget(self.chat_page)

    def set_group(self, group: GroupView | None) -> None:
        """Show ``group`` in both panels (also after its roster or our role changed)."""
        self.documents.set_group(group)
        self.ballots.set_group(group)
        self.rates.set_group(group)
        self.cases.set_group(group)
        self.case_header.set_group(group)
