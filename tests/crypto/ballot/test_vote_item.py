"""The anonymous vote item (protocol 4.3) and the ballot notices (content 17, 19).

A vote item must carry nothing of its voter: a key every member of the epoch derives, a
random nonce, bucket padding so every vote of a ballot has one size.  Since version 2 it
has a message's header, layout and size buckets, and only a member tells it apart, after
decryption.  Opening is strict.
"""

from __future__ import annotations

import os

import nacl.bindings
import pytest

from crypto.ballot import Answer, BallotKind, NumericChoice, YesNoChoice, cast_vote
from crypto.ballot.blsag import MAX_RING_SIZE, signature_size
from crypto.ballot.transport import (
    MAX_VOTE_ITEM,
    VOTE_PADDING_OVERHEAD,
    BallotNotice,
    inner_item_type,
    open_vote_item,
    peek_ballot_id,
    reveal_ballot_id,
    seal_vote_item,
    vote_key,
)
from crypto.errors import (
    DecryptionFailed,
    MalformedData,
    RemoteError,
    TooLarge,
    UnsupportedVersion,
    UsageError,
)
from crypto.identity import Identity
from crypto.items import ItemType, item_header, peek_item
from crypto.key_schedule import EpochKeys
from crypto.message import seal_message
from crypto.padding import bucket_size
from crypto.ratchet import SendChain
from tests.crypto.ballot.support import GROUP_ID, make_ballot, members, seeded_rng
from tests.crypto.group_support import libsodium_hash

RNG = seeded_rng("vote-item")
KEYS = members(4, RNG)
DEFINITION, REVEAL = make_ballot(BallotKind.YES_NO_ABSTAIN, KEYS, RNG)
SECRET = bytes(range(32))
EPOCH = EpochKeys.derive(GROUP_ID, 7, SECRET)


def vote(index: int, answer: Answer = Answer.YES) -> bytes:
    return cast_vote(DEFINITION, KEYS[index], index, YesNoChoice(answer), os.urandom)


def test_seal_and_open() -> None:
    cast = vote(1)
    item = seal_vote_item(EPOCH, cast, os.urandom)
    assert peek_item(item) == (2, ItemType.MESSAGE, 7)
    assert inner_item_type(EPOCH, item) is ItemType.VOTE
    assert open_vote_item(EPOCH, item) == cast
    assert peek_ballot_id(open_vote_item(EPOCH, item)) == DEFINITION.ballot_id


def test_every_vote_of_a_ballot_has_one_bucket_size() -> None:
    sizes = {len(seal_vote_item(EPOCH, vote(i, a), os.urandom)) for i in range(4) for a in Answer}
    (size,) = sizes
    assert size == bucket_size(size)


def test_two_items_of_one_vote_share_no_bytes_beyond_the_header() -> None:
    cast = vote(0)
    first, second = (seal_vote_item(EPOCH, cast, os.urandom) for _ in range(2))
    assert first[:10] == second[:10]
    assert first[10:34] != second[10:34]  # fresh nonce
    assert first[34:58] != second[34:58]
    assert first[62:] != second[62:]


def test_vote_key_is_the_protocol_kdf_and_separate_from_other_epoch_keys() -> None:
    """Recomputed through libsodium from the protocol text, not through crypto/kdf.py."""
    assert vote_key(EPOCH) == libsodium_hash("vote-key", key=SECRET)
    assert vote_key(EPOCH) not in {EPOCH.mailbox_cap, EPOCH.commit_key, EPOCH.sender_data_key}


def test_an_item_of_another_epoch_or_group_does_not_open() -> None:
    item = seal_vote_item(EPOCH, vote(2), os.urandom)
    with pytest.raises(DecryptionFailed, match="another epoch"):
        open_vote_item(EpochKeys.derive(GROUP_ID, 8, SECRET), item)
    with pytest.raises(DecryptionFailed):
        open_vote_item(EpochKeys.derive(bytes(16), 7, SECRET), item)
    with pytest.raises(DecryptionFailed):
        open_vote_item(EpochKeys.derive(GROUP_ID, 7, bytes(32)), item)


def test_every_flipped_byte_is_rejected() -> None:
    item = seal_vote_item(EPOCH, vote(3), os.urandom)
    for position in range(len(item)):
        tampered = bytearray(item)
        tampered[position] ^= 0x01
        with pytest.raises(RemoteError):
            open_vote_item(EPOCH, bytes(tampered))


def test_header_errors_name_the_problem() -> None:
    item = seal_vote_item(EPOCH, vote(0), os.urandom)
    with pytest.raises(UnsupportedVersion, match="version 1; this client speaks version 2"):
        open_vote_item(EPOCH, b"\x01" + item[1:])
    with pytest.raises(MalformedData, match="not a message or vote"):
        open_vote_item(EPOCH, item[:1] + bytes([ItemType.COMMIT]) + item[2:])
    with pytest.raises(MalformedData, match="length"):
        open_vote_item(EPOCH, item + b"\x00")
    with pytest.raises(MalformedData):
        open_vote_item(EPOCH, item[: VOTE_PADDING_OVERHEAD - 1])
    with pytest.raises(TooLarge):
        open_vote_item(EPOCH, item + bytes(MAX_VOTE_ITEM))


