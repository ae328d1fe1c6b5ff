"""Dialogs of the desktop app: each one job, shown non-modally-blocking with ``open()``."""
