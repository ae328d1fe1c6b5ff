"""Errors specific to ballots, under the protocol's one root (``crypto.errors``)."""

from __future__ import annotations

from crypto.errors import DecryptionFailed, MalformedData, UsageError

__all__ = ["InvalidChoice", "RevealKeyMismatch", "WrongBallotState"]


class RevealKeyMismatch(DecryptionFailed):
    """A released reveal key is not the private half of the ballot's reveal public key."""


class InvalidChoice(MalformedData):
    """A decrypted choice does not fit the ballot (bad encoding, option out of range, ...).

    The tally counts such a ballot as invalid instead of failing.
    """


class WrongBallotState(UsageError):
    """The engine fed an event the ballot state machine does not allow in this state."""
