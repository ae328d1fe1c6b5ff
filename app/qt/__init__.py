"""The PySide6 desktop app over the headless engine (app.core)."""
