"""Errors the client engine raises; every one carries a message safe to show a person."""

from __future__ import annotations

from crypto.errors import CaucusError, RemoteError, UsageError

__all__ = [
    "AlreadyExists",
    "ClientError",
    "CorruptProfile",
    "InvalidKeyParams",
    "NotFound",
    "NotPermittedHere",
    "ProfileInUse",
    "ProfileMissing",
    "ReadOnlyProfile",
    "RelayBusy",
    "RelayError",
    "RelayRejected",
    "RelayUnavailable",
    "StaleSession",
    "WrongPassphrase",
]


class ClientError(CaucusError):
    """A failure the user caused or can act on; ``str(error)`` is shown as is."""


class WrongPassphrase(ClientError):
    """The passphrase does not open the profile database."""


class ProfileMissing(ClientError):
    """No profile exists in the chosen directory."""


class CorruptProfile(ClientError):
    """The profile's files exist but cannot be read (damaged database, WAL or file)."""


class InvalidKeyParams(CorruptProfile):
    """``key-params.json`` is malformed or asks for Argon2id costs outside the bounds."""


class ProfileInUse(ClientError):
    """Another process (or another engine of this one) has the profile open."""


class StaleSession(ClientError):
    """Another connection to the profile changed a group under this one's feet."""


class ReadOnlyProfile(ClientError):
    """The profile's folder or files cannot be written."""


class AlreadyExists(ClientError):
    """Creating something that is already there (a profile, a member)."""


class NotFound(ClientError):
    """A group, member, invite or message that does not exist here."""


class NotPermittedHere(ClientError):
    """The action needs a role or membership this profile does not have."""


class RelayError(RemoteError):
    """The relay failed or refused a request."""


class RelayUnavailable(RelayError):
    """The relay could not be reached (after retries)."""


class RelayBusy(RelayUnavailable):
    """The relay kept answering "busy" (HTTP 429 or 503) for the whole retry budget."""


class RelayRejected(RelayError):
    """The relay answered with an error code (``code`` is its JSON error)."""

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(
            f"relay refused the request: {code} ({status}){': ' + detail if detail else ''}"
        )
        self.status = status
        self.code = code


# Re-exported so callers catch one family.
_ = (UsageError,)
