"""minisign public-key and signature files, prehashed ("ED") signatures only.

Formats, as written and read by minisign 0.10 and later (checked against 0.11 in tests):

    public key file:  "untrusted comment: <text>\\n" base64("Ed" | key_id(8) | pk(32)) "\\n"
    signature file:   "untrusted comment: <text>\\n" base64("ED" | key_id(8) | sig(64)) "\\n"
                      "trusted comment: <text>\\n"   base64(global_sig(64)) "\\n"

``sig`` is Ed25519 over the file's BLAKE2b-512 (no key), ``global_sig`` is Ed25519 over
``sig | trusted comment`` (the comment's UTF-8 bytes, no newline).  Base64 is the standard
alphabet with padding.  minisign shows a key id as the hex of its 8 bytes read as a
little-endian integer, upper case.  Caucus signs with the member's identity key, whose key
id is ``H("minisign-key-id", pk)`` truncated to 8 bytes by BLAKE2b's output size, so the
same identity always exports the same key file.  The legacy non-prehashed "Ed" signature
algorithm is refused: it needs the whole file in memory and minisign no longer makes it
by default.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from crypto import kdf
from crypto.document.hashing import BLAKE2B512_BYTES, BinaryReader, read_pieces
from crypto.errors import BadSignature, MalformedData, UnsupportedVersion, UsageError

__all__ = [
    "KEY_ID_BYTES",
    "MAX_TRUSTED_COMMENT_BYTES",
    "MAX_UNTRUSTED_COMMENT_BYTES",
    "MinisignPublicKey",
    "MinisignSignature",
    "blake2b512_file",
    "key_id_hex",
    "minisign_key_id",
    "parse_public_key",
    "parse_signature",
    "public_key_file",
    "sign_file_prehashed",
    "sign_prehashed",
    "verify",
]

KEY_ID_BYTES = 8
PUBLIC_KEY_ALGORITHM = b"Ed"
PREHASHED_ALGORITHM = b"ED"
LEGACY_ALGORITHM = b"Ed"
UNTRUSTED_PREFIX = "untrusted comment: "
TRUSTED_PREFIX = "trusted comment: "
# minisign reads each comment line with fgets into 1024 (untrusted) and 8192 (trusted)
# bytes, which must also hold the prefix, the newline and a NUL.
MAX_UNTRUSTED_COMMENT_BYTES = 1024 - len(UNTRUSTED_PREFIX) - 2
MAX_TRUSTED_COMMENT_BYTES = 8192 - len(TRUSTED_PREFIX) - 2

# Control characters other than TAB (minisign's default trusted comment uses TAB).  CR, LF
# and NUL would also change what minisign reads; the others could rewrite a terminal.
_BAD_COMMENT_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SIG_STRUCT_BYTES = 2 + KEY_ID_BYTES + 64
_PK_STRUCT_BYTES = 2 + KEY_ID_BYTES + 32


def minisign_key_id(public_key: bytes) -> bytes:
    """The 8-byte minisign key id Caucus uses for an identity key."""
    if len(public_key) != 32:
        raise UsageError("Ed25519 public key must be 32 bytes")
    return kdf.digest("minisign-key-id", public_key, size=KEY_ID_BYTES)


def key_id_hex(key_id: bytes) -> str:
    """A key id as minisign prints it (little-endian integer, 16 upper-case hex digits)."""
    if len(key_id) != KEY_ID_BYTES:
        raise UsageError("key id must be 8 bytes")
    return key_id[::-1].hex().upper()


def blake2b512_file(reader: BinaryReader) -> bytes:
    """minisign's prehash of a file: BLAKE2b-512 without a key, read piece by piece."""
    hasher = hashlib.blake2b(digest_size=BLAKE2B512_BYTES)
    for piece in read_pieces(reader):
        hasher.update(piece)
    return hasher.digest()


