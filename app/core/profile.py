"""A profile directory: creating it, unlocking it, changing its passphrase.

Layout: ``profile.db`` (SQLCipher, keyed with Argon2id of the passphrase, with its
``-wal`` and ``-shm``), ``key-params.json`` (salt, Argon2id costs and key check; not
secret) and ``lock`` (one process at a time, see ``profile_lock``). Files are 0600, the
folder 0700.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from app.core import profile_lock
from app.core.database import FILE_MODE, Database, check_shape
from app.core.errors import (
    AlreadyExists,
    ClientError,
    CorruptProfile,
    ProfileMissing,
    ReadOnlyProfile,
    WrongPassphrase,
)
from app.core.passphrase import COSTS, KdfParams, derive_key, load_params, save_params
from app.core.passphrase_policy import check_new_passphrase
from app.core.store import profile as profile_store
from crypto.identity import Identity

__all__ = [
    "DB_NAME",
    "PARAMS_NAME",
    "change_passphrase",
    "create_profile",
    "create_profile_with_key",
    "delete_new_profile",
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
DIR_MODE = 0o700
_FILES = (
    DB_NAME,
    DB_NAME + "-wal",
    DB_NAME + "-shm",
    PARAMS_NAME,
    _PENDING_PARAMS,
    profile_lock.LOCK_NAME,
)
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
    allow_weak: bool | None = None,
) -> Database:
    """Create a new profile; refuses to touch an existing one, and a passphrase below the
    strength floor unless ``allow_weak`` (None: ``CAUCUS_ALLOW_WEAK_PASSPHRASE`` decides)."""
    return create_profile_with_key(
        home,
        name=name,
        relay_url=relay_url,
        passphrase=passphrase,
        rng=rng,
        now=now,
        cost=cost,
        allow_weak=allow_weak,
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
    allow_weak: bool | None = None,
) -> tuple[Database, bytes]:
    """``create_profile`` that also returns the raw database key, so the desktop app can
    open its reader connection without running Argon2id a second time."""
    name = validate_name(name)
    check_new_passphrase(passphrase, (name,), allow_weak=allow_weak)
    if profile_exists(home):
        raise AlreadyExists(f"a profile already exists in {home}")
    params = KdfParams.new(rng, cost)
    home.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(home, DIR_MODE)
    lock = profile_lock.acquire(home)
    try:
        if profile_exists(home):  # created by another process since the check above
            raise AlreadyExists(f"a profile already exists in {home}")
        key = derive_key(passphrase, params)
        save_params(home / PARAMS_NAME, params.with_check(key))
        db = Database.open(home / DB_NAME, key, create=True, lock=lock)
    except BaseException:
        lock.release()
        raise
    identity = Identity.generate(rng, now)
    seed, delivery, cert = identity.secret_bytes()
    with db.transaction():
        profile_store.insert_profile(db, name, relay_url.rstrip("/"), seed, delivery, cert, now)
    return db, key


def unlock(home: Path, passphrase: str) -> Database:
    """Open the profile database; ``WrongPassphrase`` if the passphrase is wrong."""
    return unlock_with_key(home, passphrase)[0]


def unlock_with_key(home: Path, passphrase: str) -> tuple[Database, bytes]:
    """Open the database and also return its raw key, so a second connection (the
    desktop app's reader) or the OS keyring can use it without another Argon2id run.

    Errors, each one line: ``ProfileMissing``, ``ProfileInUse`` (another process),
    ``ReadOnlyProfile``, ``InvalidKeyParams``, ``WrongPassphrase``, ``CorruptProfile``.
    """
    lock = _lock(home)
    try:
        db, key = _unlock(home, passphrase, lock)
    except BaseException:
        lock.release()
        raise
    return db, key


def open_with_key(home: Path, key: bytes) -> Database:
    """Another connection to an unlocked profile (WAL lets readers run beside the writer).

    It shares this process's lock on the profile; another process is refused."""
    lock = _lock(home)
    try:
        return Database.open(home / DB_NAME, key, lock=lock)
    except BaseException:
        lock.release()
        raise


def _lock(home: Path) -> profile_lock.ProfileLock:
    if not profile_exists(home):
        raise ProfileMissing(f"no profile in {home}; create one with 'caucus init'")
    lock = profile_lock.acquire(home)
    try:
        _check_writable(home)
        _tighten_modes(home)
    except BaseException:
        lock.release()
        raise
    return lock


def _unlock(home: Path, passphrase: str, lock: profile_lock.ProfileLock) -> tuple[Database, bytes]:
    """Try the parameters of an interrupted passphrase change first, then the current
    ones. A file is only ever removed or replaced after the database opened with the
    parameters that are kept, so no typing mistake can orphan the database."""
    pending_path, params_path = home / _PENDING_PARAMS, home / PARAMS_NAME
    check_shape(home / DB_NAME)  # damage visible without a key: no Argon2id run
    params = load_params(params_path)
    pending_confirmed: bool | None = None
    if pending_path.exists():
        pending = load_params(pending_path)
        key = derive_key(passphrase, pending)
        pending_confirmed = pending.confirms(key)
        if pending_confirmed is not False:
            try:
                db = Database.open(
                    home / DB_NAME, key, lock=lock, key_confirmed=bool(pending_confirmed)
                )
            except (WrongPassphrase, CorruptProfile):
                pass  # the re-key never happened: the current parameters still hold
            else:
                os.replace(pending_path, params_path)
                return db, key
    key = derive_key(passphrase, params)
    confirmed = params.confirms(key)
    if confirmed is False:
        if pending_confirmed:
            raise WrongPassphrase(
                "the new passphrase does not open the profile yet: a passphrase change"
                " was interrupted before it took effect, use the old one"
            )
        raise WrongPassphrase("wrong passphrase")
    try:
        db = Database.open(home / DB_NAME, key, lock=lock, key_confirmed=bool(confirmed))
    except CorruptProfile:
        if confirmed and pending_path.exists():
            raise WrongPassphrase(
                "wrong passphrase: a passphrase change was interrupted, use the new one"
            ) from None
        raise
    if pending_path.exists():
        pending_path.unlink()  # the database opened with the current parameters
    if params.below_minimum:
        # A key made with less than the documented minimum cost (version 1's
        # "interactive"): re-key now, with the same passphrase, at the minimum or more.
        try:
            key = _rekey(home, db, passphrase, os.urandom, _upgrade_cost(params))
        except BaseException:
            db.close()
            raise
    elif confirmed is None:
        save_params(params_path, params.with_check(key))  # upgrade a version 1 file
    return db, key


def delete_new_profile(home: Path) -> None:
    """Remove the files of a profile this process has just created and closed again,
    because what it was created for failed (linking it as a device, 8.4): a half-made
    profile would otherwise stand in the way of the next try. The folder stays."""
    for name in _FILES:
        (home / name).unlink(missing_ok=True)


def _upgrade_cost(params: KdfParams) -> str:
    """The cost a below-minimum key is re-made at: the minimum, unless it used more memory."""
    return "moderate" if params.memlimit >= COSTS["moderate"][1] else "interactive"


def _check_writable(home: Path) -> None:
    """A read-only folder or file would fail later in SQLite with a confusing error."""
    paths = [home, *(home / n for n in _FILES if (home / n).exists())]
    for path in paths:
        if not os.access(path, os.W_OK):
            raise ReadOnlyProfile(
                f"the profile in {home} is read-only: Caucus needs to write to {path}"
            )


def _tighten_modes(home: Path) -> None:
    """Profiles made before files were created private: make them 0600 / 0700 now."""
    for path in [home, *(home / n for n in _FILES)]:
        try:
            mode = path.stat().st_mode & 0o777
            wanted = DIR_MODE if path == home else FILE_MODE
            if mode & ~wanted:
                os.chmod(path, wanted)
        except (FileNotFoundError, PermissionError):
            continue  # best effort: not ours to change


def change_passphrase(
    home: Path,
    db: Database,
    new_passphrase: str,
    rng: Callable[[int], bytes],
    cost: str = "moderate",
    *,
    allow_weak: bool | None = None,
) -> None:
    """Re-encrypt the open database under a key from ``new_passphrase`` (which must pass
    the strength floor, ``passphrase_policy``)."""
    check_new_passphrase(new_passphrase, allow_weak=allow_weak)
    _rekey(home, db, new_passphrase, rng, cost)


def _rekey(
    home: Path, db: Database, passphrase: str, rng: Callable[[int], bytes], cost: str
) -> bytes:
    """Re-encrypt under a fresh key from ``passphrase`` at ``cost``; returns the key. The
    new parameters are saved as pending first, so a crash leaves one that opens it."""
    params = KdfParams.new(rng, cost)
    key = derive_key(passphrase, params)
    save_params(home / _PENDING_PARAMS, params.with_check(key))
    db.rekey(key)
    os.replace(home / _PENDING_PARAMS, home / PARAMS_NAME)
    return key
