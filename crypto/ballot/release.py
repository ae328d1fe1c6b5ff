"""Version 2 of the reveal: the creator's key together with the set of votes it counts.

One tally for everyone (docs/ballots.md section 13).  The creator's reveal names every
counted vote by its hash, so members who hold different votes (a relay that dropped one
for some of them) find out, fetch what they miss, and all tally exactly the named set::

    u8 version=2 | bytes16 ballot_id | bytes32 reveal_sk
    | list(4096, bytes32) counted          (vote hashes, strictly ascending)

``counted_digest`` is the short form members compare (shown in every result).  The
"votes missing here" request (content type 20) asks the group to re-post named votes::

    u8 version=2 | bytes16 ballot_id | list(4096, bytes32) missing   (strictly ascending)

``compare_counted`` is the rule every client applies to its own votes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from crypto import kdf
from crypto.ballot.blsag import MAX_RING_SIZE
from crypto.ballot.errors import RevealKeyMismatch
from crypto.ballot.reveal import RevealKey
from crypto.errors import MalformedData, UnsupportedVersion, UsageError
from crypto.wire import Reader, Writer

__all__ = [
    "CONTENT_TYPE_MISSING_VOTES",
    "MAX_COUNTED",
    "RELEASE_VERSION",
    "CountedCheck",
    "MissingVotes",
    "RevealRelease",
    "compare_counted",
    "counted_digest",
    "release_ballot_id",
]

RELEASE_VERSION: Final = 2
CONTENT_TYPE_MISSING_VOTES: Final = 20
MAX_COUNTED: Final = MAX_RING_SIZE
"""At most one counted vote per ring key."""

_HASH = 32


def _sorted_hashes(hashes: Iterable[bytes]) -> tuple[bytes, ...]:
    ordered = tuple(sorted(bytes(h) for h in hashes))
    if any(len(h) != _HASH for h in ordered):
        raise UsageError("a vote hash is 32 bytes")
    if len(set(ordered)) != len(ordered):
        raise UsageError("a vote hash is listed twice")
    if len(ordered) > MAX_COUNTED:
        raise UsageError(f"more than {MAX_COUNTED} vote hashes")
    return ordered


def _read_hashes(reader: Reader) -> tuple[bytes, ...]:
    hashes = tuple(reader.items(MAX_COUNTED, lambda r: r.fixed(_HASH)))
    if any(a >= b for a, b in itertools.pairwise(hashes)):
        raise MalformedData("vote hashes are not strictly ascending")
    return hashes


def _write_hashes(writer: Writer, hashes: tuple[bytes, ...]) -> None:
    writer.u32(len(hashes))
    for vote_hash in hashes:
        writer.fixed(vote_hash, _HASH)


def _version(reader: Reader, what: str) -> None:
    version = reader.u8()
    if version != RELEASE_VERSION:
        raise UnsupportedVersion(
            f"{what} version {version}; this client speaks ballot protocol version"
            f" {RELEASE_VERSION} only"
        )


def counted_digest(ballot_id: bytes, counted: Iterable[bytes]) -> bytes:
    """``H("ballot-counted-set", ballot_id, u32 count, sorted hashes)``: what members compare."""
    hashes = _sorted_hashes(counted)
    return kdf.digest(
        "ballot-counted-set", ballot_id, len(hashes).to_bytes(4, "big"), b"".join(hashes)
    )


def release_ballot_id(body: bytes) -> bytes:
    """The ballot a reveal names (to find its definition); ``decode`` does the full check."""
    reader = Reader(body)
    _version(reader, "reveal release")
    return reader.fixed(16)


@dataclass(frozen=True)
class RevealRelease:
    """The creator's reveal key for ``ballot_id`` and the hashes of the votes it counts."""

    ballot_id: bytes
    key: RevealKey
    counted: tuple[bytes, ...]

    @classmethod
    def create(cls, ballot_id: bytes, key: RevealKey, counted: Iterable[bytes]) -> RevealRelease:
        if len(ballot_id) != 16:
            raise UsageError("ballot id must be 16 bytes")
        return cls(bytes(ballot_id), key, _sorted_hashes(counted))

    @property
    def digest(self) -> bytes:
        return counted_digest(self.ballot_id, self.counted)

    def encode(self) -> bytes:
        writer = Writer().u8(RELEASE_VERSION).fixed(self.ballot_id, 16)
        writer.fixed(self.key.secret, 32)
        _write_hashes(writer, self.counted)
        return bytes(writer)

    @classmethod
    def decode(cls, body: bytes, ballot_id: bytes, reveal_pk: bytes) -> RevealRelease:
        """Parse strictly; ``MalformedData`` for another ballot or unsorted hashes,
        ``RevealKeyMismatch`` for a key that is not the definition's."""
        reader = Reader(body)
        _version(reader, "reveal release")
        named = reader.fixed(16)
        secret = reader.fixed(32)
        counted = _read_hashes(reader)
        reader.finish()
        if named != ballot_id:
            raise MalformedData("reveal release names another ballot")
        key = RevealKey.from_secret(secret)
        if key.public != reveal_pk:
            raise RevealKeyMismatch("released key does not match the ballot's reveal key")
        return cls(named, key, counted)


