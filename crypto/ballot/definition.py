"""The ballot definition: everything a vote is bound to, frozen and signed at creation.

Encoding (``docs/ballots.md`` section 3)::

    u8 version (1 | 2) | bytes16 ballot_id | bytes16 group_id | bytes32 creator_pk
    | str(2048) question | u8 kind | list(64, str(256)) options
    | u64 numeric_min | u64 numeric_max (two's complement) | u8 histogram_bins
    | u64 opens_at | u64 closes_at | u32 quorum (0 = none)
    | list(4096, bytes32) roster (ballot public keys, roster order) | bytes32 nonce
    | bytes32 reveal_pk | bytes64 sig = Ed25519(creator, frame("ballot-definition", preceding))

``tag = H("ballot-tag", preceding)`` (everything but the signature) scopes key images: it
covers the random nonce and the whole roster, so no two ballots share a key-image base
and the creator cannot pick one.

The version fixes the ring signature of every vote (``crypto/ballot/blsag.py``): 1 over
edwards25519, 2 (what ``create`` makes) over ristretto255.  The definition, not the
voter, decides it, so a member cannot vote twice with one key image per version.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from crypto import kdf
from crypto.ballot.blsag import MAX_RING_SIZE, Ring, RingSuite, key_image_base, suite_of
from crypto.ballot.reveal import RevealKey
from crypto.errors import MalformedData, UnsupportedVersion, UsageError, WrongRoster
from crypto.identity import Identity, verify_framed
from crypto.sealed import check_delivery_key
from crypto.wire import Reader, Writer

__all__ = [
    "DEFINITION_VERSION",
    "MAX_OPTIONS",
    "MAX_QUESTION",
    "NUMERIC_LIMIT",
    "YES_NO_ABSTAIN_OPTIONS",
    "BallotDefinition",
    "BallotKind",
]

DEFINITION_VERSION: Final = 2
"""What ``create`` makes; ``decode`` also reads version 1 (ring signatures over edwards25519)."""
_READABLE_VERSIONS: Final = frozenset({1, DEFINITION_VERSION})
MAX_QUESTION: Final = 2048
MAX_OPTION: Final = 256
MAX_OPTIONS: Final = 64
MAX_BINS: Final = 100
# Numeric answers stay within +-2^50 so quartiles (multiples of 1/4) are exact floats.
NUMERIC_LIMIT: Final = 2**50
YES_NO_ABSTAIN_OPTIONS: Final = ("yes", "no", "abstain")

_U64_MASK = 2**64 - 1


class BallotKind(IntEnum):
    """What a voter answers and how the tally counts it."""

    YES_NO_ABSTAIN = 1
    SINGLE = 2
    APPROVAL = 3
    RANKED = 4
    NUMERIC = 5


_OPTION_KINDS = frozenset({BallotKind.SINGLE, BallotKind.APPROVAL, BallotKind.RANKED})


def _to_u64(value: int) -> int:
    return value & _U64_MASK


def _from_u64(value: int) -> int:
    return value - 2**64 if value >= 2**63 else value


def _has_control(text: str, allow_newline: bool) -> bool:
    for char in text:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            if allow_newline and char == "\n":
                continue
            return True
    return False


@dataclass(frozen=True)
class BallotDefinition:
    """A ballot as every member sees it.  Build with ``create``; read with ``decode``."""

    ballot_id: bytes
    group_id: bytes
    creator_pk: bytes
    question: str
    kind: BallotKind
    options: tuple[str, ...]
    numeric_min: int
    numeric_max: int
    histogram_bins: int
    opens_at: int
    closes_at: int
    quorum: int
    roster: tuple[bytes, ...]
    nonce: bytes
    reveal_pk: bytes
    signature: bytes
    version: int = DEFINITION_VERSION

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        creator: Identity,
        group_id: bytes,
        question: str,
        kind: BallotKind,
        roster: Sequence[bytes],
        opens_at: int,
        closes_at: int,
        rng: Callable[[int], bytes],
        *,
        options: Sequence[str] = (),
        numeric_min: int = 0,
        numeric_max: int = 0,
        histogram_bins: int = 0,
        quorum: int = 0,
        version: int = DEFINITION_VERSION,
    ) -> tuple[BallotDefinition, RevealKey]:
        """A signed definition and its reveal key (keep it secret until the close).

        The ballot id, nonce and reveal key come from ``rng``.  Invalid parameters raise
        ``UsageError`` (the caller's form should have caught them).  ``version`` 1 makes
        the older form (ring signatures over edwards25519), for groups and tests that need it.
        """
        if version not in _READABLE_VERSIONS:
            raise UsageError(f"ballot definition version {version} cannot be made")
        reveal = RevealKey.generate(rng)
        unsigned = cls(
            ballot_id=rng(16),
            group_id=group_id,
            creator_pk=creator.public_key,
            question=question,
            kind=BallotKind(kind),
            options=tuple(options),
            numeric_min=numeric_min,
            numeric_max=numeric_max,
            histogram_bins=histogram_bins,
            opens_at=opens_at,
            closes_at=closes_at,
            quorum=quorum,
            roster=tuple(roster),
            nonce=rng(32),
            reveal_pk=reveal.public,
            signature=b"",
            version=version,
        )
        try:
            unsigned._check_fields()
            unsigned._check_keys()
        except MalformedData as error:
            raise UsageError(f"invalid ballot: {error}") from None
        signature = creator.sign("ballot-definition", unsigned._signed_part())
        return cls.decode(unsigned._signed_part() + signature), reveal

    # -- encoding -----------------------------------------------------------------------

    def _signed_part(self) -> bytes:
        writer = (
            Writer()
            .u8(self.version)
            .fixed(self.ballot_id, 16)
            .fixed(self.group_id, 16)
            .fixed(self.creator_pk, 32)
            .text(self.question, MAX_QUESTION)
            .u8(self.kind)
        )
        writer.u32(len(self.options))
        for option in self.options:
            writer.text(option, MAX_OPTION)
        writer.u64(_to_u64(self.numeric_min)).u64(_to_u64(self.numeric_max))
        writer.u8(self.histogram_bins).u64(self.opens_at).u64(self.closes_at).u32(self.quorum)
        writer.u32(len(self.roster))
        for key in self.roster:
            writer.fixed(key, 32)
        writer.fixed(self.nonce, 32).fixed(self.reveal_pk, 32)
        return bytes(writer)

    def encode(self) -> bytes:
        return self._signed_part() + self.signature

    @classmethod
    def decode(cls, data: bytes, eligible: Sequence[bytes] | None = None) -> BallotDefinition:
        """Strict parse, field rules and the creator's signature; ``RemoteError`` otherwise.

        With ``eligible``, the definition's roster must be exactly those keys (``WrongRoster``
        otherwise). That is checked, like the signature, before any roster key is
        validated: a definition made for another roster costs no curve arithmetic (up to
        4,096 keys, about a second in a version 2 ring).
        The caller still checks that the creator is a member and the group id is its own.
        """
        reader = Reader(data)
        version = reader.u8()
        if version not in _READABLE_VERSIONS:
            raise UnsupportedVersion(f"ballot definition version {version}")
        ballot_id = reader.fixed(16)
        group_id = reader.fixed(16)
        creator_pk = reader.fixed(32)
        question = reader.text(MAX_QUESTION)
        kind_byte = reader.u8()
        try:
            kind = BallotKind(kind_byte)
        except ValueError:
            raise MalformedData(f"unknown ballot kind {kind_byte}") from None
        options = tuple(reader.items(MAX_OPTIONS, lambda r: r.text(MAX_OPTION)))
        numeric_min = _from_u64(reader.u64())
        numeric_max = _from_u64(reader.u64())
        histogram_bins = reader.u8()
        opens_at = reader.u64()
        closes_at = reader.u64()
        quorum = reader.u32()
        roster = tuple(reader.items(MAX_RING_SIZE, lambda r: r.fixed(32)))
        nonce = reader.fixed(32)
        reveal_pk = reader.fixed(32)
        signature = reader.fixed(64)
        reader.finish()
        definition = cls(
            ballot_id,
            group_id,
            creator_pk,
            question,
            kind,
            options,
            numeric_min,
            numeric_max,
            histogram_bins,
            opens_at,
            closes_at,
            quorum,
            roster,
            nonce,
            reveal_pk,
            signature,
            version,
        )
        definition._check_fields()
        if eligible is not None and definition.roster != tuple(eligible):
            raise WrongRoster(
                "the ballot's eligible members are not the group's registered ballot keys"
            )
        verify_framed(creator_pk, signature, "ballot-definition", definition._signed_part())
        definition._check_keys()
        return definition

    # -- rules --------------------------------------------------------------------------

    def _check_fields(self) -> None:
        """The rules of docs/ballots.md section 3 that need neither the signature nor
        curve arithmetic."""
        if len(self.ballot_id) != 16 or len(self.group_id) != 16:
            raise MalformedData("ballot and group ids are 16 bytes")
        if len(self.creator_pk) != 32 or len(self.nonce) != 32:
            raise MalformedData("creator key and nonce are 32 bytes")
        if not self.question.strip() or _has_control(self.question, allow_newline=True):
            raise MalformedData("question is empty or contains control characters")
        if len(self.question.encode("utf-8")) > MAX_QUESTION:
            raise MalformedData("question is too long")
        self._check_options()
        if not self.opens_at < self.closes_at:
            raise MalformedData("a ballot must open before it closes")
        if self.quorum > len(self.roster):
            raise MalformedData("quorum exceeds the number of eligible members")

    def _check_keys(self) -> None:
        """The rules on keys: every roster key valid and distinct, a valid reveal key."""
        self.ring  # noqa: B018 - validates every roster key and their distinctness
        check_delivery_key(self.reveal_pk)

    def _check_options(self) -> None:
        if self.kind in _OPTION_KINDS:
            if not 2 <= len(self.options) <= MAX_OPTIONS:
                raise MalformedData(f"this kind needs 2 to {MAX_OPTIONS} options")
            if len(set(self.options)) != len(self.options):
                raise MalformedData("options must be distinct")
            for option in self.options:
                if not option.strip() or _has_control(option, allow_newline=False):
                    raise MalformedData("an option is empty or contains control characters")
                if len(option.encode("utf-8")) > MAX_OPTION:
                    raise MalformedData("an option is too long")
        elif self.options:
            raise MalformedData("yes/no/abstain and numeric ballots carry no options")
        if self.kind is BallotKind.NUMERIC:
            if not -NUMERIC_LIMIT <= self.numeric_min < self.numeric_max <= NUMERIC_LIMIT:
                raise MalformedData("numeric bounds must satisfy -2^50 <= min < max <= 2^50")
            if not 1 <= self.histogram_bins <= MAX_BINS:
                raise MalformedData(f"a numeric ballot has 1 to {MAX_BINS} histogram bins")
        elif self.numeric_min or self.numeric_max or self.histogram_bins:
            raise MalformedData("only numeric ballots carry bounds and bins")

    # -- derived values -----------------------------------------------------------------

    @functools.cached_property
    def tag(self) -> bytes:
        """``H("ballot-tag", definition without its signature)``: the key-image scope."""
        return kdf.digest("ballot-tag", self._signed_part())

    @property
    def ring_suite(self) -> RingSuite:
        """The ring signature every vote of this ballot carries (fixed by the version)."""
        return suite_of(self.version)

    @functools.cached_property
    def ring(self) -> Ring:
        """The roster as a validated ring (``MalformedData`` on a bad or repeated key)."""
        return Ring.of(self.roster, self.ring_suite)

    @functools.cached_property
    def key_image_base(self) -> bytes:
        """``Hp(tag)``, the base of this ballot's key images."""
        return key_image_base(self.tag, self.ring_suite)

    def key_image(self, secret: bytes) -> bytes:
        """The key image every vote by the holder of ballot key ``secret`` carries here
        (checked for every arriving vote: the base is hashed once per ballot)."""
        return self.ring_suite.mul(secret, self.key_image_base)

    @property
    def eligible(self) -> int:
        return len(self.roster)

    @property
    def option_labels(self) -> tuple[str, ...]:
        """The labels the tally counts under (fixed for yes/no/abstain, none for numeric)."""
        if self.kind is BallotKind.YES_NO_ABSTAIN:
            return YES_NO_ABSTAIN_OPTIONS
        return self.options
