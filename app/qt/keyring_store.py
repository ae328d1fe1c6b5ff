"""Optionally remembering the database key in the operating system's keyring.

Only with the ``keyring`` package importable *and* a real backend behind it (Secret
Service, macOS Keychain, Windows Credential Locker); its "fail" and "null" backends
and plain-file backends do not count. The key is never written to a file of our own.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from pathlib import Path
from types import ModuleType

__all__ = ["TURNED_OFF", "KeyringStore"]

log = logging.getLogger("caucus.qt")

_SERVICE = "Caucus profile key"
_NOT_REAL = ("fail", "null", "plaintext", "file", "chainer")
TURNED_OFF = "The system keyring is turned off (--no-keyring)."


class KeyringStore:
    """Store, fetch and forget the raw database key of one profile directory."""

    def __init__(self, home: Path, *, enabled: bool = True) -> None:
        """``enabled=False`` (``--no-keyring``): never import or touch the keyring."""
        self._account = str(home.resolve())
        if enabled:
            self._module, self.reason = self._probe()
        else:
            self._module, self.reason = None, TURNED_OFF

    @staticmethod
    def _probe() -> tuple[ModuleType | None, str]:
        try:
            module = importlib.import_module("keyring")
        except ImportError:
            return None, "Needs the 'keyring' package, which is not installed."
        try:
            backend = module.get_keyring()
            priority = float(getattr(backend, "priority", 0))
        except Exception as exc:
            return None, f"The system keyring does not work here ({type(exc).__name__})."
        kind = type(backend).__module__.lower() + "." + type(backend).__name__.lower()
        if priority <= 0 or any(word in kind for word in _NOT_REAL):
            return None, "No system keyring (such as Secret Service or Keychain) is available."
        return module, ""

    @property
    def available(self) -> bool:
        return self._module is not None

    def load(self) -> bytes | None:
        if self._module is None:
            return None
        try:
            value = self._module.get_password(_SERVICE, self._account)
        except Exception as exc:
            log.warning("keyring read failed: %s", type(exc).__name__)
            return None
        if not value:
            return None
        try:
            key = bytes.fromhex(value)
        except ValueError:
            return None
        return key if len(key) == 32 else None

    def save(self, key: bytes) -> bool:
        if self._module is None:
            return False
        try:
            self._module.set_password(_SERVICE, self._account, key.hex())
        except Exception as exc:
            log.warning("keyring write failed: %s", type(exc).__name__)
            return False
        return True

    def forget(self) -> None:
        if self._module is None:
            return
        # Nothing stored (or nothing deletable) is the wanted outcome either way.
        with contextlib.suppress(Exception):
            self._module.delete_password(_SERVICE, self._account)
