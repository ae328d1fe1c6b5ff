"""Per-sender hash ratchet: derivation, reordering, replay, eviction, storage, secrecy."""

from __future__ import annotations

import contextlib
import json
import struct
from pathlib import Path
from types import MappingProxyType

import nacl.hash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import kdf
from crypto.errors import MalformedData, RemoteError, Replay, TooLarge, UsageError
from crypto.key_schedule import EpochKeys
from crypto.ratchet import MAX_COUNTER, MAX_SKIP, MessageKeys, ReceiveChain, SendChain

VECTORS = json.loads((Path(__file__).parent / "vectors" / "messages.json").read_text())
SECRET = bytes(range(100, 132))
KEYS = EpochKeys.derive(bytes(range(16)), 3, SECRET)


def sent_keys(count: int, sender_index: int = 1) -> list[MessageKeys]:
    chain = SendChain.start(KEYS, sender_index)
    out = []
    for _ in range(count):
        message_keys, chain = chain.next()
        out.append(message_keys)
    return out


def libsodium_kdf(key: bytes, label: str, *parts: bytes, size: int = 32) -> bytes:
    """The KDF of protocol section 0 written out again over libsodium's generichash."""
    name = b"caucus/v1/" + label.encode()
    framed = struct.pack(">H", len(name)) + name
    for part in parts:
        framed += struct.pack(">I", len(part)) + part
    return nacl.hash.blake2b(framed, digest_size=size, key=key, encoder=nacl.encoding.RawEncoder)


# -- derivation ------------------------------------------------------------------------------


def test_chain_matches_the_key_schedule_table() -> None:
    chain_key = kdf.derive(SECRET, "sender-chain", struct.pack(">I", 1))
    for message_keys in sent_keys(5):
        assert message_keys.key == kdf.derive(chain_key, "message-key")
        assert message_keys.nonce == kdf.derive(chain_key, "message-nonce", size=24)
        chain_key = kdf.derive(chain_key, "chain-next")


def test_chain_vector_and_libsodium_agree() -> None:
    vector = VECTORS["chain"]
    group_id, secret = bytes.fromhex(vector["group_id"]), bytes.fromhex(vector["epoch_secret"])
    keys = EpochKeys.derive(group_id, vector["epoch"], secret)
    index = vector["sender_index"]
    # Independent recomputation with PyNaCl's generichash wrapper.
    chain_key = libsodium_kdf(secret, "sender-chain", struct.pack(">I", index))
    assert libsodium_kdf(secret, "sender-data-key") == bytes.fromhex(vector["sender_data_key"])
    chain = SendChain.start(keys, index)
    for step in vector["steps"]:
        assert chain.chain_key == chain_key == bytes.fromhex(step["chain_key"])
        message_keys, chain = chain.next()
        assert message_keys.key == bytes.fromhex(step["message_key"])
        assert message_keys.key == libsodium_kdf(chain_key, "message-key")
        assert message_keys.nonce == bytes.fromhex(step["message_nonce"])
        assert message_keys.nonce == libsodium_kdf(chain_key, "message-nonce", size=24)
        chain_key = libsodium_kdf(chain_key, "chain-next")
    assert chain.chain_key == chain_key == bytes.fromhex(vector["next_chain_key"])


def test_senders_have_distinct_chains() -> None:
    assert sent_keys(1, 0) != sent_keys(1, 1)
    other_epoch = EpochKeys.derive(KEYS.group_id, 4, bytes(32))
    assert SendChain.start(other_epoch, 1).chain_key != SendChain.start(KEYS, 1).chain_key


def test_send_and_receive_chains_agree_in_order() -> None:
    expected = sent_keys(50)
    chain = ReceiveChain.start(KEYS, 1)
    for counter, message_keys in enumerate(expected):
        got, chain = chain.key_for(counter)
        assert got == message_keys
    assert chain.next_counter == 50
    assert len(chain.skipped) == 0


def test_in_order_step_shares_the_skipped_keys() -> None:
    """The common case is O(1): a chain with many skipped keys is not copied per message."""
    chain = ReceiveChain.start(KEYS, 1)
    _, chain = chain.key_for(MAX_SKIP)  # skips MAX_SKIP keys
    assert len(chain.skipped) == MAX_SKIP
    skipped = chain.skipped
    for counter in range(MAX_SKIP + 1, MAX_SKIP + 10_001):
        _, chain = chain.key_for(counter)
        assert chain.skipped is skipped


