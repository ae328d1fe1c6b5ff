"""Turning a passphrase into the profile database key with Argon2id.

The salt and cost parameters sit in a small plain file beside the database
(``key-params.json``); they are not secret. The derived key is never written anywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nacl.pwhash

from app.core.errors import CorruptProfile

__all__ = ["KdfParams", "derive_key", "load_params", "save_params"]

_FILE_VERSION = 1


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters and salt of one profile."""

    salt: bytes
    opslimit: int
    memlimit: int

    @classmethod
    def new(cls, rng: Callable[[int], bytes], cost: str = "moderate") -> KdfParams:
        """Fresh salt. ``cost`` is "moderate" (default, ~0.5-1 s) or "interactive"."""
        if cost == "moderate":
            ops, mem = (
                nacl.pwhash.argon2id.OPSLIMIT_MODERATE,
                nacl.pwhash.argon2id.MEMLIMIT_MODERATE,
            )
        elif cost == "interactive":
            ops = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
            mem = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
        else:
            raise ValueError(f"unknown key-derivation cost {cost!r}")
        return cls(rng(nacl.pwhash.argon2id.SALTBYTES), ops, mem)


def derive_key(passphrase: str, params: KdfParams) -> bytes:
    """32-byte SQLCipher key from the passphrase."""
    key: bytes = nacl.pwhash.argon2id.kdf(
        32,
        passphrase.encode("utf-8"),
        params.salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )
    return key


def save_params(path: Path, params: KdfParams) -> None:
    """Write the parameter file atomically (temp file, fsync, rename)."""
    doc = {
        "version": _FILE_VERSION,
        "kdf": "argon2id13",
        "salt": params.salt.hex(),
        "opslimit": params.opslimit,
        "memlimit": params.memlimit,
    }
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_params(path: Path) -> KdfParams:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("version") != _FILE_VERSION or doc.get("kdf") != "argon2id13":
            raise CorruptProfile(f"{path.name} has an unknown format")
        salt = bytes.fromhex(doc["salt"])
        ops, mem = int(doc["opslimit"]), int(doc["memlimit"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptProfile(f"cannot read {path.name}: {type(exc).__name__}") from None
    if len(salt) != nacl.pwhash.argon2id.SALTBYTES or ops < 1 or mem < 8192:
        raise CorruptProfile(f"{path.name} has invalid parameters")
    return KdfParams(salt, ops, mem)
