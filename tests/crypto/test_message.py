"""Application messages (protocol 4.1): sealing, opening, tampering, impersonation, replay."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import nacl.bindings
import nacl.hash
import nacl.public
import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.content import ContentType, TextBody, parse_content
from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    MalformedData,
    RemoteError,
    Replay,
    TooLarge,
    UnsupportedVersion,
    UsageError,
)
from crypto.identity import Identity
from crypto.items import ItemType, item_header, peek_item
from crypto.key_schedule import EpochKeys
from crypto.message import (
    MAX_BODY,
    MAX_ITEM,
    PADDING_OVERHEAD,
    MessageEnvelope,
    OpenedMessage,
    SealedMessage,
    open_message,
    open_sender_data,
    seal_message,
)
from crypto.padding import bucket_size, pad
from crypto.ratchet import ReceiveChain, SendChain

VECTORS = json.loads((Path(__file__).parent / "vectors" / "messages.json").read_text())

GROUP_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
SECRET = hashlib.sha256(b"epoch 12").digest()
KEYS = EpochKeys.derive(GROUP_ID, 12, SECRET)
LOG_HEAD = hashlib.sha256(b"entry 12").digest()
ZERO = bytes(32)


def member(name: str) -> Identity:
    seed = hashlib.sha256(b"signing " + name.encode()).digest()
    delivery = hashlib.sha256(b"delivery " + name.encode()).digest()
    return Identity.from_keys(nacl.signing.SigningKey(seed), nacl.public.PrivateKey(delivery), 0)


ALICE, BOB, CAROL = member("alice"), member("bob"), member("carol")
ROSTER = [ALICE, BOB, CAROL]  # index = sender index, as in a sorted roster


class CountingRng:
    """Deterministic rng: SHAKE-256 of a seed and a call counter."""

    def __init__(self, seed: bytes = b"rng") -> None:
        self.seed, self.calls = seed, 0

    def __call__(self, size: int) -> bytes:
        self.calls += 1
        return hashlib.shake_256(self.seed + self.calls.to_bytes(8, "big")).digest(size)


def text(words: str) -> bytes:
    return TextBody(bytes(16), words).encode()


def seal(
    chain: SendChain,
    sender: Identity,
    body: bytes = b"",
    prev: bytes = ZERO,
    keys: EpochKeys = KEYS,
) -> SealedMessage:
    return seal_message(
        keys,
        chain,
        sender,
        ContentType.TEXT,
        body or text("hi"),
        1000,
        LOG_HEAD,
        prev,
        CountingRng(),
    )


def receive(
    item: bytes, chain: ReceiveChain, keys: EpochKeys = KEYS, roster: list[Identity] = ROSTER
) -> tuple[OpenedMessage, ReceiveChain]:
    """The client's order of operations; the chain is kept only on success."""
    envelope = open_sender_data(keys, item)
    assert envelope.sender_index == chain.sender_index
    message_keys, next_chain = chain.key_for(envelope.counter)
    message = open_message(keys, envelope, message_keys, roster[envelope.sender_index].public_key)
    return message, next_chain


def sealed_series(count: int, index: int = 1) -> list[SealedMessage]:
    chain, prev, out = SendChain.start(KEYS, index), ZERO, []
    for n in range(count):
        sealed = seal(chain, ROSTER[index], text(f"message {n}"), prev)
        out.append(sealed)
        chain, prev = sealed.chain, sealed.message_hash
    return out


def open_fully(item: bytes, index: int = 1) -> OpenedMessage:
    message, _ = receive(item, ReceiveChain.start(KEYS, index))
    return message


# -- round trip ------------------------------------------------------------------------------


def test_round_trip_carries_every_field() -> None:
    body = text("Strike vote on Friday")
    sealed = seal(SendChain.start(KEYS, 1), BOB, body, prev=b"\x07" * 32)
    assert sealed.chain.counter == 1
    message = open_fully(sealed.item)
    assert message.content_type == ContentType.TEXT
    assert message.sent_at == 1000
    assert message.log_head == LOG_HEAD
    assert message.prev_message == b"\x07" * 32
    assert message.body == body
    assert message.message_hash == sealed.message_hash
    assert message.message_id == sealed.message_hash[:16]
    assert message.sender_pk == BOB.public_key
    assert (message.epoch, message.sender_index, message.counter) == (12, 1, 0)
    assert parse_content(message.content_type, message.body) == TextBody(
        bytes(16), "Strike vote on Friday"
    )
    assert "Strike" not in repr(message)


