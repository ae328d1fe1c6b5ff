"""A rough strength hint for a new passphrase, shown while the person types.

Argon2id makes each guess slow, but a short or common passphrase still falls to a
dictionary attack on a stolen disk; the hint nudges towards several unrelated words.
It is a hint, not the gate: the gate is the engine's strength floor
(``app.core.passphrase_policy``, zxcvbn), checked when the form is submitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Strength", "estimate"]

_COMMON = frozenset(
    {
        "password",
        "passphrase",
        "123456",
        "12345678",
        "qwerty",
        "letmein",
        "welcome",
        "union",
        "caucus",
        "solidarity",
        "admin",
        "iloveyou",
        "monkey",
        "dragon",
    }
)
_LABELS = ("Very weak", "Weak", "Fair", "Strong", "Very strong")


@dataclass(frozen=True)
class Strength:
    """``score`` from 0 (very weak) to 4 (very strong), with a line of advice."""

    score: int
    label: str
    advice: str


def _pool(text: str) -> int:
    pool = 0
    if any(c.islower() for c in text):
        pool += 26
    if any(c.isupper() for c in text):
        pool += 26
    if any(c.isdigit() for c in text):
        pool += 10
    if any(not c.isalnum() for c in text):
        pool += 33
    return max(pool, 1)


def estimate(passphrase: str) -> Strength:
    """Estimate guessing resistance in bits, generously discounted for patterns."""
    if not passphrase:
        return Strength(0, _LABELS[0], "Choose a passphrase of several unrelated words.")
    words = passphrase.split()
    letters = "".join(words)
    if passphrase.lower().strip() in _COMMON:
        bits = 5.0
    elif letters.isalpha():
        # Letters only: most likely words, and guessers try word lists first. Count
        # about 11 bits per word (a 2,000-word list), words of ~4.5 letters when unspaced.
        count = len(words) if len(words) > 1 else len(letters) / 4.5
        bits = 11.0 * max(count, 1.0)
    else:
        distinct = len(set(passphrase))
        effective = min(len(passphrase), distinct * 2)
        bits = effective * math.log2(_pool(passphrase))
    score = 0 if bits < 28 else 1 if bits < 40 else 2 if bits < 55 else 3 if bits < 75 else 4
    advice = {
        0: "Too easy to guess. Use four or more unrelated words.",
        1: "Easy to guess. Add more words.",
        2: "Acceptable. One or two more words would make it strong.",
        3: "Good.",
        4: "Excellent.",
    }[score]
    return Strength(score, _LABELS[score], advice)
