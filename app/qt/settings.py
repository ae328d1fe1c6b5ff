"""Desktop preferences that are not secret (theme, idle-lock delay, whether notifications
show message text), kept in QSettings.

Nothing about groups, members or keys goes here: those live in the encrypted profile.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

__all__ = ["DEFAULT_IDLE_MINUTES", "DesktopSettings"]

DEFAULT_IDLE_MINUTES = 10


class DesktopSettings:
    """Read once at start, written when the person changes them."""

    def __init__(self, store: QSettings | None = None) -> None:
        self._store = store or QSettings("Caucus", "Caucus")
        self.theme = str(self._store.value("ui/theme", "system"))
        try:
            minutes = int(self._store.value("security/idle_lock_minutes", DEFAULT_IDLE_MINUTES))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            minutes = DEFAULT_IDLE_MINUTES
        self.idle_lock_minutes = max(0, minutes)
        # Off by default: notifications show on lock screens and in screenshots.
        self.show_message_text = (
            str(self._store.value("notifications/show_text", "false")) == "true"
        )

    def save(self) -> None:
        self._store.setValue("ui/theme", self.theme)
        self._store.setValue("security/idle_lock_minutes", self.idle_lock_minutes)
        self._store.setValue(
            "notifications/show_text", "true" if self.show_message_text else "false"
        )
        self._store.sync()