def test_item_header_is_what_peek_reports() -> None:
    item = seal(SendChain.start(KEYS, 1), BOB).item
    assert peek_item(item) == (2, ItemType.MESSAGE, 12)
    assert item[:10] == item_header(ItemType.MESSAGE, 12)


def test_series_chains_prev_message_and_opens_in_order() -> None:
    series = sealed_series(5)
    chain, prev = ReceiveChain.start(KEYS, 1), ZERO
    for n, sealed in enumerate(series):
        message, chain = receive(sealed.item, chain)
        assert message.counter == n
        assert message.prev_message == prev
        assert parse_content(message.content_type, message.body) == TextBody(
            bytes(16), f"message {n}"
        )
        prev = message.message_hash


def test_sender_data_nonce_is_random_per_item() -> None:
    chain = SendChain.start(KEYS, 1)
    one = seal_message(KEYS, chain, BOB, 1, b"x", 1, LOG_HEAD, ZERO, CountingRng(b"a"))
    two = seal_message(KEYS, chain, BOB, 1, b"x", 1, LOG_HEAD, ZERO, CountingRng(b"b"))
    assert one.item[10:58] != two.item[10:58]
    assert one.item[62:] == two.item[62:]  # same key, same plaintext: only the sender data differs
    assert one.message_hash == two.message_hash


@pytest.mark.parametrize("size", [0, 1, 32, 33, 3872, 3873, 10_000, 100_000, MAX_BODY])
def test_item_sizes_are_buckets(size: int) -> None:
    sealed = seal_message(
        KEYS, SendChain.start(KEYS, 1), BOB, 200, b"b" * size, 1, LOG_HEAD, ZERO, CountingRng()
    )
    assert len(sealed.item) == bucket_size(len(sealed.item)) <= MAX_ITEM
    assert len(sealed.item) == bucket_size(PADDING_OVERHEAD + 4 + 142 + size)
    assert open_fully(sealed.item).body == b"b" * size


def test_largest_body_fills_the_relay_limit_exactly() -> None:
    sealed = seal(SendChain.start(KEYS, 1), BOB, b"\x01" * MAX_BODY)
    assert len(sealed.item) == MAX_ITEM
    with pytest.raises(TooLarge):
        seal(SendChain.start(KEYS, 1), BOB, b"\x01" * (MAX_BODY + 1))
    with pytest.raises(TooLarge):
        open_sender_data(KEYS, sealed.item + b"\x00")


def test_sealing_preconditions_are_usage_errors() -> None:
    chain = SendChain.start(KEYS, 1)
    other_epoch = EpochKeys.derive(GROUP_ID, 13, bytes(32))
    with pytest.raises(UsageError):
        seal(chain, BOB, keys=other_epoch)
    with pytest.raises(UsageError):
        seal_message(KEYS, chain, BOB, 1, b"x", 1, LOG_HEAD[:31], ZERO, CountingRng())
    with pytest.raises(UsageError):
        seal_message(KEYS, chain, BOB, 256, b"x", 1, LOG_HEAD, ZERO, CountingRng())
    with pytest.raises(UsageError):
        seal_message(KEYS, chain, BOB, 1, b"x", 1, LOG_HEAD, ZERO, lambda n: bytes(n - 1))


def test_opening_preconditions_are_usage_errors() -> None:
    sealed = seal(SendChain.start(KEYS, 1), BOB)
    envelope = open_sender_data(KEYS, sealed.item)
    message_keys, _ = ReceiveChain.start(KEYS, 1).key_for(0)
    other_epoch = EpochKeys.derive(GROUP_ID, 13, SECRET)
    with pytest.raises(UsageError):
        open_message(other_epoch, envelope, message_keys, BOB.public_key)
    with pytest.raises(UsageError):
        open_message(KEYS, envelope, message_keys, BOB.public_key[:31])


# -- tampering ------------------------------------------------------------------------------


def flip(item: bytes, position: int, mask: int = 0x01) -> bytes:
    return item[:position] + bytes([item[position] ^ mask]) + item[position + 1 :]