def test_states_are_frozen_values() -> None:
    chain = ReceiveChain.start(KEYS, 1)
    _, advanced = chain.key_for(3)
    assert chain.next_counter == 0 and len(chain.skipped) == 0
    with pytest.raises(AttributeError):
        advanced.next_counter = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        advanced.skipped[0] = sent_keys(1)[0]  # type: ignore[index]
    plain = ReceiveChain(3, 1, 2, bytes(32), {0: sent_keys(1)[0]})
    assert isinstance(plain.skipped, MappingProxyType)


def test_secrets_stay_out_of_repr() -> None:
    chain = ReceiveChain.start(KEYS, 1)
    message_keys, chain = chain.key_for(2)
    send = SendChain.start(KEYS, 1)
    for value in (chain, send, message_keys):
        text = repr(value)
        for secret in (chain.chain_key, send.chain_key, message_keys.key, message_keys.nonce):
            assert secret.hex() not in text and repr(secret) not in text


def test_invalid_construction_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        MessageKeys(bytes(31), bytes(24))
    with pytest.raises(UsageError):
        SendChain(0, 0, 0, bytes(31))
    with pytest.raises(UsageError):
        SendChain(0, 2**32, 0, bytes(32))
    with pytest.raises(UsageError):
        ReceiveChain(-1, 0, 0, bytes(32))
    with pytest.raises(UsageError):
        ReceiveChain.start(KEYS, 0).key_for(-1)
    with pytest.raises(UsageError):
        ReceiveChain.start(KEYS, 0).key_for(5, max_skip=-1)


def test_sending_chain_is_exhausted_after_the_last_u32_counter() -> None:
    chain = SendChain(3, 1, MAX_COUNTER, bytes(32))
    _, last = chain.next()
    assert last.counter == MAX_COUNTER + 1
    with pytest.raises(UsageError, match="exhausted"):
        last.next()
    assert SendChain.decode(last.encode()) == last


# -- reordering, replay, window ---------------------------------------------------------------


@settings(max_examples=60)
@given(st.permutations(range(12)))
def test_any_order_within_the_window_opens_every_message_once(order: list[int]) -> None:
    expected = sent_keys(12)
    chain = ReceiveChain.start(KEYS, 1)
    for counter in order:
        got, chain = chain.key_for(counter)
        assert got == expected[counter]
    assert len(chain.skipped) == 0
    for counter in order:
        with pytest.raises(Replay):
            chain.key_for(counter)


def test_replay_of_a_used_key() -> None:
    chain = ReceiveChain.start(KEYS, 1)
    _, chain = chain.key_for(0)
    with pytest.raises(Replay):
        chain.key_for(0)
    _, chain = chain.key_for(5)
    _, chain = chain.key_for(3)
    with pytest.raises(Replay):
        chain.key_for(3)
    with pytest.raises(Replay):
        chain.key_for(5)


def test_counter_too_far_ahead_is_rejected() -> None:
    chain = ReceiveChain.start(KEYS, 1)
    with pytest.raises(TooLarge):
        chain.key_for(MAX_SKIP + 1)
    got, advanced = chain.key_for(MAX_SKIP)  # exactly MAX_SKIP skipped: allowed
    assert got == sent_keys(MAX_SKIP + 1)[MAX_SKIP]
    assert len(advanced.skipped) == MAX_SKIP
    with pytest.raises(TooLarge):
        chain.key_for(11, max_skip=10)
    assert isinstance(TooLarge("x"), RemoteError)


def test_skipped_keys_are_bounded_and_the_oldest_are_evicted() -> None:
    expected = sent_keys(40)
    chain = ReceiveChain.start(KEYS, 1)
    _, chain = chain.key_for(4, max_skip=5)  # skips 0..3
    _, chain = chain.key_for(10, max_skip=5)  # skips 5..9: keeps the 5 newest of 0..9 - {4}
    assert list(chain.skipped) == [5, 6, 7, 8, 9]
    for evicted in (0, 1, 2, 3, 4):
        with pytest.raises(Replay):
            chain.key_for(evicted, max_skip=5)
    _, chain = chain.key_for(16, max_skip=5)  # skips 11..15: evicts 5..9
    assert list(chain.skipped) == [11, 12, 13, 14, 15]
    got, chain = chain.key_for(13, max_skip=5)
    assert got == expected[13]
    assert list(chain.skipped) == [11, 12, 14, 15]


@settings(max_examples=50)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=40), st.integers(0, 8))
def test_skipped_never_exceed_max_skip(counters: list[int], max_skip: int) -> None:
    expected = sent_keys(61)
    chain = ReceiveChain.start(KEYS, 1)
    for counter in counters:
        try:
            got, chain = chain.key_for(counter, max_skip=max_skip)
        except (Replay, TooLarge):
            continue
        assert got == expected[counter]
        assert len(chain.skipped) <= max_skip
        assert list(chain.skipped) == sorted(chain.skipped)
        assert all(n < chain.next_counter for n in chain.skipped)