def _utf8_size(text: str) -> int | None:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _check_comment_for_output(comment: str, limit: int, what: str) -> None:
    if _BAD_COMMENT_CHARS.search(comment):
        raise UsageError(f"{what} must be one line without control characters")
    size = _utf8_size(comment)
    if size is None or size > limit:
        raise UsageError(f"{what} is not UTF-8 text of at most {limit} bytes")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class MinisignPublicKey:
    """A minisign public key: key id and Ed25519 key, with the file's untrusted comment."""

    key_id: bytes
    public_key: bytes
    untrusted_comment: str = ""

    @classmethod
    def from_identity(cls, public_key: bytes) -> MinisignPublicKey:
        """The public key Caucus exports for an identity key (key id derived from it)."""
        key_id = minisign_key_id(public_key)
        return cls(key_id, bytes(public_key), f"minisign public key {key_id_hex(key_id)}")

    def to_text(self) -> str:
        if len(self.key_id) != KEY_ID_BYTES or len(self.public_key) != 32:
            raise UsageError("key id must be 8 bytes and the key 32 bytes")
        _check_comment_for_output(
            self.untrusted_comment, MAX_UNTRUSTED_COMMENT_BYTES, "untrusted comment"
        )
        body = _b64(PUBLIC_KEY_ALGORITHM + self.key_id + self.public_key)
        return f"{UNTRUSTED_PREFIX}{self.untrusted_comment}\n{body}\n"


@dataclass(frozen=True)
class MinisignSignature:
    """A prehashed ("ED") minisign signature with its comments."""

    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes
    untrusted_comment: str

    def to_text(self) -> str:
        if (
            len(self.key_id) != KEY_ID_BYTES
            or len(self.signature) != 64
            or len(self.global_signature) != 64
        ):
            raise UsageError("key id must be 8 bytes and signatures 64 bytes")
        _check_comment_for_output(
            self.untrusted_comment, MAX_UNTRUSTED_COMMENT_BYTES, "untrusted comment"
        )
        _check_comment_for_output(
            self.trusted_comment, MAX_TRUSTED_COMMENT_BYTES, "trusted comment"
        )
        return (
            f"{UNTRUSTED_PREFIX}{self.untrusted_comment}\n"
            f"{_b64(PREHASHED_ALGORITHM + self.key_id + self.signature)}\n"
            f"{TRUSTED_PREFIX}{self.trusted_comment}\n"
            f"{_b64(self.global_signature)}\n"
        )


def public_key_file(public_key: bytes, comment: str | None = None) -> str:
    """The text of ``KEY.pub`` for an identity key (minisign's own comment by default)."""
    key = MinisignPublicKey.from_identity(public_key)
    if comment is not None:
        key = MinisignPublicKey(key.key_id, key.public_key, comment)
    return key.to_text()


def sign_prehashed(
    signing_key: nacl.signing.SigningKey,
    blake2b512_digest: bytes,
    trusted_comment: str,
    untrusted_comment: str,
) -> MinisignSignature:
    """Sign a file's BLAKE2b-512 the way ``minisign -S`` does, with the derived key id."""
    if len(blake2b512_digest) != BLAKE2B512_BYTES:
        raise UsageError("prehash must be a 64-byte BLAKE2b-512 digest")
    _check_comment_for_output(trusted_comment, MAX_TRUSTED_COMMENT_BYTES, "trusted comment")
    _check_comment_for_output(untrusted_comment, MAX_UNTRUSTED_COMMENT_BYTES, "untrusted comment")
    signature = bytes(signing_key.sign(bytes(blake2b512_digest)).signature)
    global_signature = bytes(
        signing_key.sign(signature + trusted_comment.encode("utf-8")).signature
    )
    return MinisignSignature(
        key_id=minisign_key_id(bytes(signing_key.verify_key)),
        signature=signature,
        trusted_comment=trusted_comment,
        global_signature=global_signature,
        untrusted_comment=untrusted_comment,
    )


def sign_file_prehashed(
    signing_key: nacl.signing.SigningKey,
    blake2b512_digest: bytes,
    trusted_comment: str,
    untrusted_comment: str,
) -> str:
    """The text of ``FILE.minisig`` for a file whose BLAKE2b-512 is given."""
    return sign_prehashed(
        signing_key, blake2b512_digest, trusted_comment, untrusted_comment
    ).to_text()


_MAX_FILE_BYTES = 2 * (MAX_TRUSTED_COMMENT_BYTES + MAX_UNTRUSTED_COMMENT_BYTES)


def _lines(text: str | bytes, count: int, what: str) -> list[str]:
    if len(text) > _MAX_FILE_BYTES:
        raise MalformedData(f"{what} is too long")
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedData(f"{what} is not UTF-8") from None
    elif _utf8_size(text) is None:
        raise MalformedData(f"{what} holds text that is not encodable as UTF-8")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) != count:
        raise MalformedData(f"{what} must have exactly {count} lines, found {len(lines)}")
    # A CRLF file (minisign on Windows writes one) reads the same as an LF file.
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _comment(line: str, prefix: str, limit: int, what: str) -> str:
    if not line.startswith(prefix):
        raise MalformedData(f"{what} line must start with {prefix!r}")
    comment = line[len(prefix) :]
    if _BAD_COMMENT_CHARS.search(comment):
        raise MalformedData(f"{what} contains a control character")
    if len(comment.encode("utf-8")) > limit:
        raise MalformedData(f"{what} longer than {limit} bytes")
    return comment


