"""Opening a profile for the desktop app: the blocking steps a background job runs.

Each function does the slow parts (Argon2id, opening SQLCipher, starting the embedded
relay) and returns an ``OpenedProfile``: the GUI's read-only connection, the raw key
for the engine's own connection, and the embedded relay if one runs for this profile.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.core.api import (
    ClientError,
    Database,
    Queries,
    create_profile_with_key,
    link_new_profile,
    open_with_key,
    unlock_with_key,
)
from app.qt.relay_reach import RelayReach, lan_address, reach_of

__all__ = [
    "EMBEDDED_RELAY_DB",
    "OpenedProfile",
    "create_new_profile",
    "embedded_relay_bind",
    "embedded_relay_port",
    "kdf_cost",
    "link_new_device",
    "open_with_stored_key",
    "unlock_profile",
]

EMBEDDED_RELAY_DB = "relay.db"
LOOPBACK_HOST = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - only when the person opts in to the LAN


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
    """The port to restart our embedded relay on, if this profile uses one."""
    bind = embedded_relay_bind(home, relay_url)
    return None if bind is None else bind[1]


def embedded_relay_bind(home: Path, relay_url: str) -> tuple[str, int] | None:
    """Where to restart our embedded relay, if this profile uses one: (host, port).

    That is: the relay URL is plain HTTP with a port, and the relay database lives in the
    profile directory. A loopback URL listens on 127.0.0.1; a local-network URL (the
    person opted in to sharing the relay on the LAN) listens on every interface.
    """
    if not (home / EMBEDDED_RELAY_DB).exists():
        return None
    parts = urlsplit(relay_url)
    if parts.scheme != "http" or parts.port is None or parts.hostname is None:
        return None
    reach = reach_of(relay_url)
    if reach is RelayReach.LOOPBACK:
        return LOOPBACK_HOST, parts.port
    if reach is RelayReach.PRIVATE:
        return ALL_INTERFACES, parts.port
    return None


def _start_embedded(home: Path, port: int, host: str = LOOPBACK_HOST) -> Any:
    try:
        from relay.embedded import EmbeddedRelay
    except ImportError:
        raise ClientError("the built-in server is not part of this installation") from None
    relay = EmbeddedRelay(home / EMBEDDED_RELAY_DB, host=host, port=port)
    try:
        relay.start()
    except (OSError, RuntimeError) as exc:
        cause = exc if isinstance(exc, OSError) else exc.__cause__
        known = isinstance(cause, OSError) and cause.strerror
        detail = cause.strerror if isinstance(cause, OSError) and known else "not available"
        message = f"the built-in server could not start on port {port} ({detail})"
        raise ClientError(message) from None
    return relay


def _finish(home: Path, db: Database, key: bytes, *, start_relay: bool) -> OpenedProfile:
    try:
        reader = Queries.reader(db)
        profile = reader.profile()
        name, relay_url = profile.name, profile.relay_url
        relay = None
        bind = embedded_relay_bind(home, relay_url) if start_relay else None
        if bind is not None:
            relay = _start_embedded(home, bind[1], bind[0])
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
    embedded_on_lan: bool = False,
) -> OpenedProfile:
    """Create the profile (and first start the embedded relay, whose URL it records).

    With ``embedded_on_lan`` the relay listens on every interface and the recorded URL
    is this computer's local-network address, so people on the same network can join.
    """
    relay = None
    if embedded_relay:
        lan = lan_address() if embedded_on_lan else None
        if embedded_on_lan and lan is None:
            raise ClientError("this computer has no local network address to share")
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        relay = _start_embedded(home, 0, ALL_INTERFACES if lan else LOOPBACK_HOST)
        port = urlsplit(str(relay.url)).port
        relay_url = f"http://{lan}:{port}" if lan else str(relay.url)
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


def link_new_device(
    home: Path,
    *,
    code: str,
    device_name: str,
    passphrase: str,
    cancel: threading.Event,
    on_waiting: Callable[[], None],
    engine_options: dict[str, Any] | None = None,
) -> OpenedProfile:
    """Create a profile, link it as a device of the member who showed ``code`` and wait
    for the bundle (docs/protocol.md 8.4); the profile is opened only after, so the
    reader and the engine the window gets act as the member. On failure no profile is
    left behind."""
    db, key = link_new_profile(
        home,
        code=code,
        device_name=device_name,
        passphrase=passphrase,
        cancel=cancel,
        on_waiting=on_waiting,
        cost=kdf_cost(),
        **(engine_options or {}),
    )
    return _finish(home, db, key, start_relay=False)
