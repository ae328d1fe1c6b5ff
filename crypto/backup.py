"""The backup file's keys and header (docs/protocol.md section 9), without I/O.

A **recovery key** is 32 random bytes, shown once as 24 BIP39 English words (the last
word carries a checksum). HKDF-SHA256 of it gives the X25519 private key of the backup
key pair; the profile keeps only the public half, so it can write backups without the
recovery key and a seized unlocked profile holds nothing that opens them.

A backup file starts with a fixed header::

    bytes8 magic "CAUCUSBK" | u8 version=1 | bytes16 key_id | bytes80 sealed_file_key
    | bytes24 secretstream_header                                        (129 bytes)

``key_id`` is BLAKE2b-128 of the backup public key (so a wrong recovery key is told apart
from a damaged file), ``sealed_file_key`` a libsodium sealed box of a fresh 32-byte file key
to that public key. The payload follows as XChaCha20-Poly1305 secretstream chunks under
the file key (``app.core.backup_file``); the first chunk's additional data is the header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import nacl.public
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from mnemonic import Mnemonic

from crypto.errors import DecryptionFailed, MalformedData, UnsupportedVersion, UsageError
from crypto.sealed import SEAL_OVERHEAD, open_sealed, seal

__all__ = [
    "FILE_KEY_BYTES",
    "HEADER_BYTES",
    "MAGIC",
    "RECOVERY_KEY_BYTES",
    "RECOVERY_WORDS",
    "VERSION",
    "BackupHeader",
    "RecoveryKey",
    "key_id",
    "seal_header",
]

MAGIC = b"CAUCUSBK"
VERSION = 1
RECOVERY_KEY_BYTES = 32
RECOVERY_WORDS = 24
FILE_KEY_BYTES = 32
KEY_ID_BYTES = 16
STREAM_HEADER_BYTES = 24
_SEALED_BYTES = FILE_KEY_BYTES + SEAL_OVERHEAD
HEADER_BYTES = len(MAGIC) + 1 + KEY_ID_BYTES + _SEALED_BYTES + STREAM_HEADER_BYTES
_HKDF_INFO = b"caucus/v1/backup-x25519"
_KEY_ID_PERSON = b"caucus-backupid"
_WORDS = Mnemonic("english")


@dataclass(frozen=True, repr=False)
class RecoveryKey:
    """The 256-bit secret that opens every backup of one profile."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != RECOVERY_KEY_BYTES:
            raise UsageError("a recovery key is 32 bytes")

    def __repr__(self) -> str:
        return "RecoveryKey(<secret>)"

    @classmethod
    def generate(cls, rng: Callable[[int], bytes]) -> RecoveryKey:
        return cls(rng(RECOVERY_KEY_BYTES))

    @classmethod
    def from_words(cls, text: str) -> RecoveryKey:
        """Parse 24 words (any case and spacing); ``MalformedData`` names what is wrong,
        never the words themselves."""
        words = text.lower().split()
        if len(words) != RECOVERY_WORDS:
            raise MalformedData(f"a recovery key is {RECOVERY_WORDS} words, not {len(words)}")
        unknown = sum(1 for word in words if word not in _WORDS.wordlist)
        if unknown:
            raise MalformedData(f"{unknown} of the recovery key's words are not on the word list")
        phrase = " ".join(words)
        if not _WORDS.check(phrase):
            raise MalformedData("the recovery key's words do not check out: one is mistyped")
        return cls(bytes(_WORDS.to_entropy(phrase)))

    def words(self) -> str:
        return str(_WORDS.to_mnemonic(self.secret))

    def private_key(self) -> nacl.public.PrivateKey:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            self.secret
        )
        return nacl.public.PrivateKey(derived)

    def public_key(self) -> bytes:
        return bytes(self.private_key().public_key)


def key_id(public_key: bytes) -> bytes:
    """The header's name for a backup public key."""
    return hashlib.blake2b(public_key, digest_size=KEY_ID_BYTES, person=_KEY_ID_PERSON).digest()


@dataclass(frozen=True)
class BackupHeader:
    """A parsed header; ``open_file_key`` needs the recovery key."""

    key_id: bytes
    sealed_file_key: bytes
    stream_header: bytes

    def encode(self) -> bytes:
        return MAGIC + bytes([VERSION]) + self.key_id + self.sealed_file_key + self.stream_header

    @classmethod
    def parse(cls, raw: bytes) -> BackupHeader:
        if len(raw) < len(MAGIC) + 1 or raw[: len(MAGIC)] != MAGIC:
            raise MalformedData("this is not a Caucus backup file")
        version = raw[len(MAGIC)]
        if version != VERSION:
            raise UnsupportedVersion(
                f"a backup of format version {version}; this Caucus reads version {VERSION}"
            )
        if len(raw) != HEADER_BYTES:
            raise MalformedData("the backup file is truncated: its header is incomplete")
        at = len(MAGIC) + 1
        kid = raw[at : at + KEY_ID_BYTES]
        at += KEY_ID_BYTES
        sealed = raw[at : at + _SEALED_BYTES]
        at += _SEALED_BYTES
        return cls(kid, sealed, raw[at:])

    def open_file_key(self, recovery: RecoveryKey) -> bytes:
        """The file key; ``DecryptionFailed`` for another profile's recovery key."""
        private = recovery.private_key()
        if key_id(bytes(private.public_key)) != self.key_id:
            raise DecryptionFailed("the recovery key does not open this backup")
        try:
            file_key = open_sealed(private, self.sealed_file_key)
        except DecryptionFailed:
            raise DecryptionFailed(
                "the backup file is damaged: its key box does not open"
            ) from None
        if len(file_key) != FILE_KEY_BYTES:
            raise MalformedData("the backup file is damaged: its file key has the wrong size")
        return file_key


def seal_header(
    public_key: bytes, file_key: bytes, stream_header: bytes, rng: Callable[[int], bytes]
) -> BackupHeader:
    """The header of a new backup whose payload is under ``file_key``."""
    if len(file_key) != FILE_KEY_BYTES or len(stream_header) != STREAM_HEADER_BYTES:
        raise UsageError("a backup's file key is 32 bytes and its stream header 24")
    return BackupHeader(key_id(public_key), seal(public_key, file_key, rng), stream_header)