@pytest.mark.parametrize(
    ("position", "error"),
    [
        (0, UnsupportedVersion),  # version
        (1, MalformedData),  # type: a commit
        (9, DecryptionFailed),  # epoch: not this epoch
        (10, DecryptionFailed),  # sender-data nonce
        (33, DecryptionFailed),
        (34, DecryptionFailed),  # sender data
        (57, DecryptionFailed),  # its tag
        (61, MalformedData),  # ciphertext length
    ],
)
def test_tampered_header_fails_before_any_key_is_used(position: int, error: type) -> None:
    item = seal(SendChain.start(KEYS, 1), BOB).item
    with pytest.raises(error) as raised:
        open_sender_data(KEYS, flip(item, position))
    assert KEYS.sender_data_key.hex() not in str(raised.value)


@pytest.mark.parametrize("position", [62, 100, 200, -17, -1])
def test_tampered_ciphertext_fails_and_leaves_the_chain_usable(position: int) -> None:
    sealed = seal(SendChain.start(KEYS, 1), BOB)
    chain = ReceiveChain.start(KEYS, 1)
    tampered = flip(sealed.item, position % len(sealed.item))
    envelope = open_sender_data(KEYS, tampered)
    message_keys, _discarded = chain.key_for(envelope.counter)
    with pytest.raises(DecryptionFailed):
        open_message(KEYS, envelope, message_keys, BOB.public_key)
    # The client kept ``chain``: the genuine item still opens.
    message, _ = receive(sealed.item, chain)
    assert message.counter == 0


def test_epoch_in_the_header_is_authenticated() -> None:
    """A relay that relabels an item into another epoch cannot get it opened there."""
    item = seal(SendChain.start(KEYS, 1), BOB).item
    relabelled = item[:2] + struct.pack(">Q", 13) + item[10:]
    same_secret_next_epoch = EpochKeys.derive(GROUP_ID, 13, SECRET)
    with pytest.raises(DecryptionFailed):
        open_sender_data(same_secret_next_epoch, relabelled)
    with pytest.raises(DecryptionFailed):
        open_sender_data(same_secret_next_epoch, item)


def test_item_of_another_group_does_not_open() -> None:
    item = seal(SendChain.start(KEYS, 1), BOB).item
    other_group = EpochKeys.derive(bytes(16), 12, SECRET)  # same secret, other group
    with pytest.raises(DecryptionFailed):
        open_sender_data(other_group, item)
    other_secret = EpochKeys.derive(GROUP_ID, 12, bytes(32))
    with pytest.raises(DecryptionFailed):
        open_sender_data(other_secret, item)
    # Even past the sender data, the group id is in the ciphertext's associated data.
    envelope = open_sender_data(KEYS, item)
    message_keys, _ = ReceiveChain.start(KEYS, 1).key_for(0)
    with pytest.raises(DecryptionFailed):
        open_message(other_group, envelope, message_keys, BOB.public_key)


def test_swapped_sender_data_does_not_open() -> None:
    """Sender index and counter are bound into the ciphertext's associated data."""
    bob = seal(SendChain.start(KEYS, 1), BOB).item
    envelope = open_sender_data(KEYS, bob)
    for index, counter in ((2, 0), (1, 1)):
        forged = MessageEnvelope(12, index, counter, envelope.ciphertext)
        message_keys, _ = ReceiveChain.start(KEYS, 1).key_for(0)
        with pytest.raises(DecryptionFailed):
            open_message(KEYS, forged, message_keys, BOB.public_key)


@settings(max_examples=200)
@given(st.data())
def test_any_single_byte_change_is_detected(data: st.DataObject) -> None:
    item = seal(SendChain.start(KEYS, 1), BOB).item
    position = data.draw(st.integers(0, len(item) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != item[position]))
    tampered = item[:position] + bytes([value]) + item[position + 1 :]
    with pytest.raises(RemoteError):
        open_fully(tampered)


# -- impersonation, replay, reordering ---------------------------------------------------------


