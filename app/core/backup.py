"""Encrypted backups of a whole profile, and restoring one into a new folder
(docs/protocol.md section 9).

The payload inside a backup's stream (``app.core.backup_file``)::

    u8 payload_version=1 | u64 created_at_ms | bytes32 export_key | u32 file_count
    | file_count * (u16 name_length | name (UTF-8, relative, "/"-separated) | u64 size | bytes)

The first file is always ``profile.db``: an export of the profile database (SQLCipher's
``sqlcipher_export``) into a temporary SQLCipher file keyed with the random ``export_key``,
so nothing is ever written in plaintext, not even for a moment. The others are the
profile's document blobs (``documents/<id>``, already encrypted at rest).

A restore reads and checks the whole file into a staging folder beside the target before
anything else, re-keys the database under the new passphrase, marks every group restored
(``app.core.restored``: no sending before an epoch of its own), and only then moves the
folder into place; any failure removes the staging folder, so nothing is created or
changed. ``replace=True`` (a forgotten passphrase) moves an existing profile aside only
after the new one has opened.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.core import profile_lock
from app.core.backup_file import StreamReader, StreamWriter
from app.core.database import FILE_MODE, SCHEMA_VERSION, Database
from app.core.errors import AlreadyExists, ClientError, CorruptProfile
from app.core.passphrase import KdfParams, derive_key, save_params
from app.core.passphrase_policy import check_new_passphrase
from app.core.profile import DB_NAME, DIR_MODE, PARAMS_NAME, profile_exists
from app.core.store import backups as store
from app.core.store import device_channels as device_channel_store
from app.core.store import profile as profile_store
from crypto.backup import RecoveryKey
from crypto.errors import MalformedData, RemoteError, UnsupportedVersion

__all__ = [
    "BackupMade",
    "RestoreResult",
    "create_backup",
    "read_recovery_words",
    "restore_backup",
]

PAYLOAD_VERSION = 1
_PAYLOAD_HEAD = struct.Struct(">BQ32sI")
_NAME_LEN = struct.Struct(">H")
_SIZE = struct.Struct(">Q")
_MAX_FILES = 1_000_000
_MAX_NAME = 1024
_BLOB_FOLDERS = ("documents",)  # profile subfolders whose files a backup carries


@dataclass(frozen=True)
class BackupMade:
    """A backup written to ``path``; ``recovery_words`` only the first time (the key that
    opens this and every later backup, shown once and never stored)."""

    path: Path
    size: int
    recovery_words: str | None


@dataclass(frozen=True)
class RestoreResult:
    home: Path
    groups: int
    created_at: int
    replaced: Path | None  # where the old profile was moved (``replace=True``)


def create_backup(
    db: Database, home: Path, out: Path, *, rng: Callable[[int], bytes], now: int
) -> BackupMade:
    """Write an encrypted backup of the open profile to ``out`` (replaced atomically).

    The first backup makes the recovery key; its public half is stored only once the file
    is complete, so a failed first backup never leaves a key nobody was shown."""
    settings = store.load_settings(db)
    recovery: RecoveryKey | None = None
    if settings is None:
        recovery = RecoveryKey.generate(rng)
        public_key = recovery.public_key()
    else:
        public_key = settings.public_key
    out = out.expanduser()
    if out.is_dir():
        raise ClientError(f"{out} is a folder: name the backup file")
    # Never made here: a folder on a drive that is not plugged in would be made on this
    # computer's own disk instead, and the backup would not be where the person thinks.
    if not out.parent.is_dir():
        why = "is not a folder" if out.parent.exists() else "does not exist"
        raise ClientError(
            f"cannot write the backup {out}: {out.parent} {why} (is the drive it is on connected?)"
        )
    try:
        _write_backup(db, home, out, public_key, rng, now)
    except OSError as exc:
        raise ClientError(f"cannot write the backup {out}: {exc.strerror or exc}") from None
    with db.transaction():
        if recovery is not None:
            store.set_public_key(db, public_key)
        store.set_last_at(db, now)
    return BackupMade(out, out.stat().st_size, recovery.words() if recovery else None)


def _write_backup(
    db: Database,
    home: Path,
    out: Path,
    public_key: bytes,
    rng: Callable[[int], bytes],
    now: int,
) -> None:
    export_key = rng(32)
    with _private_temp(out.parent, ".caucus-backup-") as partial:
        with _exported(db, out.parent, export_key) as exported, open(partial, "wb") as handle:
            writer = StreamWriter(handle, public_key, rng)
            files = [(DB_NAME, exported), *_blob_files(home)]
            writer.write(_PAYLOAD_HEAD.pack(PAYLOAD_VERSION, now, export_key, len(files)))
            for name, path in files:
                _write_file(writer, name, path)
            writer.finish()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, out)


def check_restore_target(source: Path, home: Path, *, replace: bool) -> None:
    """What can be known before asking for the recovery key and a new passphrase: the
    backup file is there and readable, and ``home`` holds no profile (unless
    ``replace``). The restore checks again; this only spares a person typing 24 words
    for a restore that cannot start."""
    home = home.expanduser()
    if profile_exists(home) and not replace:
        raise AlreadyExists(
            f"a profile already exists in {home}; restore into an empty folder"
            " (or use --replace when its passphrase is forgotten)"
        )
    path = source.expanduser()
    if not path.is_file():
        raise ClientError(f"no backup file {source}")
    if not os.access(path, os.R_OK):
        raise ClientError(f"cannot read {source}: permission denied")


def restore_backup(
    source: Path,
    recovery: RecoveryKey,
    home: Path,
    passphrase: str,
    *,
    rng: Callable[[int], bytes],
    now: int,
    cost: str = "moderate",
    replace: bool = False,
    allow_weak: bool | None = None,
) -> RestoreResult:
    """Create the profile of backup ``source`` in ``home`` with a new passphrase.

    Refuses a ``home`` that holds a profile unless ``replace``; then the old profile is
    moved aside (``<home>.replaced-<time>``) only once the new one has opened."""
    home = home.expanduser()
    check_new_passphrase(passphrase, allow_weak=allow_weak)
    check_restore_target(source, home, replace=replace)
    try:
        handle = open(source.expanduser(), "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ClientError(f"cannot read {source}: {exc.strerror}") from None
    parent = home.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{home.name}.restoring-", dir=parent))
    except OSError as exc:
        handle.close()
        raise ClientError(f"cannot create a profile in {home}: {exc.strerror or exc}") from None
    try:
        with handle:
            created_at, export_key = _unpack(StreamReader(handle, recovery), staging)
        groups = _finish_profile(staging, export_key, passphrase, rng, cost, now)
        replaced = _move_into_place(staging, home, replace, now)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ClientError(f"the restore failed: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreResult(home, groups, created_at, replaced)


# -- writing -----------------------------------------------------------------------------


@contextmanager
def _private_temp(folder: Path, prefix: str) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix=prefix, dir=folder)
    os.close(fd)
    os.chmod(name, FILE_MODE)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(name + suffix).unlink(missing_ok=True)


@contextmanager
def _exported(db: Database, folder: Path, key: bytes) -> Iterator[Path]:
    """The whole database, exported into a temporary SQLCipher file under ``key``."""
    with _private_temp(folder, ".caucus-export-") as path:
        path.unlink()  # SQLCipher creates it (with the folder's umask: tightened below)
        db.execute("ATTACH DATABASE ? AS backup_export KEY ?", (str(path), _sql_key(key)))
        try:
            os.chmod(path, FILE_MODE)
            db.execute("SELECT sqlcipher_export('backup_export')").fetchall()
            version = db.one("PRAGMA user_version")[0]
            db.execute(f"PRAGMA backup_export.user_version = {int(version)}")
        finally:
            db.execute("DETACH DATABASE backup_export")
        yield path


def _sql_key(key: bytes) -> str:
    return f"x'{key.hex()}'"


def _blob_files(home: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for folder in _BLOB_FOLDERS:
        root = home / folder
        if not root.is_dir():
            continue
        for path in sorted(root.iterdir()):
            if path.is_file() and not path.name.endswith(".part"):
                found.append((f"{folder}/{path.name}", path))
    return found


def _write_file(writer: StreamWriter, name: str, path: Path) -> None:
    encoded = name.encode("utf-8")
    with open(path, "rb") as source:
        size = os.fstat(source.fileno()).st_size
        writer.write(_NAME_LEN.pack(len(encoded)) + encoded + _SIZE.pack(size))
        left = size
        while left:
            block = source.read(min(left, 1 << 20))
            if not block:
                raise ClientError(f"{path} changed while it was being backed up")
            writer.write(block)
            left -= len(block)


# -- restoring ---------------------------------------------------------------------------


def _unpack(reader: StreamReader, staging: Path) -> tuple[int, bytes]:
    """Every file of the payload into ``staging``; the stream checked to its end."""
    version, created_at, export_key, count = _PAYLOAD_HEAD.unpack(reader.read(_PAYLOAD_HEAD.size))
    if version != PAYLOAD_VERSION:
        raise UnsupportedVersion(f"a backup payload of version {version}; this Caucus reads 1")
    if not 1 <= count <= _MAX_FILES:
        raise MalformedData("the backup file is damaged: impossible file count")
    for index in range(count):
        (length,) = _NAME_LEN.unpack(reader.read(_NAME_LEN.size))
        name = _safe_name(reader.read(length), first=index == 0)
        (size,) = _SIZE.unpack(reader.read(_SIZE.size))
        target = staging / name
        target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        with open(fd, "wb") as out:
            left = size
            while left:
                block = reader.read(min(left, 1 << 20))
                out.write(block)
                left -= len(block)
    reader.finish()
    return created_at, export_key


def _safe_name(raw: bytes, *, first: bool) -> str:
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedData("the backup file is damaged: a file name is not text") from None
    if first:
        if name != DB_NAME:
            raise MalformedData("the backup file is damaged: it does not start with the database")
        return name
    parts = name.split("/")
    if (
        len(parts) != 2
        or parts[0] not in _BLOB_FOLDERS
        or not parts[1]
        or parts[1] in (".", "..")
        or len(raw) > _MAX_NAME
    ):
        raise MalformedData("the backup file is damaged: a file name is not allowed")
    return name


def _finish_profile(
    staging: Path,
    export_key: bytes,
    passphrase: str,
    rng: Callable[[int], bytes],
    cost: str,
    now: int,
) -> int:
    """Open the exported database, check it is a profile, mark its groups restored and
    re-key it under the new passphrase; returns how many groups wait for a new epoch."""
    os.chmod(staging, DIR_MODE)
    lock = profile_lock.acquire(staging)
    try:
        try:
            db = Database.open(staging / DB_NAME, export_key, lock=lock, key_confirmed=True)
        except CorruptProfile as exc:
            raise MalformedData(f"the backup's database does not open: {exc}") from None
    except BaseException:
        lock.release()
        raise
    try:
        version = db.one("PRAGMA user_version")[0]
        if version != SCHEMA_VERSION or profile_store.profile_secrets(db) is None:
            raise MalformedData("the backup holds no usable profile")
        with db.transaction():
            groups = store.mark_restored(db, now)
            device_channel_store.spend_spares_after_restore(db)  # protocol 8.4
        params = KdfParams.new(rng, cost)
        key = derive_key(passphrase, params)
        db.rekey(key)
        db.checkpoint()
        save_params(staging / PARAMS_NAME, params.with_check(key))
    finally:
        db.close()
    return groups


def _move_into_place(staging: Path, home: Path, replace: bool, now: int) -> Path | None:
    aside: Path | None = None
    if profile_exists(home):
        if not replace:
            raise AlreadyExists(f"a profile already exists in {home}")
        lock = profile_lock.acquire(home)  # refused while the old profile is open
        try:
            aside = home.with_name(f"{home.name}.replaced-{now}")
            os.replace(home, aside)
        finally:
            lock.release()
    elif home.exists():
        if any(home.iterdir()):
            raise AlreadyExists(f"{home} is not empty; restore into an empty folder")
        home.rmdir()
    os.replace(staging, home)
    return aside


def read_recovery_words(text: str) -> RecoveryKey:
    """``RecoveryKey.from_words`` with its error as a ``ClientError`` line."""
    try:
        return RecoveryKey.from_words(text)
    except RemoteError as exc:
        raise ClientError(str(exc)) from None