# -- storage and forward secrecy ---------------------------------------------------------------


def test_send_chain_encoding_round_trip() -> None:
    chain = SendChain.start(KEYS, 7)
    for _ in range(3):
        _, chain = chain.next()
    blob = chain.encode()
    assert blob[:2] == b"\x01\x01"
    assert SendChain.decode(blob) == chain


@settings(max_examples=50)
@given(st.lists(st.integers(0, 80), max_size=30))
def test_receive_chain_encoding_round_trip(counters: list[int]) -> None:
    chain = ReceiveChain.start(KEYS, 2)
    for counter in counters:
        with contextlib.suppress(Replay, TooLarge):
            _, chain = chain.key_for(counter, max_skip=50)
        decoded = ReceiveChain.decode(chain.encode())
        assert decoded == chain
        assert list(decoded.skipped) == list(chain.skipped)


def test_decoders_reject_the_other_kind_and_versions() -> None:
    send = SendChain.start(KEYS, 1).encode()
    receive = ReceiveChain.start(KEYS, 1).encode()
    with pytest.raises(MalformedData):
        ReceiveChain.decode(send)
    with pytest.raises(MalformedData):
        SendChain.decode(receive)
    with pytest.raises(MalformedData, match="version"):
        SendChain.decode(b"\x02" + send[1:])
    with pytest.raises(MalformedData, match="version"):
        ReceiveChain.decode(b"\x02" + receive[1:])
    _, skipping = ReceiveChain.start(KEYS, 1).key_for(20)
    with pytest.raises(TooLarge):
        ReceiveChain.decode(skipping.encode(), max_skip=19)


def test_decoder_rejects_skipped_counters_out_of_order_or_ahead() -> None:
    _, chain = ReceiveChain.start(KEYS, 1).key_for(3)
    blob = bytearray(chain.encode())
    head = len(blob) - 3 * 60
    first, second = blob[head : head + 60], blob[head + 60 : head + 120]
    swapped = bytes(blob[:head]) + second + first + bytes(blob[head + 120 :])
    with pytest.raises(MalformedData, match="ascend"):
        ReceiveChain.decode(swapped)
    ahead = bytearray(blob)
    ahead[head + 120 : head + 124] = (4).to_bytes(4, "big")  # == next_counter
    with pytest.raises(MalformedData, match="ascend"):
        ReceiveChain.decode(bytes(ahead))


@given(st.binary(max_size=400))
def test_state_decoders_on_random_bytes_only_raise_remote_errors(blob: bytes) -> None:
    for decode in (SendChain.decode, ReceiveChain.decode):
        with contextlib.suppress(RemoteError):
            decode(blob)


@given(st.data())
def test_state_decoders_on_mutations_only_raise_remote_errors(data: st.DataObject) -> None:
    _, chain = ReceiveChain.start(KEYS, 1).key_for(4)
    for blob in (chain.encode(), SendChain.start(KEYS, 1).encode()):
        mutated = bytearray(blob)
        for _ in range(data.draw(st.integers(1, 4))):
            mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(mutated)))
        for candidate in (bytes(mutated), bytes(mutated[:cut])):
            for decode in (SendChain.decode, ReceiveChain.decode):
                with contextlib.suppress(RemoteError):
                    decode(candidate)


def chain_keys_up_to(counter: int, sender_index: int = 1) -> list[bytes]:
    chain_key = KEYS.sender_chain_start(sender_index)
    out = [chain_key]
    for _ in range(counter):
        chain_key = kdf.derive(chain_key, "chain-next")
        out.append(chain_key)
    return out


@settings(max_examples=40)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=20))
def test_stored_state_holds_no_used_key_and_no_earlier_chain_key(counters: list[int]) -> None:
    """Forward secrecy: what the client stores after a message cannot reopen it."""
    expected = sent_keys(31)
    chain = ReceiveChain.start(KEYS, 1)
    used: set[int] = set()
    for counter in counters:
        try:
            _, chain = chain.key_for(counter)
        except Replay:
            continue
        used.add(counter)
        blob = chain.encode()
        for n in used:
            assert expected[n].key not in blob
            assert expected[n].nonce not in blob
        for earlier in chain_keys_up_to(chain.next_counter)[:-1]:
            assert earlier not in blob
        assert chain.chain_key == chain_keys_up_to(chain.next_counter)[-1]