def test_member_cannot_post_as_another_member() -> None:
    """Carol knows the epoch secret, so she can derive Bob's chain, but not sign as Bob."""
    forged = seal(SendChain.start(KEYS, 1), CAROL, text("I, Bob, vote no"))
    chain = ReceiveChain.start(KEYS, 1)
    envelope = open_sender_data(KEYS, forged.item)
    assert envelope.sender_index == 1
    message_keys, _discarded = chain.key_for(envelope.counter)
    with pytest.raises(BadSignature):
        open_message(KEYS, envelope, message_keys, BOB.public_key)
    # Bob's real message with the same counter still opens from the kept chain.
    genuine = seal(SendChain.start(KEYS, 1), BOB, text("I vote yes"))
    message, _ = receive(genuine.item, chain)
    assert message.sender_pk == BOB.public_key


def test_signature_binds_epoch_and_group() -> None:
    """A signed inner plaintext moved to another epoch fails the signature, not just AEAD."""
    other = EpochKeys.derive(GROUP_ID, 13, SECRET)
    sealed = seal(SendChain.start(other, 1), BOB, keys=other)
    envelope = open_sender_data(other, sealed.item)
    message_keys, _ = ReceiveChain.start(other, 1).key_for(0)
    padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        envelope.ciphertext,
        GROUP_ID + item_header(ItemType.MESSAGE, 13) + struct.pack(">II", 1, 0),
        message_keys.nonce,
        message_keys.key,
    )
    moved = build_item(KEYS, 1, 0, padded)
    with pytest.raises(BadSignature):
        open_fully(moved)


def test_replayed_item_is_rejected() -> None:
    item = seal(SendChain.start(KEYS, 1), BOB).item
    chain = ReceiveChain.start(KEYS, 1)
    _, chain = receive(item, chain)
    with pytest.raises(Replay):
        receive(item, chain)


def test_reordering_within_the_window() -> None:
    series = sealed_series(6)
    chain = ReceiveChain.start(KEYS, 1)
    for n in (5, 2, 0, 4, 1, 3):
        message, chain = receive(series[n].item, chain)
        assert message.counter == n
        assert message.message_hash == series[n].message_hash
    for sealed in series:
        with pytest.raises(Replay):
            receive(sealed.item, chain)


def test_counter_beyond_the_window_is_too_large() -> None:
    chain = SendChain.start(KEYS, 1)
    for _ in range(1001):
        _, chain = chain.next()
    far = seal(chain, BOB).item
    with pytest.raises(TooLarge):
        receive(far, ReceiveChain.start(KEYS, 1))
    _, receiver = ReceiveChain.start(KEYS, 1).key_for(0)
    message, _ = receive(far, receiver)  # exactly 1,000 skipped from counter 1
    assert message.counter == 1001


# -- strict parsing ------------------------------------------------------------------------------


def build_item(keys: EpochKeys, index: int, counter: int, padded: bytes) -> bytes:
    """An item written out from protocol 4.1 with raw libsodium calls (no crypto.message)."""
    header = item_header(ItemType.MESSAGE, keys.epoch)
    sd_nonce = b"\x5a" * 24
    sender_data = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        struct.pack(">II", index, counter), keys.group_id + header, sd_nonce, keys.sender_data_key
    )
    message_keys, _ = ReceiveChain.start(keys, index).key_for(counter)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded,
        keys.group_id + header + struct.pack(">II", index, counter),
        message_keys.nonce,
        message_keys.key,
    )
    return header + sd_nonce + sender_data + struct.pack(">I", len(ciphertext)) + ciphertext


def signed_inner(
    body: bytes, version: int = 1, declared: int | None = None, signer: Identity = BOB
) -> bytes:
    length = len(body) if declared is None else declared
    unsigned = struct.pack(">BBQ32s32sI", version, 1, 5, LOG_HEAD, ZERO, length) + body
    signature = signer.sign(
        "message",
        GROUP_ID,
        struct.pack(">Q", 12),
        struct.pack(">I", 1),
        struct.pack(">I", 0),
        unsigned,
    )
    return unsigned + signature


def test_hand_built_item_opens() -> None:
    message = open_fully(build_item(KEYS, 1, 0, pad(signed_inner(b"hand"), PADDING_OVERHEAD)))
    assert message.body == b"hand"