def _unb64(line: str, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedData(f"{what} is not base64") from None
    if len(raw) != size:
        raise MalformedData(f"{what} must decode to {size} bytes, got {len(raw)}")
    if _b64(raw) != line:
        raise MalformedData(f"{what} is not in canonical base64")
    return raw


def parse_signature(text: str | bytes) -> MinisignSignature:
    """Parse a ``.minisig`` file strictly; raises ``MalformedData`` (or a subclass)."""
    lines = _lines(text, 4, "signature file")
    untrusted = _comment(
        lines[0], UNTRUSTED_PREFIX, MAX_UNTRUSTED_COMMENT_BYTES, "untrusted comment"
    )
    struct = _unb64(lines[1], _SIG_STRUCT_BYTES, "signature")
    algorithm = struct[:2]
    if algorithm == LEGACY_ALGORITHM:
        raise UnsupportedVersion(
            "legacy non-prehashed signature ('Ed'); sign with minisign 0.10 or later"
        )
    if algorithm != PREHASHED_ALGORITHM:
        raise UnsupportedVersion(f"signature algorithm {algorithm!r}")
    trusted = _comment(lines[2], TRUSTED_PREFIX, MAX_TRUSTED_COMMENT_BYTES, "trusted comment")
    global_signature = _unb64(lines[3], 64, "trusted comment signature")
    return MinisignSignature(
        key_id=struct[2 : 2 + KEY_ID_BYTES],
        signature=struct[2 + KEY_ID_BYTES :],
        trusted_comment=trusted,
        global_signature=global_signature,
        untrusted_comment=untrusted,
    )


def parse_public_key(text: str | bytes) -> MinisignPublicKey:
    """Parse a minisign public key file strictly; raises ``MalformedData`` (or a subclass)."""
    lines = _lines(text, 2, "public key file")
    untrusted = _comment(
        lines[0], UNTRUSTED_PREFIX, MAX_UNTRUSTED_COMMENT_BYTES, "untrusted comment"
    )
    struct = _unb64(lines[1], _PK_STRUCT_BYTES, "public key")
    if struct[:2] != PUBLIC_KEY_ALGORITHM:
        raise UnsupportedVersion(f"public key algorithm {struct[:2]!r}")
    return MinisignPublicKey(
        key_id=struct[2 : 2 + KEY_ID_BYTES],
        public_key=struct[2 + KEY_ID_BYTES :],
        untrusted_comment=untrusted,
    )


def _ed25519_verify(public_key: bytes, message: bytes, signature: bytes, what: str) -> None:
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise BadSignature(f"{what} does not verify") from None


def verify(
    public_key: MinisignPublicKey | bytes,
    blake2b512_digest: bytes,
    signature: MinisignSignature,
) -> None:
    """Check a prehashed signature as ``minisign -V`` does; raises ``BadSignature``.

    ``public_key`` is a parsed key file, or a bare identity key (its Caucus key id is
    derived).  Both the file signature and the trusted comment signature must verify.
    """
    if not isinstance(public_key, MinisignPublicKey):
        public_key = MinisignPublicKey.from_identity(public_key)
    if len(blake2b512_digest) != BLAKE2B512_BYTES:
        raise UsageError("prehash must be a 64-byte BLAKE2b-512 digest")
    if len(public_key.public_key) != 32 or len(public_key.key_id) != KEY_ID_BYTES:
        raise BadSignature("public key has the wrong length")
    if len(signature.signature) != 64 or len(signature.global_signature) != 64:
        raise BadSignature("signature has the wrong length")
    if signature.key_id != public_key.key_id:
        shown = key_id_hex(signature.key_id) if len(signature.key_id) == KEY_ID_BYTES else "?"
        raise BadSignature(
            f"signature key id {shown} is not the public key's {key_id_hex(public_key.key_id)}"
        )
    _ed25519_verify(
        public_key.public_key, bytes(blake2b512_digest), signature.signature, "signature"
    )
    _ed25519_verify(
        public_key.public_key,
        signature.signature + signature.trusted_comment.encode("utf-8"),
        signature.global_signature,
        "trusted comment signature",
    )