@dataclass(frozen=True)
class MissingVotes:
    """Content type 20: "these votes the reveal names have not reached me"."""

    ballot_id: bytes
    hashes: tuple[bytes, ...]

    @classmethod
    def create(cls, ballot_id: bytes, hashes: Iterable[bytes]) -> MissingVotes:
        if len(ballot_id) != 16:
            raise UsageError("ballot id must be 16 bytes")
        ordered = _sorted_hashes(hashes)
        if not ordered:
            raise UsageError("a request names at least one vote")
        return cls(bytes(ballot_id), ordered)

    def encode(self) -> bytes:
        writer = Writer().u8(RELEASE_VERSION).fixed(self.ballot_id, 16)
        _write_hashes(writer, self.hashes)
        return bytes(writer)

    @classmethod
    def decode(cls, body: bytes) -> MissingVotes:
        reader = Reader(body)
        _version(reader, "missing-votes request")
        ballot_id = reader.fixed(16)
        hashes = _read_hashes(reader)
        reader.finish()
        if not hashes:
            raise MalformedData("a missing-votes request names no vote")
        return cls(ballot_id, hashes)


@dataclass(frozen=True)
class CountedCheck:
    """How this member's votes compare with the set a reveal names.

    ``missing``: named, not held here (fetch them). ``left_out``: the latest vote of a
    voter this member received before the close, but the reveal counts none of that
    voter's, or an older one. ``duplicate_voters``: the named set holds two votes of one
    key image. Only ``missing`` can heal; the others are final.
    """

    missing: tuple[bytes, ...]
    left_out: tuple[bytes, ...]
    duplicate_voters: int

    @property
    def agrees(self) -> bool:
        return not (self.missing or self.left_out or self.duplicate_voters)


def compare_counted(
    counted: Iterable[bytes],
    held: Mapping[bytes, tuple[bytes, int]],
    latest_before_close: Mapping[bytes, tuple[bytes, int]],
) -> CountedCheck:
    """Compare a named set with what this member holds.

    ``held`` maps every vote hash this member verified (at any relay position) to its
    ``(key_image, revision)``; ``latest_before_close`` maps each key image to the
    ``(vote_hash, revision)`` this member would count from the votes before the close.
    ``left_out`` is judged only for voters none of whose named votes is missing, since a
    missing vote may be theirs.
    """
    named = _sorted_hashes(counted)
    missing = tuple(h for h in named if h not in held)
    named_by_image: dict[bytes, list[int]] = {}
    for vote_hash in named:
        if vote_hash in held:
            image, revision = held[vote_hash]
            named_by_image.setdefault(image, []).append(revision)
    duplicates = sum(1 for revisions in named_by_image.values() if len(revisions) > 1)
    left_out: list[bytes] = []
    if not missing:
        for image, (vote_hash, revision) in sorted(latest_before_close.items()):
            revisions = named_by_image.get(image)
            if revisions is None or max(revisions) < revision:
                left_out.append(vote_hash)
    return CountedCheck(missing, tuple(sorted(left_out)), duplicates)
