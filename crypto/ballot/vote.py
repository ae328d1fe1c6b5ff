"""Casting and verifying one anonymous vote.

Vote item (posted without any sender identity)::

    u8 version=1 | bytes16 ballot_id | u32 revision
    | var(4096) encrypted_choice          (sealed box to reveal_pk, fixed size per ballot)
    | var(MAX_SIG) ring_signature          (bLSAG over the roster, scope = ballot tag)

The ring signature signs ``m = H("ballot-vote", tag, ballot_id, u32 revision,
encrypted_choice)``; its key image ``I = x*Hp(tag)`` is the voter's pseudonym in this
ballot.  ``revision`` counts a voter's re-votes (0, 1, 2, ...): the tally keeps, per key
image, the highest revision, so nobody who replays or reorders an old vote can undo a
later one.  Nothing in the item depends on the voter except through the ring equations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from crypto import kdf
from crypto.ballot import blsag
from crypto.ballot.choice import Choice, encrypted_choice_size, seal_choice
from crypto.ballot.definition import BallotDefinition
from crypto.ballot.keys import BallotKeyPair
from crypto.errors import MalformedData, UnsupportedVersion, UsageError
from crypto.wire import Reader, Writer

__all__ = ["MAX_REVISION", "VOTE_VERSION", "VerifiedVote", "cast_vote", "verify_vote"]

VOTE_VERSION: Final = 1
MAX_REVISION: Final = 2**32 - 1
_MAX_CHOICE_CIPHERTEXT = 4096
_MAX_SIGNATURE = blsag.signature_size(blsag.MAX_RING_SIZE)


@dataclass(frozen=True)
class VerifiedVote:
    """A vote whose ring signature verified against its ballot; what the tally consumes."""

    ballot_id: bytes
    key_image: bytes
    revision: int
    encrypted_choice: bytes
    vote_hash: bytes


def _message(definition: BallotDefinition, revision: int, encrypted_choice: bytes) -> bytes:
    return kdf.digest(
        "ballot-vote",
        definition.tag,
        definition.ballot_id,
        revision.to_bytes(4, "big"),
        encrypted_choice,
    )


def cast_vote(
    definition: BallotDefinition,
    keypair: BallotKeyPair,
    my_index: int,
    choice: Choice,
    rng: Callable[[int], bytes],
    *,
    revision: int = 0,
) -> bytes:
    """A vote item for ``choice``, signed anonymously as roster member ``my_index``.

    ``revision`` must grow with each re-vote of this member in this ballot (the engine
    keeps the counter; it can recover it by finding its own key image among the votes).
    """
    if not 0 <= revision <= MAX_REVISION:
        raise UsageError("revision out of range")
    if not 0 <= my_index < len(definition.roster) or definition.roster[my_index] != keypair.public:
        raise UsageError("my_index does not point at my ballot key in the roster")
    encrypted = seal_choice(definition, choice, rng)
    message = _message(definition, revision, encrypted)
    signature = blsag.sign(message, definition.ring, my_index, keypair.secret, definition.tag, rng)
    return bytes(
        Writer()
        .u8(VOTE_VERSION)
        .fixed(definition.ballot_id, 16)
        .u32(revision)
        .var(encrypted, _MAX_CHOICE_CIPHERTEXT)
        .var(signature.encode(), _MAX_SIGNATURE)
    )


def verify_vote(definition: BallotDefinition, item: bytes) -> VerifiedVote:
    """Parse and verify a vote item against ``definition``.

    Raises ``MalformedData`` (or a subclass) for bad encodings, a foreign ballot id or a
    ciphertext of the wrong size, and ``BadSignature`` when the ring signature fails.
    Whether the choice inside is valid is only known at the tally.
    """
    reader = Reader(item)
    version = reader.u8()
    if version != VOTE_VERSION:
        raise UnsupportedVersion(f"vote version {version}")
    ballot_id = reader.fixed(16)
    revision = reader.u32()
    encrypted = reader.var(_MAX_CHOICE_CIPHERTEXT)
    signature_bytes = reader.var(_MAX_SIGNATURE)
    reader.finish()
    if ballot_id != definition.ballot_id:
        raise MalformedData("vote is for another ballot")
    if len(encrypted) != encrypted_choice_size(definition):
        raise MalformedData("encrypted choice has the wrong size for this ballot")
    signature = blsag.RingSignature.decode(
        signature_bytes, len(definition.roster), definition.ring_suite
    )
    message = _message(definition, revision, encrypted)
    blsag.verify(message, definition.ring, definition.tag, signature)
    return VerifiedVote(
        ballot_id=ballot_id,
        key_image=signature.key_image,
        revision=revision,
        encrypted_choice=encrypted,
        vote_hash=kdf.digest("ballot-vote-hash", item),
    )
