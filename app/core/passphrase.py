"""Turning a passphrase into the profile database key with Argon2id.

The salt, the cost parameters and a short key check sit in a small plain file beside the
database (``key-params.json``); none of them is secret. The derived key is never written.
The file is parsed strictly and its costs must lie within ``OPSLIMIT_RANGE`` and
``MEMLIMIT_RANGE`` (docs/protocol.md section 7.1), so a damaged or hostile file is refused
at once instead of making Argon2id run for hours, and never lowers the cost below the floor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import nacl.pwhash

from app.core.errors import ClientError, CorruptProfile, InvalidKeyParams
from crypto.errors import UsageError

__all__ = [
    "COSTS",
    "MEMLIMIT_RANGE",
    "MIN_COST",
    "OPSLIMIT_RANGE",
    "KdfParams",
    "derive_key",
    "key_check",
    "load_params",
    "save_params",
]

_FILE_VERSION = 2  # version 1 had no "check"; it is still read and upgraded on unlock
_MAX_FILE_BYTES = 4096
_CHECK_BYTES = 16
_CHECK_PERSON = b"caucus-keycheck"
_CHECK_LABEL = b"caucus profile database key check v1"
FILE_MODE = 0o600

_argon = nacl.pwhash.argon2id
_MIB = 1024 * 1024
# Every key this version makes costs at least MIN_COST: 3 passes over 64 MiB, RFC 9106's
# second recommended Argon2id setting (one lane: libsodium's). CAUCUS_KDF_COST picks one
# of COSTS, each at or above it ("interactive", for tests and CI, is the minimum itself).
MIN_COST = (3, 64 * _MIB)
COSTS = {
    "moderate": (_argon.OPSLIMIT_MODERATE, _argon.MEMLIMIT_MODERATE),
    "interactive": MIN_COST,
}
# What a key-params.json may ask for when read: from libsodium's INTERACTIVE cost (2
# passes, 64 MiB, what "interactive" was before version 2; such a profile is re-keyed at
# MIN_COST when it is unlocked) to its SENSITIVE memory (1 GiB) with up to 8 passes: a
# few seconds on a laptop at worst.
OPSLIMIT_RANGE = (_argon.OPSLIMIT_INTERACTIVE, 8)
MEMLIMIT_RANGE = (_argon.MEMLIMIT_INTERACTIVE, _argon.MEMLIMIT_SENSITIVE)


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters and salt of one profile, and the check of the key they give."""

    salt: bytes
    opslimit: int
    memlimit: int
    check: bytes | None = None

    @classmethod
    def new(cls, rng: Callable[[int], bytes], cost: str = "moderate") -> KdfParams:
        """Fresh salt. ``cost`` is "moderate" (default, ~0.5-1 s) or "interactive" (the
        minimum, ``MIN_COST``); no cost goes below ``MIN_COST``."""
        if cost not in COSTS:
            raise ClientError(f"unknown key-derivation cost {cost!r} (moderate or interactive)")
        ops, mem = COSTS[cost]
        if ops < MIN_COST[0] or mem < MIN_COST[1]:
            raise UsageError(f"key-derivation cost {cost!r} is below the minimum")
        return cls(rng(_argon.SALTBYTES), ops, mem)

    @property
    def below_minimum(self) -> bool:
        """Made before version 2 with less than ``MIN_COST`` (re-keyed on unlock)."""
        return self.opslimit < MIN_COST[0] or self.memlimit < MIN_COST[1]

    def with_check(self, key: bytes) -> KdfParams:
        """These parameters carrying the check of ``key`` (the key they derive)."""
        return replace(self, check=key_check(key))

    def confirms(self, key: bytes) -> bool | None:
        """Whether ``key`` is the key these parameters were saved with (None: no check)."""
        if self.check is None:
            return None
        return hmac.compare_digest(self.check, key_check(key))


def key_check(key: bytes) -> bytes:
    """A 16-byte MAC of a fixed label under the database key.

    It tells a wrong passphrase from a damaged database. It lets a thief test a guess no
    faster than the database's own first-page HMAC does: Argon2id dominates both.
    """
    return hashlib.blake2b(
        _CHECK_LABEL, key=key, digest_size=_CHECK_BYTES, person=_CHECK_PERSON
    ).digest()


def derive_key(passphrase: str, params: KdfParams) -> bytes:
    """32-byte SQLCipher key from the passphrase."""
    _check_costs(params.opslimit, params.memlimit, "the key parameters")
    key: bytes = _argon.kdf(
        32,
        passphrase.encode("utf-8"),
        params.salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )
    return key


def save_params(path: Path, params: KdfParams) -> None:
    """Write the parameter file atomically (temp file, fsync, rename), mode 0600."""
    if params.check is None:
        raise ValueError("key parameters are saved with their key check")
    doc = {
        "version": _FILE_VERSION,
        "kdf": "argon2id13",
        "salt": params.salt.hex(),
        "opslimit": params.opslimit,
        "memlimit": params.memlimit,
        "check": params.check.hex(),
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    with open(fd, "w", encoding="utf-8") as handle:
        os.fchmod(fd, FILE_MODE)
        json.dump(doc, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def load_params(path: Path) -> KdfParams:
    """Parse ``key-params.json`` strictly; ``InvalidKeyParams`` says what is wrong."""
    name = path.name
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CorruptProfile(f"cannot read {name}: {exc.strerror}") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise InvalidKeyParams(f"{name} is larger than {_MAX_FILE_BYTES} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidKeyParams(f"{name} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidKeyParams(f"{name} is not a JSON object")
    version = doc.get("version")
    fields = {"version", "kdf", "salt", "opslimit", "memlimit"}
    if version == _FILE_VERSION:
        fields.add("check")
    elif version != 1:
        raise InvalidKeyParams(f"{name} has an unknown version {version!r}")
    if set(doc) != fields:
        raise InvalidKeyParams(f"{name} must have exactly the fields {', '.join(sorted(fields))}")
    if doc["kdf"] != "argon2id13":
        raise InvalidKeyParams(f"{name} names an unknown key derivation")
    salt = _hex(doc["salt"], _argon.SALTBYTES, name, "salt")
    check = _hex(doc["check"], _CHECK_BYTES, name, "check") if "check" in doc else None
    ops, mem = doc["opslimit"], doc["memlimit"]
    if not _is_int(ops) or not _is_int(mem):
        raise InvalidKeyParams(f"{name}: opslimit and memlimit must be integers")
    _check_costs(ops, mem, name)
    return KdfParams(salt, ops, mem, check)


def _check_costs(ops: int, mem: int, where: str) -> None:
    if not OPSLIMIT_RANGE[0] <= ops <= OPSLIMIT_RANGE[1]:
        raise InvalidKeyParams(
            f"{where}: opslimit {ops} is outside {OPSLIMIT_RANGE[0]}..{OPSLIMIT_RANGE[1]}"
        )
    if not MEMLIMIT_RANGE[0] <= mem <= MEMLIMIT_RANGE[1]:
        raise InvalidKeyParams(
            f"{where}: memlimit {mem} is outside {MEMLIMIT_RANGE[0]}..{MEMLIMIT_RANGE[1]} bytes"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hex(value: object, size: int, name: str, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size:
        raise InvalidKeyParams(f"{name}: {what} must be {size} bytes of hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidKeyParams(f"{name}: {what} must be {size} bytes of hex") from None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
