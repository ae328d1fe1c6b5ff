"""A voter's choice, its fixed-size encoding and its sealing to the ballot's reveal key.

Plaintext: ``u8 version=1 | u8 kind | body | zeros``, always ``choice_size(definition)``
bytes for a given ballot, so the ciphertext length says nothing about the answer:

| kind | body | size |
|---|---|---|
| YES_NO_ABSTAIN | ``u8 answer`` (0 yes, 1 no, 2 abstain) | 3 |
| SINGLE | ``u16 option`` | 4 |
| APPROVAL | bitmap: byte ``i // 8``, mask ``1 << (i % 8)`` approves option ``i`` | 2 + ceil(n/8) |
| RANKED | ``u16 count`` then ``count`` distinct ``u16`` options, zeros to ``n`` slots | 4 + 2n |
| NUMERIC | ``u64 value`` (two's complement) | 10 |

Decoding is strict (unused bits, slots and padding must be zero; every index in range)
and raises ``InvalidChoice``: the tally counts such a ballot as invalid.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import nacl.public

from crypto.ballot.definition import BallotDefinition, BallotKind
from crypto.ballot.errors import InvalidChoice
from crypto.errors import DecryptionFailed, UsageError
from crypto.sealed import SEAL_OVERHEAD, open_sealed, seal

__all__ = [
    "CHOICE_VERSION",
    "Answer",
    "ApprovalChoice",
    "Choice",
    "NumericChoice",
    "RankedChoice",
    "SingleChoice",
    "YesNoChoice",
    "choice_size",
    "decode_choice",
    "encode_choice",
    "encrypted_choice_size",
    "open_choice",
    "seal_choice",
]

CHOICE_VERSION: Final = 1

_U16 = struct.Struct(">H")
_I64 = struct.Struct(">q")


class Answer(IntEnum):
    YES = 0
    NO = 1
    ABSTAIN = 2


@dataclass(frozen=True)
class YesNoChoice:
    answer: Answer


@dataclass(frozen=True)
class SingleChoice:
    option: int


@dataclass(frozen=True)
class ApprovalChoice:
    """Approves every option listed; the empty set is a blank ballot."""

    options: frozenset[int]


@dataclass(frozen=True)
class RankedChoice:
    """Options from most to least preferred; may stop early (empty = blank)."""

    ranking: tuple[int, ...]


@dataclass(frozen=True)
class NumericChoice:
    value: int


Choice = YesNoChoice | SingleChoice | ApprovalChoice | RankedChoice | NumericChoice

_CHOICE_TYPES: Final[dict[BallotKind, type]] = {
    BallotKind.YES_NO_ABSTAIN: YesNoChoice,
    BallotKind.SINGLE: SingleChoice,
    BallotKind.APPROVAL: ApprovalChoice,
    BallotKind.RANKED: RankedChoice,
    BallotKind.NUMERIC: NumericChoice,
}


def choice_size(definition: BallotDefinition) -> int:
    """Plaintext size of every choice of this ballot."""
    n = len(definition.options)
    body = {
        BallotKind.YES_NO_ABSTAIN: 1,
        BallotKind.SINGLE: 2,
        BallotKind.APPROVAL: (n + 7) // 8,
        BallotKind.RANKED: 2 + 2 * n,
        BallotKind.NUMERIC: 8,
    }[definition.kind]
    return 2 + body


def encrypted_choice_size(definition: BallotDefinition) -> int:
    """Ciphertext size of every choice of this ballot (a sealed box adds 48 bytes)."""
    return choice_size(definition) + SEAL_OVERHEAD


def _body(definition: BallotDefinition, choice: Choice) -> bytes:
    """The body bytes; ``InvalidChoice`` when the choice does not fit the ballot."""
    n = len(definition.options)
    if isinstance(choice, YesNoChoice):
        return bytes((Answer(choice.answer),))
    if isinstance(choice, SingleChoice):
        if not 0 <= choice.option < n:
            raise InvalidChoice("option out of range")
        return _U16.pack(choice.option)
    if isinstance(choice, ApprovalChoice):
        bitmap = bytearray((n + 7) // 8)
        for option in choice.options:
            if not 0 <= option < n:
                raise InvalidChoice("option out of range")
            bitmap[option // 8] |= 1 << (option % 8)
        return bytes(bitmap)
    if isinstance(choice, RankedChoice):
        ranking = choice.ranking
        if len(set(ranking)) != len(ranking) or not all(0 <= o < n for o in ranking):
            raise InvalidChoice("a ranking lists distinct options in range")
        slots = b"".join(_U16.pack(o) for o in ranking) + bytes(2 * (n - len(ranking)))
        return _U16.pack(len(ranking)) + slots
    if not definition.numeric_min <= choice.value <= definition.numeric_max:
        raise InvalidChoice("value outside the ballot's bounds")
    return _I64.pack(choice.value)


def encode_choice(definition: BallotDefinition, choice: Choice) -> bytes:
    """Fixed-size plaintext of ``choice``; ``UsageError`` if it does not fit the ballot."""
    if not isinstance(choice, _CHOICE_TYPES[definition.kind]):
        raise UsageError(f"a {definition.kind.name} ballot takes a different kind of choice")
    try:
        body = _body(definition, choice)
    except (InvalidChoice, ValueError) as error:
        raise UsageError(f"choice does not fit the ballot: {error}") from None
    return bytes((CHOICE_VERSION, definition.kind)) + body


def decode_choice(definition: BallotDefinition, plaintext: bytes) -> Choice:
    """Parse a decrypted choice strictly; ``InvalidChoice`` on anything that does not fit."""
    if len(plaintext) != choice_size(definition):
        raise InvalidChoice("choice has the wrong size")
    if plaintext[0] != CHOICE_VERSION or plaintext[1] != definition.kind:
        raise InvalidChoice("choice has the wrong version or kind")
    body = plaintext[2:]
    n = len(definition.options)
    choice: Choice
    if definition.kind is BallotKind.YES_NO_ABSTAIN:
        if body[0] > Answer.ABSTAIN:
            raise InvalidChoice("answer out of range")
        choice = YesNoChoice(Answer(body[0]))
    elif definition.kind is BallotKind.SINGLE:
        choice = SingleChoice(_U16.unpack(body)[0])
    elif definition.kind is BallotKind.APPROVAL:
        bits = int.from_bytes(body, "little")
        if bits >> n:
            raise InvalidChoice("approval bitmap sets bits beyond the options")
        choice = ApprovalChoice(frozenset(i for i in range(n) if bits >> i & 1))
    elif definition.kind is BallotKind.RANKED:
        count = _U16.unpack(body[:2])[0]
        if count > n:
            raise InvalidChoice("ranking longer than the options")
        slots = [_U16.unpack(body[2 + 2 * i : 4 + 2 * i])[0] for i in range(n)]
        if any(slots[count:]):
            raise InvalidChoice("unused ranking slots must be zero")
        choice = RankedChoice(tuple(slots[:count]))
    else:
        choice = NumericChoice(_I64.unpack(body)[0])
    # Range checks shared with encoding; the canonical re-encoding must be these bytes.
    if bytes((CHOICE_VERSION, definition.kind)) + _body(definition, choice) != plaintext:
        raise InvalidChoice("choice is not in canonical form")
    return choice


def seal_choice(definition: BallotDefinition, choice: Choice, rng: Callable[[int], bytes]) -> bytes:
    """Encrypt the encoded choice to the ballot's reveal key (sealed box)."""
    return seal(definition.reveal_pk, encode_choice(definition, choice), rng)


def open_choice(
    definition: BallotDefinition, reveal_secret: nacl.public.PrivateKey, ciphertext: bytes
) -> Choice:
    """Decrypt and decode; ``InvalidChoice`` if either fails (never a crash)."""
    try:
        plaintext = open_sealed(reveal_secret, ciphertext)
    except DecryptionFailed:
        raise InvalidChoice("encrypted choice does not open with the reveal key") from None
    return decode_choice(definition, plaintext)
