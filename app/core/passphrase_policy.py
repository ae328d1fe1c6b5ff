"""The strength floor for a new passphrase (docs/protocol.md section 7.1).

Argon2id makes every guess slow, but a passphrase in a cracking dictionary still falls to
a stolen disk in minutes. A new profile's passphrase, and a changed one, must reach
zxcvbn's score ``MIN_SCORE`` ("safely unguessable": about 10**8 guesses or more), or is
refused with one line that says why. Scripts and tests that want a short passphrase say
so explicitly with ``CAUCUS_ALLOW_WEAK_PASSPHRASE=1``; nothing else lowers the floor.
Unlocking an existing profile never checks strength.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.core.errors import ClientError

__all__ = [
    "ALLOW_WEAK_ENV",
    "MIN_SCORE",
    "Rating",
    "WeakPassphrase",
    "check_new_passphrase",
    "rate",
    "weak_allowed",
]

MIN_SCORE = 3
ALLOW_WEAK_ENV = "CAUCUS_ALLOW_WEAK_PASSPHRASE"
# zxcvbn refuses longer input (and its cost grows with length): a passphrase is rated on
# its first 72 characters, which only ever under-rates a longer one.
_RATED_CHARS = 72


class WeakPassphrase(ClientError):
    """A new passphrase below the strength floor."""


@dataclass(frozen=True)
class Rating:
    """zxcvbn's score (0 to 4) and its one-line warning ("" when it has none)."""

    score: int
    warning: str


def rate(passphrase: str, user_inputs: Iterable[str] = ()) -> Rating:
    """zxcvbn's rating; ``user_inputs`` (the display name, ...) count as easy guesses."""
    from zxcvbn import zxcvbn  # imported on use: unlocking never pays for its word lists

    result = zxcvbn(passphrase[:_RATED_CHARS], user_inputs=[u for u in user_inputs if u])
    warning = str(result["feedback"].get("warning") or "")
    return Rating(int(result["score"]), warning)


def weak_allowed(environ: Mapping[str, str] = os.environ) -> bool:
    """True only when ``CAUCUS_ALLOW_WEAK_PASSPHRASE`` is exactly "1"."""
    return environ.get(ALLOW_WEAK_ENV) == "1"


def check_new_passphrase(
    passphrase: str, user_inputs: Iterable[str] = (), *, allow_weak: bool | None = None
) -> None:
    """Refuse an empty passphrase always, a weak one unless explicitly allowed
    (``allow_weak``; None: ``CAUCUS_ALLOW_WEAK_PASSPHRASE`` decides)."""
    if not passphrase:
        raise ClientError("the passphrase must not be empty")
    if weak_allowed() if allow_weak is None else allow_weak:
        return
    rating = rate(passphrase, user_inputs)
    if rating.score < MIN_SCORE:
        warning = rating.warning.rstrip(".")
        why = warning[:1].lower() + warning[1:] if warning else "it is easy to guess"
        raise WeakPassphrase(
            f"the passphrase is too weak ({why}): use four or more unrelated words"
        )
