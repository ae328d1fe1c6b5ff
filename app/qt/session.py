"""Opening a profile for the desktop app: the blocking steps a background job runs.

Each function does the slow parts (Argon2id, opening SQLCipher, starting the embedded
relay) and returns an ``OpenedProfile``: the GUI's read-only connection, the raw key
for the engine's own connection, and the embedded relay if one runs for this profile.
"""

from __future__ import annotations

import ipaddress
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.core.api import ClientError
from app.core.database import Database
from app.core.profile import create_profile_with_key, open_with_key, unlock_with_key
from app.core.queries import Queries

__all__ = [
    "EMBEDDED_RELAY_DB",
    "OpenedProfile",
    "create_new_profile",
    "embedded_relay_port",
    "kdf_cost",
    "open_with_stored_key",
    "unlock_profile",
]

EMBEDDED_RELAY_DB = "relay.db"


@dataclass
class OpenedProfile:
    """An unlocked profile, ready for a ``MainWindow`` and an ``EngineBridge``."""

    home: Path
    key: bytes
    reader: Queries
    name: str
    relay_url: str
    relay: Any | None = None  # relay.embedded.EmbeddedRelay when we started one

    def close(self) -> None:
        """Close the GUI's connection (the engine closes its own)."""
        self.reader.db.close()


def kdf_cost() -> str:
    """Argon2id cost for new keys: "moderate" for people, "interactive" for tests."""
    return os.environ.get("CAUCUS_KDF_COST", "moderate")


def embedded_relay_port(home: Path, relay_url: str) -> int | None:
    """The port to restart our embedded relay on, if this profile uses one.

    That is: the relay URL is plain HTTP on a loopback address with a port, and the
    relay database lives in the profile directory.
    """
    if not (home / EMBEDDED_RELAY_DB).exists():
        return None
    parts = urlsplit(relay_url)
    if parts.scheme != "http" or parts.port is None or parts.hostname is None:
        return None
    host = parts.hostname
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                return None
        except ValueError:
            return None
    return parts.port


def _start_embedded(home: Path, port: int) -> Any:
    try:
        from relay.embedded import EmbeddedRelay
    except ImportError:
        raise ClientError("the embedded relay is not part of this installation") from None
    relay = EmbeddedRelay(home / EMBEDDED_RELAY_DB, host="127.0.0.1", port=port)
    try:
        relay.start()
    except (OSError, RuntimeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not available"
        raise ClientError(f"the local relay could not start on port {port} ({detail})") from None
    return relay


def _finish(home: Path, db: Database, key: bytes, *, start_relay: bool) -> OpenedProfile:
    try:
        reader = Queries.reader(db)
        profile = reader.profile()
        name, relay_url = profile.name, profile.relay_url
        relay = None
        port = embedded_relay_port(home, relay_url) if start_relay else None
        if port is not None:
            relay = _start_embedded(home, port)
    except BaseException:
        db.close()
        raise
    return OpenedProfile(home, key, reader, name, relay_url, relay)


def unlock_profile(home: Path, passphrase: str, *, start_relay: bool = True) -> OpenedProfile:
    """Argon2id + open; ``WrongPassphrase`` when the passphrase does not fit."""
    db, key = unlock_with_key(home, passphrase)
    return _finish(home, db, key, start_relay=start_relay)


def open_with_stored_key(home: Path, key: bytes, *, start_relay: bool = True) -> OpenedProfile:
    """Open with a key from the OS keyring (no Argon2id)."""
    return _finish(home, open_with_key(home, key), key, start_relay=start_relay)


def create_new_profile(
    home: Path,
    *,
    name: str,
    passphrase: str,
    relay_url: str,
    embedded_relay: bool,
) -> OpenedProfile:
    """Create the profile (and first start the embedded relay, whose URL it records)."""
    relay = None
    if embedded_relay:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        relay = _start_embedded(home, 0)
        relay_url = str(relay.url)
    try:
        db, key = create_profile_with_key(
            home,
            name=name,
            relay_url=relay_url,
            passphrase=passphrase,
            rng=os.urandom,
            now=int(time.time() * 1000),
            cost=kdf_cost(),
        )
        opened = _finish(home, db, key, start_relay=False)
    except BaseException:
        if relay is not None:
            relay.stop()
        raise
    opened.relay = relay
    return opened