@pytest.mark.parametrize(
    ("padded", "error"),
    [
        (pad(signed_inner(b"x", version=2), PADDING_OVERHEAD), UnsupportedVersion),
        (pad(signed_inner(b"x", declared=2), PADDING_OVERHEAD), MalformedData),
        (pad(signed_inner(b"x", declared=0), PADDING_OVERHEAD), MalformedData),
        (pad(signed_inner(b"x", declared=MAX_BODY + 1), PADDING_OVERHEAD), TooLarge),
        (pad(signed_inner(b"x")[:-1], PADDING_OVERHEAD), MalformedData),
        (pad(signed_inner(b"x") + b"\x00", PADDING_OVERHEAD), MalformedData),
        (pad(b"short", PADDING_OVERHEAD), MalformedData),
        (pad(signed_inner(b"x")), MalformedData),  # bucketed without the item overhead
        (pad(signed_inner(b"x"), PADDING_OVERHEAD)[:-1] + b"\x01", MalformedData),
        (pad(signed_inner(b"x", signer=CAROL), PADDING_OVERHEAD), BadSignature),
    ],
)
def test_inner_plaintext_is_parsed_strictly(padded: bytes, error: type) -> None:
    with pytest.raises(error):
        open_fully(build_item(KEYS, 1, 0, padded))


@given(st.binary(max_size=700))
def test_random_items_only_raise_remote_errors(blob: bytes) -> None:
    for candidate in (blob, item_header(ItemType.MESSAGE, 12) + blob):
        with pytest.raises(RemoteError):
            open_fully(candidate)


@settings(max_examples=150)
@given(st.data())
def test_random_inner_plaintexts_only_raise_remote_errors(data: st.DataObject) -> None:
    """The parser behind the AEAD, reached with correctly encrypted garbage."""
    inner = bytearray(signed_inner(data.draw(st.binary(max_size=300))))
    for _ in range(data.draw(st.integers(0, 3))):
        inner[data.draw(st.integers(0, len(inner) - 1))] = data.draw(st.integers(0, 255))
    raw = data.draw(
        st.one_of(st.just(pad(bytes(inner), PADDING_OVERHEAD)), st.binary(max_size=600))
    )
    try:
        message = open_fully(build_item(KEYS, 1, 0, raw))
    except RemoteError:
        return
    assert raw == pad(signed_inner(message.body), PADDING_OVERHEAD)


# -- known-answer vector ---------------------------------------------------------------------