def _raw_item(padded: bytes, marker: bytes = b"\x04" + bytes(7)) -> bytes:
    """An item around a padded plaintext of our choosing, built from the protocol text
    (section 4.3) under the real vote key; the body nonce through libsodium's BLAKE2b."""
    header = item_header(ItemType.MESSAGE, EPOCH.epoch)
    nonce = os.urandom(24)
    key = vote_key(EPOCH)
    body_nonce = libsodium_hash("vote-nonce", nonce, key=key, size=24)
    encrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
    body = encrypt(padded, GROUP_ID + header, body_nonce, key)
    return (
        header
        + nonce
        + encrypt(marker, GROUP_ID + header, nonce, key)
        + len(body).to_bytes(4, "big")
        + body
    )


def test_the_item_is_built_as_the_protocol_says() -> None:
    cast = vote(2)
    exact = len(cast).to_bytes(4, "big") + cast
    fill = bucket_size(VOTE_PADDING_OVERHEAD + len(exact)) - VOTE_PADDING_OVERHEAD - len(exact)
    assert open_vote_item(EPOCH, _raw_item(exact + bytes(fill))) == cast
    with pytest.raises(MalformedData, match="marker"):
        open_vote_item(EPOCH, _raw_item(exact + bytes(fill), marker=b"\x01" + bytes(7)))


def test_a_message_is_not_a_vote_and_garbage_is_neither() -> None:
    message = _message_item(b"hello")
    assert inner_item_type(EPOCH, message) is ItemType.MESSAGE
    with pytest.raises(DecryptionFailed, match="not a vote"):
        open_vote_item(EPOCH, message)
    stranger = EpochKeys.derive(GROUP_ID, 7, bytes(32))
    with pytest.raises(DecryptionFailed):
        inner_item_type(stranger, message)
    with pytest.raises(DecryptionFailed):
        inner_item_type(stranger, seal_vote_item(EPOCH, vote(0), os.urandom))


def _message_item(text: bytes) -> bytes:
    identity = Identity.generate(os.urandom, 0)
    chain = SendChain.start(EPOCH, 0)
    return seal_message(
        EPOCH,
        chain,
        identity,
        1,
        bytes(16) + len(text).to_bytes(4, "big") + text,
        0,
        bytes(32),
        bytes(32),
        os.urandom,
    ).item


def test_a_vote_looks_like_a_message_to_the_relay() -> None:
    """Same header bytes, same layout (a valid length field at offset 58), and the same
    size as a message whose body is about as long as the vote."""
    cast = vote(1)
    item = seal_vote_item(EPOCH, cast, os.urandom)
    message = _message_item(os.urandom(len(cast) - 40))
    assert len(item) == len(message)
    assert item[:10] == message[:10]
    assert int.from_bytes(item[58:62], "big") == len(item) - 62
    assert int.from_bytes(message[58:62], "big") == len(message) - 62
    assert inner_item_type(EPOCH, message) is ItemType.MESSAGE
    assert inner_item_type(EPOCH, item) is ItemType.VOTE


def test_a_version_1_vote_is_refused_as_a_version_we_do_not_speak() -> None:
    old = bytes((1, 4)) + (7).to_bytes(8, "big") + os.urandom(300)
    with pytest.raises(UnsupportedVersion, match="version 1; this client speaks version 2"):
        peek_item(old)


def test_padding_is_checked_so_each_vote_has_one_encoding() -> None:
    cast = vote(1)
    exact = len(cast).to_bytes(4, "big") + cast
    fill = bucket_size(VOTE_PADDING_OVERHEAD + len(exact)) - VOTE_PADDING_OVERHEAD - len(exact)
    assert open_vote_item(EPOCH, _raw_item(exact + bytes(fill))) == cast
    with pytest.raises(MalformedData, match="not zero"):
        open_vote_item(EPOCH, _raw_item(exact + b"\x01" + bytes(fill - 1)))
    with pytest.raises(MalformedData, match="bucket"):
        open_vote_item(EPOCH, _raw_item(exact + bytes(fill + 256)))


def test_the_largest_ring_fits_in_one_relay_item() -> None:
    numeric, _ = make_ballot(BallotKind.NUMERIC, KEYS, RNG, numeric=(0, 10, 5))
    small = cast_vote(numeric, KEYS[0], 0, NumericChoice(3), os.urandom)
    largest = len(small) - signature_size(len(KEYS)) + signature_size(MAX_RING_SIZE)
    item = seal_vote_item(EPOCH, os.urandom(largest + 300), os.urandom)
    assert len(item) <= MAX_VOTE_ITEM


def test_sealing_refuses_our_own_mistakes() -> None:
    with pytest.raises(UsageError):
        seal_vote_item(EPOCH, b"", os.urandom)
    with pytest.raises(UsageError):
        seal_vote_item(EPOCH, vote(0), lambda n: bytes(n - 1))


def test_peeks_are_strict() -> None:
    with pytest.raises(MalformedData):
        peek_ballot_id(b"\x01" + bytes(15))
    with pytest.raises(UnsupportedVersion):
        peek_ballot_id(b"\x02" + bytes(16))
    release = REVEAL.encode_release(DEFINITION.ballot_id)
    assert reveal_ballot_id(release) == DEFINITION.ballot_id
    with pytest.raises(UnsupportedVersion):
        reveal_ballot_id(b"\x09" + release[1:])
    with pytest.raises(MalformedData):
        reveal_ballot_id(release[:16])


def test_notices_round_trip_strictly() -> None:
    notice = BallotNotice(DEFINITION.ballot_id)
    encoded = notice.encode()
    assert encoded == b"\x01" + DEFINITION.ballot_id
    assert BallotNotice.decode(encoded) == notice
    for bad in (encoded[:-1], encoded + b"\x00", b"\x02" + encoded[1:], b""):
        with pytest.raises(MalformedData):
            BallotNotice.decode(bad)
    with pytest.raises(UsageError):
        BallotNotice(bytes(15))
