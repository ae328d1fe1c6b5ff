"""One error root for the protocol, split by whose fault it is.

``UsageError`` means the caller (our own code) did something wrong.  ``RemoteError`` means
bytes from a peer or the relay were bad; the subclasses say how.  Messages never contain
secret material.
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "CaucusError",
    "DecryptionFailed",
    "EpochKeyMismatch",
    "Expired",
    "ForkDetected",
    "InvalidLogEntry",
    "MalformedData",
    "NotPermitted",
    "RemoteError",
    "Replay",
    "TooLarge",
    "UnsupportedVersion",
    "UsageError",
    "WrongRoster",
]


class CaucusError(Exception):
    """Root of every error raised on purpose by Caucus code."""


class UsageError(CaucusError):
    """The caller broke a precondition: a bug on our side, not an attack."""


class RemoteError(CaucusError):
    """Data that came from a peer or the relay is not acceptable."""


class MalformedData(RemoteError):
    """Bytes do not parse under the strict wire rules."""


class UnsupportedVersion(MalformedData):
    """A format starts with a version byte this code does not know."""


class TooLarge(MalformedData):
    """A length field or payload exceeds its documented bound."""


class BadSignature(RemoteError):
    """An Ed25519 (or ring) signature does not verify."""


class DecryptionFailed(RemoteError):
    """An AEAD or sealed box did not open: wrong key or tampered bytes."""


class Replay(RemoteError):
    """A message key was already used or deleted: the item was seen before."""


class InvalidLogEntry(RemoteError):
    """A group-log entry breaks the chain or the validation rules."""


class NotPermitted(InvalidLogEntry):
    """A log entry's author lacks the role the entry kind requires."""


class EpochKeyMismatch(RemoteError):
    """A delivered epoch secret does not match the commitment in the signed log entry."""


class ForkDetected(RemoteError):
    """Peers' transcripts disagree: the relay showed different histories."""


class Expired(RemoteError):
    """An invite or ballot was used after its deadline."""


class WrongRoster(RemoteError):
    """A ballot definition lists other eligible members than the group's ballot keys."""
