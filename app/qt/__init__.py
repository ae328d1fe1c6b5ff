"""The PySide6 desktop app over the headless engine (app.core)."""

from app.qt.refcount_guard import protect

protect()
