"""Errors the client engine raises; every one carries a message safe to show a person."""

from __future__ import annotations

from crypto.errors import CaucusError, RemoteError, UsageError

__all__ = [
    "AlreadyExists",
    "ClientError",
    "ClockOff",
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
    """The relay answered with an error code (``code`` is its JSON error); with
    ``stale_auth`` it also says its own time (``relay_time_ms``)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str = "",
        *,
        relay_time_ms: int | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(
            message
            or f"relay refused the request: {code} ({status}){': ' + detail if detail else ''}"
        )
        self.status = status
        self.code = code
        self.relay_time_ms = relay_time_ms


class ClockOff(RelayRejected):
    """The relay refused a signed request because this computer's clock is too far from
    its own (inbox requests carry a signed time, docs/protocol.md 6.3)."""

    def __init__(self, rejected: RelayRejected, sent_ms: int) -> None:
        relay_ms = rejected.relay_time_ms
        self.skew_ms = None if relay_ms is None else sent_ms - relay_ms
        super().__init__(
            rejected.status,
            rejected.code,
            relay_time_ms=relay_ms,
            message=_clock_off_text(self.skew_ms),
        )


def _clock_off_text(skew_ms: int | None) -> str:
    """What a person is told when the server refuses their computer's clock. The amount
    is the server's claim (a hostile relay could say anything), so it is said as such,
    and the advice is to check the clock, not to move it by that amount."""
    fix = "check that this computer's date and time are right, then try again"
    if skew_ms is None:
        return f"the server refused this computer's clock as too far off its own: {fix}"
    minutes = abs(skew_ms) / 60_000
    if minutes < 120:
        amount = f"{round(minutes)} minutes"
    elif minutes < 48 * 60:
        amount = f"{round(minutes / 60)} hours"
    else:
        amount = f"{round(minutes / 1440)} days"
    side = "ahead of" if skew_ms > 0 else "behind"
    return f"the server says this computer's clock is {amount} {side} its own: {fix}"


# Re-exported so callers catch one family.
_ = (UsageError,)
