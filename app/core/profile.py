"""A profile directory: creating it, unlocking it, changing its passphrase.

Layout: ``profile.db`` (SQLCipher, keyed with Argon2id of the passphrase) and
``key-params.json`` (salt and Argon2id costs; not secret). Nothing else is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from app.core.database import Database
from app.core.errors import AlreadyExists, ClientError, ProfileMissing
from app.core.passphrase import KdfParams, derive_key, load_params, save_params
from crypto.identity import Identity

__all__ = [
    "DB_NAME",
    "PARAMS_NAME",
    "change_passphrase",
    "create_profile",
    "create_profile_with_key",
    "open_with_key",
    "profile_exists",
    "unlock",
    "unlock_with_key",
    "validate_group_name",
    "validate_name",
]

DB_NAME = "profile.db"
PARAMS_NAME = "key-params.json"
_PENDING_PARAMS = "key-params.json.new"
MAX_NAME_BYTES = 64
MAX_GROUP_NAME_BYTES = 128


def profile_exists(home: Path) -> bool:
    return (home / DB_NAME).exists()


def _validate(name: str, limit: int, what: str) -> str:
    name = name.strip()
    encoded = name.encode("utf-8")
    if not encoded or len(encoded) > limit or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ClientError(f"{what} must be 1 to {limit} bytes of text without control characters")
    return name


def validate_name(name: str) -> str:
    """A member's display name, as the group log accepts it."""
    return _validate(name, MAX_NAME_BYTES, "a name")


def validate_group_name(name: str) -> str:
    return _validate(name, MAX_GROUP_NAME_BYTES, "a group name")


def create_profile(
    home: Path,
    *,
    name: str,
    relay_url: str,
    passphrase: str,
    rng: Callable[[int], bytes],
    now: int,
    cost: str = "moderate",
) -> Database:
    """Create a new profile; refuses to touch an existing one."""
    return create_profile_with_key(
        home, name=name, relay_url=relay_url, passphrase=passphrase, rng=rng, now=now, cost=cost
    )[0]


def create_profile_with_key(
    home: Path,
    *,
    name: str,
    relay_url: str,
    passphrase: str,
    rng: Callable[[int], bytes],
    now: int,
    cost: str = "moderate",
) -> tuple[Database, bytes]:
    """``create_profile`` that also returns the raw database key, so the desktop app can
    open its reader connection without running Argon2id a second time."""
    name = validate_name(name)
    if not passphrase:
        raise ClientError("the passphrase must not be empty")
    if profile_exists(home):
        raise AlreadyExists(f"a profile already exists in {home}")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    params = KdfParams.new(rng, cost)
    save_params(home / PARAMS_NAME, params)
    key = derive_key(passphrase, params)
    db = Database.open(home / DB_NAME, key, create=True)
    identity = Identity.generate(rng, now)
    seed, delivery, cert = identity.secret_bytes()
    with db.transaction():
        db.execute(
            "INSERT INTO profile (id, name, relay_url, signing_seed, delivery_secret,"
            " delivery_cert, created_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (name, relay_url.rstrip("/"), seed, delivery, cert, now),
        )
    return db, key


def unlock(home: Path, passphrase: str) -> Database:
    """Open the profile database; ``WrongPassphrase`` if the passphrase is wrong."""
    return unlock_with_key(home, passphrase)[0]


def unlock_with_key(home: Path, passphrase: str) -> tuple[Database, bytes]:
    """Open the database and also return its raw key, so a second connection (the
    desktop app's reader) or the OS keyring can use it without another Argon2id run."""
    if not profile_exists(home):
        raise ProfileMissing(f"no profile in {home}; create one with 'caucus init'")
    pending = home / _PENDING_PARAMS
    if pending.exists():
        # A passphrase change was interrupted between re-keying and renaming the file:
        # whichever parameters open the database are the right ones.
        key = derive_key(passphrase, load_params(pending))
        try:
            db = Database.open(home / DB_NAME, key)
        except ClientError:
            pending.unlink()
        else:
            os.replace(pending, home / PARAMS_NAME)
            return db, key
    key = derive_key(passphrase, load_params(home / PARAMS_NAME))
    return Database.open(home / DB_NAME, key), key


def open_with_key(home: Path, key: bytes) -> Database:
    """Another connection to an unlocked profile (WAL lets readers run beside the writer)."""
    if not profile_exists(home):
        raise ProfileMissing(f"no profile in {home}")
    return Database.open(home / DB_NAME, key)


def change_passphrase(
    home: Path,
    db: Database,
    new_passphrase: str,
    rng: Callable[[int], bytes],
    cost: str = "moderate",
) -> None:
    """Re-encrypt the open database under a key from ``new_passphrase``."""
    if not new_passphrase:
        raise ClientError("the passphrase must not be empty")
    params = KdfParams.new(rng, cost)
    save_params(home / _PENDING_PARAMS, params)
    db.rekey(derive_key(new_passphrase, params))
    os.replace(home / _PENDING_PARAMS, home / PARAMS_NAME)