def test_known_answer_message_vector() -> None:
    vector = VECTORS["message"]
    keys = EpochKeys.derive(
        bytes.fromhex(vector["group_id"]), vector["epoch"], bytes.fromhex(vector["epoch_secret"])
    )
    sender = Identity.from_keys(
        nacl.signing.SigningKey(bytes.fromhex(vector["identity_seed"])),
        nacl.public.PrivateKey(bytes.fromhex(vector["delivery_seed"])),
        1_700_000_000_000,
    )
    assert sender.public_key.hex() == vector["sender_pk"]
    chain = SendChain.start(keys, vector["sender_index"])
    while chain.counter < vector["counter"]:
        _, chain = chain.next()
    sd_nonce = bytes.fromhex(vector["sd_nonce"])
    sealed = seal_message(
        keys,
        chain,
        sender,
        vector["content_type"],
        bytes.fromhex(vector["body"]),
        vector["sent_at"],
        bytes.fromhex(vector["log_head"]),
        bytes.fromhex(vector["prev_message"]),
        lambda n: sd_nonce,
    )
    item = bytes.fromhex(vector["item"])
    assert sealed.item == item
    assert sealed.message_hash.hex() == vector["message_hash"]
    envelope = open_sender_data(keys, item)
    message_keys, _ = ReceiveChain.start(keys, vector["sender_index"]).key_for(vector["counter"])
    message = open_message(keys, envelope, message_keys, sender.public_key)
    assert message.body.hex() == vector["body"]
    assert parse_content(message.content_type, message.body) == TextBody(
        bytes(16), "hello, caucus!\n"
    )


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    """HChaCha20 (draft-irtf-cfrg-xchacha section 2.2) in plain Python."""

    def rotl(value: int, count: int) -> int:
        return ((value << count) & 0xFFFFFFFF) | (value >> (32 - count))

    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += [*struct.unpack("<8I", key), *struct.unpack("<4I", nonce16)]

    def quarter(a: int, b: int, c: int, d: int) -> None:
        for x, y, z, shift in ((a, b, d, 16), (c, d, b, 12), (a, b, d, 8), (c, d, b, 7)):
            state[x] = (state[x] + state[y]) & 0xFFFFFFFF
            state[z] = rotl(state[z] ^ state[x], shift)

    columns_then_diagonals = (
        (0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
        (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14),
    )  # fmt: skip
    for _ in range(10):
        for indexes in columns_then_diagonals:
            quarter(*indexes)
    return struct.pack("<8I", *state[0:4], *state[12:16])


def xchacha_decrypt_openssl(key: bytes, nonce: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    """XChaCha20-Poly1305 = ChaCha20-Poly1305 (OpenSSL, via pyca/cryptography) under the
    HChaCha20 subkey, with nonce ``0^4 | nonce[16:24]``: independent of libsodium."""
    return ChaCha20Poly1305(hchacha20(key, nonce[:16])).decrypt(
        bytes(4) + nonce[16:], ciphertext, ad
    )


def test_hchacha20_matches_the_draft_vector() -> None:
    """draft-irtf-cfrg-xchacha-03 section 2.2.1."""
    nonce = bytes.fromhex("000000090000004a0000000031415927")
    assert hchacha20(bytes(range(32)), nonce).hex() == (
        "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"
    )


def test_message_vector_checked_by_independent_code() -> None:
    """Open the vector item from the protocol text alone: AEAD through OpenSSL, hand
    parsing, BLAKE2b through PyNaCl's generichash and Ed25519 through pyca/cryptography."""
    vector = VECTORS["message"]
    item = bytes.fromhex(vector["item"])
    group_id, secret = bytes.fromhex(vector["group_id"]), bytes.fromhex(vector["epoch_secret"])

    def kdf(key: bytes, label: str, *parts: bytes, size: int = 32) -> bytes:
        return nacl.hash.blake2b(
            framed(label, *parts), digest_size=size, key=key, encoder=nacl.encoding.RawEncoder
        )

    def framed(label: str, *parts: bytes) -> bytes:
        name = b"caucus/v1/" + label.encode()
        return (
            struct.pack(">H", len(name))
            + name
            + b"".join(struct.pack(">I", len(p)) + p for p in parts)
        )

    version, kind, epoch = struct.unpack(">BBQ", item[:10])
    assert (version, kind, epoch) == (2, 1, vector["epoch"])
    assert item[10:34].hex() == vector["sd_nonce"]
    sender_data = xchacha_decrypt_openssl(
        kdf(secret, "sender-data-key"), item[10:34], item[34:58], group_id + item[:10]
    )
    index, counter = struct.unpack(">II", sender_data)
    assert (index, counter) == (vector["sender_index"], vector["counter"])
    (ct_length,) = struct.unpack(">I", item[58:62])
    assert ct_length == len(item) - 62
    chain_key = kdf(secret, "sender-chain", struct.pack(">I", index))
    for _ in range(counter):
        chain_key = kdf(chain_key, "chain-next")
    padded = xchacha_decrypt_openssl(
        kdf(chain_key, "message-key"),
        kdf(chain_key, "message-nonce", size=24),
        item[62:],
        group_id + item[:10] + sender_data,
    )
    (inner_length,) = struct.unpack(">I", padded[:4])
    assert padded[4 + inner_length :] == bytes(len(padded) - 4 - inner_length)
    assert len(item) == 512  # 62 + 16 + 4 + 142 + 35 bytes of body, padded to 512
    inner = padded[4 : 4 + inner_length]
    assert inner[0] == 1 and inner[1] == vector["content_type"]
    assert inner[10:42].hex() == vector["log_head"]
    assert inner[42:74].hex() == vector["prev_message"]
    (body_length,) = struct.unpack(">I", inner[74:78])
    assert inner[78 : 78 + body_length].hex() == vector["body"]
    signature = inner[78 + body_length :]
    assert len(signature) == 64
    signed = framed(
        "message",
        group_id,
        struct.pack(">Q", epoch),
        struct.pack(">I", index),
        struct.pack(">I", counter),
        inner[:-64],
    )
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(vector["sender_pk"])).verify(signature, signed)
    message_hash = nacl.hash.blake2b(
        framed("message-hash", group_id, signature),
        digest_size=32,
        encoder=nacl.encoding.RawEncoder,
    )
    assert message_hash.hex() == vector["message_hash"]
