"""Domain-separated hashing and key derivation (BLAKE2b, as libsodium's generichash).

Every label is a constant in this module, so the full list of labels lives in one place
and ``docs/protocol.md`` can quote it.  Inputs are length-prefixed, so no two different
(label, parts) tuples hash the same bytes.
"""

from __future__ import annotations

import hashlib
import struct

from crypto.errors import UsageError

__all__ = ["LABELS", "derive", "digest", "frame"]

_PREFIX = b"caucus/v1/"

LABELS: frozenset[str] = frozenset(
    {
        # identity
        "fingerprint",
        "safety-number",
        "delivery-cert",
        "inbox-read",
        # linked devices (protocol section 8)
        "device-cert",
        "link-id",
        "link-mailbox",
        "link-cap",
        "link-key",
        "link-request",
        "link-bundle",
        "device-channel-id",
        "device-channel-mailbox",
        "device-channel-cap",
        "device-channel-key",
        "device-keys",
        "device-welcome",
        # group log
        "log-entry",
        "log-entry-hash",
        "epoch-commitment",
        "epoch-delivery",
        # key schedule (from an epoch secret)
        "mailbox-cap",
        "commit-key",
        "sender-data-key",
        "sender-chain",
        "chain-next",
        "message-key",
        "message-nonce",
        # messages
        "message",
        "message-hash",
        # invites
        "invite-id",
        "invite-mailbox",
        "invite-cap",
        "invite-key",
        "join-request",
        "welcome",
        # relay
        "cap-hash",
        "relay-work",
        "relay-work-seed",
        # documents (docs/documents.md)
        "document-stream-key",
        "document-blob-id",
        "document-blob-cap",
        "document-chunk",
        "document-announcement",
        "minisign-key-id",
        # ballots (docs/ballots.md)
        "ballot-hash-to-point",
        "ballot-key-pop",
        "ballot-definition",
        "ballot-tag",
        "ballot-ring",
        "ballot-ring-context",
        "ballot-ring-challenge",
        "ballot-hash-to-point-v2",
        "ballot-ring-v2",
        "ballot-ring-v2-context",
        "ballot-ring-v2-challenge",
        "ballot-vote",
        "ballot-vote-hash",
        "ballot-counted-set",
        "vote-key",
        "vote-nonce",
        # union tools: rate and client reports (docs/union-tools.md)
        "union-report",
        "union-report-hash",
        "union-rate-scope",
        "union-client-scope",
        # freshness heads (protocol section 4.4)
        "freshness-head",
        "head-key",
        # key recovery and group moves (protocol 4.5)
        "help-mailbox",
        "help-cap",
        "help-key",
        "key-request",
        "key-answer",
        "group-move",
        # dispute cases (docs/union-tools.md)
        "case-invitation",
        "case-tag",
    }
)


def frame(label: str, parts: tuple[bytes, ...]) -> bytes:
    """The exact bytes hashed by ``digest`` and signed by ``identity.sign_framed``."""
    if label not in LABELS:
        raise UsageError(f"unknown KDF label {label!r}")
    name = _PREFIX + label.encode("ascii")
    chunks = [struct.pack(">H", len(name)), name]
    for part in parts:
        chunks.append(struct.pack(">I", len(part)))
        chunks.append(part)
    return b"".join(chunks)


def digest(label: str, *parts: bytes, size: int = 32) -> bytes:
    """Unkeyed BLAKE2b of the framed (label, parts)."""
    return hashlib.blake2b(frame(label, parts), digest_size=size).digest()


def derive(key: bytes, label: str, *parts: bytes, size: int = 32) -> bytes:
    """Keyed BLAKE2b (libsodium ``crypto_generichash`` with a key) as a PRF/KDF."""
    if not 16 <= len(key) <= 64:
        raise UsageError("KDF key must be 16 to 64 bytes")
    return hashlib.blake2b(frame(label, parts), key=key, digest_size=size).digest()
