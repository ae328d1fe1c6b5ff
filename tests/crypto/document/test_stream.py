"""Chunked document encryption: round trips at chunk boundaries, blobs padded to Padme
buckets, and every way a relay or a member could cut, reorder, tamper with, extend or
re-pad a blob is refused."""

from __future__ import annotations

import io
import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
    crypto_secretstream_xchacha20poly1305_TAG_PUSH,
)

from crypto import kdf
from crypto.document import stream
from crypto.document.stream import (
    CHUNK_SIZE,
    FIRST_CHUNK_OVERHEAD,
    MAX_CHUNK_BYTES,
    DocumentKeys,
    StreamDecryptor,
    chunk_count,
    ciphertext_size,
    decrypt_stream,
    encrypt_stream,
    padded_size,
    split_ciphertext,
)
from crypto.errors import (
    DecryptionFailed,
    MalformedData,
    RemoteError,
    TooLarge,
    UnsupportedVersion,
    UsageError,
)
from tests.crypto.document.support import DOCUMENT_ID, counter_rng, fixed, pattern

KEY = fixed("content key")
VERSION = 3
SIZES = [0, 1, 100, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 5]


def encrypt(data: bytes, key: bytes = KEY, doc: bytes = DOCUMENT_ID, version: int = VERSION):
    return list(encrypt_stream(key, doc, version, io.BytesIO(data)))


FOUR_SIZE = 3 * CHUNK_SIZE + 5


def decrypt(
    chunks,
    key: bytes = KEY,
    doc: bytes = DOCUMENT_ID,
    version: int = VERSION,
    size: int = FOUR_SIZE,
) -> bytes:
    return b"".join(decrypt_stream(key, doc, version, size, chunks))


FOUR = pattern(FOUR_SIZE)
FOUR_CHUNKS = encrypt(FOUR)


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_at_chunk_boundaries(size: int) -> None:
    data = FOUR[:size] if size <= len(FOUR) else pattern(size)
    chunks = encrypt(data)
    assert len(chunks) == chunk_count(size)
    assert sum(map(len, chunks)) == ciphertext_size(size)
    assert all(len(chunk) <= MAX_CHUNK_BYTES for chunk in chunks)
    assert chunks[0][0] == stream.STREAM_VERSION == 2
    assert decrypt(chunks, size=size) == data


def test_chunk_count_and_sizes() -> None:
    assert chunk_count(0) == 1
    assert chunk_count(CHUNK_SIZE) == 1
    assert chunk_count(CHUNK_SIZE + 1) == 2
    assert chunk_count(stream.MAX_DOCUMENT_SIZE) == stream.MAX_CHUNKS == 126
    assert padded_size(stream.MAX_DOCUMENT_SIZE) == stream.MAX_DOCUMENT_SIZE
    assert ciphertext_size(stream.MAX_DOCUMENT_SIZE) <= 128 * 2**20  # relay blob limit
    assert FIRST_CHUNK_OVERHEAD + CHUNK_SIZE <= MAX_CHUNK_BYTES == CHUNK_SIZE + 64
    for bad in (-1, stream.MAX_DOCUMENT_SIZE + 1):
        with pytest.raises(UsageError):
            chunk_count(bad)


def test_iterable_source_of_any_piece_sizes_gives_the_same_chunking() -> None:
    pieces = [FOUR[i : i + 333_333] for i in range(0, len(FOUR), 333_333)]
    chunks = list(encrypt_stream(KEY, DOCUMENT_ID, VERSION, pieces))
    decryptor = StreamDecryptor(KEY, DOCUMENT_ID, VERSION, FOUR_SIZE)
    sizes = [len(decryptor.feed(chunk)) for chunk in chunks]
    decryptor.finish()
    assert sizes == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE, 5]
    assert decryptor.size == len(FOUR) and decryptor.chunks_read == 4 and decryptor.finished


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=4096), cuts=st.lists(st.integers(0, 4096), max_size=8))
def test_round_trip_any_split(data: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    chunks = list(encrypt_stream(KEY, DOCUMENT_ID, VERSION, pieces))
    assert len(chunks) == 1
    assert decrypt(chunks, size=len(data)) == data


def test_split_ciphertext_recovers_relay_chunks() -> None:
    for size in (0, CHUNK_SIZE, 3 * CHUNK_SIZE + 5):
        chunks = encrypt(FOUR[:size])
        assert list(split_ciphertext(io.BytesIO(b"".join(chunks)))) == chunks


def test_each_encryption_uses_a_fresh_header() -> None:
    assert encrypt(b"same")[0] != encrypt(b"same")[0]


# --- keys --------------------------------------------------------------------------------


def test_keys_are_derived_and_separate() -> None:
    keys = DocumentKeys.from_content_key(KEY)
    assert keys.stream_key == kdf.derive(KEY, "document-stream-key")
    assert keys.blob_id == kdf.derive(KEY, "document-blob-id", size=16)
    assert keys.blob_capability == kdf.derive(KEY, "document-blob-cap")
    assert len({keys.content_key, keys.stream_key, keys.blob_capability}) == 3
    assert KEY.hex() not in repr(keys) and keys.stream_key.hex() not in repr(keys)
    assert keys.blob_capability.hex() not in repr(keys) and str(keys.blob_id) in repr(keys)


def test_new_content_key_and_document_id_come_from_rng() -> None:
    assert stream.new_content_key(counter_rng("a")) == counter_rng("a")(32)
    assert len(stream.new_document_id(counter_rng("b"))) == 16
    with pytest.raises(UsageError):
        stream.new_content_key(lambda n: b"short")


@pytest.mark.parametrize(
    ("key", "doc", "version"),
    [
        (b"short", DOCUMENT_ID, 1),
        (KEY, b"short", 1),
        (KEY, DOCUMENT_ID, 0),
        (KEY, DOCUMENT_ID, 2**32),
    ],
)
def test_bad_parameters_are_usage_errors_at_call_time(key: bytes, doc: bytes, version: int) -> None:
    with pytest.raises(UsageError):
        encrypt_stream(key, doc, version, [b"x"])
    with pytest.raises(UsageError):
        decrypt_stream(key, doc, version, 1, [])
    with pytest.raises(UsageError):
        StreamDecryptor(key, doc, version, 1)


def test_non_bytes_pieces_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        list(encrypt_stream(KEY, DOCUMENT_ID, VERSION, ["text"]))  # type: ignore[list-item]
    with pytest.raises(UsageError):
        list(encrypt_stream(KEY, DOCUMENT_ID, VERSION, io.StringIO("text")))  # type: ignore[arg-type]


# --- attacks -------------------------------------------------------------------------------


def flipped(chunk: bytes, position: int) -> bytes:
    return chunk[:position] + bytes([chunk[position] ^ 0x01]) + chunk[position + 1 :]


@pytest.mark.parametrize(
    ("index", "position"),
    [(0, 1), (0, 24), (0, 25), (0, 30), (0, -1), (1, 0), (1, 500_000), (2, -1), (3, 0), (3, -1)],
)
def test_tampering_anywhere_fails(index: int, position: int) -> None:
    chunks = list(FOUR_CHUNKS)
    chunks[index] = flipped(chunks[index], position % len(chunks[index]))
    with pytest.raises(DecryptionFailed):
        decrypt(chunks)


def test_tampered_version_byte_is_unsupported() -> None:
    with pytest.raises(UnsupportedVersion):
        decrypt([flipped(FOUR_CHUNKS[0], 0), *FOUR_CHUNKS[1:]])


def test_truncated_stream_fails_at_the_end() -> None:
    decryptor = StreamDecryptor(KEY, DOCUMENT_ID, VERSION, FOUR_SIZE)
    for chunk in FOUR_CHUNKS[:-1]:
        decryptor.feed(chunk)
    with pytest.raises(DecryptionFailed, match="truncated"):
        decryptor.finish()
    with pytest.raises(DecryptionFailed, match="truncated"):
        decrypt(FOUR_CHUNKS[:2])
    with pytest.raises(DecryptionFailed, match="truncated"):
        decrypt([])


def test_truncated_chunk_fails() -> None:
    with pytest.raises(DecryptionFailed):
        decrypt([*FOUR_CHUNKS[:-1], FOUR_CHUNKS[-1][:-1]])
    with pytest.raises(DecryptionFailed):
        decrypt([FOUR_CHUNKS[0][: FIRST_CHUNK_OVERHEAD - 1]])
    with pytest.raises(DecryptionFailed):
        decrypt([FOUR_CHUNKS[0], b"short"])


def test_dropped_chunk_fails() -> None:
    for dropped in (1, 2):
        with pytest.raises(DecryptionFailed):
            decrypt(FOUR_CHUNKS[:dropped] + FOUR_CHUNKS[dropped + 1 :])


def test_dropped_first_chunk_fails() -> None:
    with pytest.raises(RemoteError):  # the next chunk's first byte read as a version
        decrypt(FOUR_CHUNKS[1:])


def test_reordered_chunks_fail() -> None:
    with pytest.raises(DecryptionFailed):
        decrypt([FOUR_CHUNKS[0], FOUR_CHUNKS[2], FOUR_CHUNKS[1], FOUR_CHUNKS[3]])
    with pytest.raises(DecryptionFailed):
        decrypt([*FOUR_CHUNKS[:2], FOUR_CHUNKS[3], FOUR_CHUNKS[2]])
    with pytest.raises(RemoteError):
        decrypt([FOUR_CHUNKS[1], FOUR_CHUNKS[0], *FOUR_CHUNKS[2:]])


@pytest.mark.parametrize("extra", [b"", b"x" * 17, FOUR_CHUNKS[1], FOUR_CHUNKS[-1], FOUR_CHUNKS[0]])
def test_chunk_after_final_fails(extra: bytes) -> None:
    with pytest.raises(DecryptionFailed, match="follows the final"):
        decrypt([*FOUR_CHUNKS, extra])


def test_chunks_spliced_from_another_encryption_fail() -> None:
    other = encrypt(FOUR)
    with pytest.raises(DecryptionFailed):
        decrypt([FOUR_CHUNKS[0], other[1], *FOUR_CHUNKS[2:]])


@pytest.mark.parametrize(
    ("key", "doc", "version"),
    [
        (fixed("another key"), DOCUMENT_ID, VERSION),
        (KEY, fixed("another document", 16), VERSION),
        (KEY, DOCUMENT_ID, VERSION + 1),
        (KEY, DOCUMENT_ID, VERSION - 1),
    ],
)
def test_wrong_key_document_or_version_fails(key: bytes, doc: bytes, version: int) -> None:
    with pytest.raises(DecryptionFailed):
        decrypt(FOUR_CHUNKS, key, doc, version)


def test_oversized_chunk_is_too_large() -> None:
    with pytest.raises(TooLarge):
        decrypt([FOUR_CHUNKS[0] + b"x"])
    with pytest.raises(TooLarge):
        decrypt([FOUR_CHUNKS[0], FOUR_CHUNKS[1] + b"x"])


def test_decryptor_refuses_use_after_failure() -> None:
    decryptor = StreamDecryptor(KEY, DOCUMENT_ID, VERSION, FOUR_SIZE)
    with pytest.raises(DecryptionFailed):
        decryptor.feed(flipped(FOUR_CHUNKS[0], 40))
    with pytest.raises(UsageError):
        decryptor.feed(FOUR_CHUNKS[0])
    with pytest.raises(UsageError):
        decryptor.finish()


# --- streams our encryptor never makes: the format has one encoding ------------------------


def raw_stream(pieces: list[tuple[bytes, int]], version: bytes = b"\x02") -> list[bytes]:
    """Chunks made with libsodium directly, with our key, AD and framing."""
    keys = DocumentKeys.from_content_key(KEY)
    ad = kdf.frame("document-chunk", (DOCUMENT_ID, struct.pack(">I", VERSION), version))
    state = crypto_secretstream_xchacha20poly1305_state()
    header = crypto_secretstream_xchacha20poly1305_init_push(state, keys.stream_key)
    chunks = [crypto_secretstream_xchacha20poly1305_push(state, m, ad, t) for m, t in pieces]
    chunks[0] = version + header + chunks[0]
    return chunks


MESSAGE = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
FINAL = crypto_secretstream_xchacha20poly1305_TAG_FINAL
# A document of 1 MiB + 1 bytes pads to Padme(1,048,577) = 1,081,344 = 1 MiB + 32 KiB.
PAD = bytes(32 * 1024 - 1)


def test_raw_stream_with_our_framing_decrypts() -> None:
    chunks = raw_stream([(b"a" * CHUNK_SIZE, MESSAGE), (b"b" + PAD, FINAL)])
    assert padded_size(CHUNK_SIZE + 1) == CHUNK_SIZE + 32 * 1024
    assert decrypt(chunks, size=CHUNK_SIZE + 1) == b"a" * CHUNK_SIZE + b"b"


@pytest.mark.parametrize(
    ("pieces", "error"),
    [
        ([(b"short", MESSAGE), (b"b" + PAD, FINAL)], MalformedData),
        ([(b"a" * CHUNK_SIZE, MESSAGE), (b"", FINAL)], MalformedData),
        ([(b"a", crypto_secretstream_xchacha20poly1305_TAG_PUSH), (b"b", FINAL)], DecryptionFailed),
        ([(b"a" * CHUNK_SIZE, MESSAGE), (b"b" + PAD[:-1], FINAL)], MalformedData),  # short pad
        ([(b"a" * CHUNK_SIZE, MESSAGE), (b"b" + PAD + b"\x00", FINAL)], TooLarge),  # long pad
        ([(b"a" * CHUNK_SIZE, MESSAGE), (b"b" + PAD[:-1] + b"\x01", FINAL)], MalformedData),
        ([(b"a" * CHUNK_SIZE, MESSAGE), (b"b" + PAD, MESSAGE), (b"", FINAL)], MalformedData),
    ],
)
def test_non_canonical_streams_are_refused(pieces, error) -> None:
    """Padding is inside the encryption and checked: zeros, exactly to the bucket."""
    with pytest.raises(error):
        decrypt(raw_stream(pieces), size=CHUNK_SIZE + 1)


def test_a_version_1_stream_is_refused_as_a_version_we_do_not_speak() -> None:
    chunks = raw_stream([(b"a" * CHUNK_SIZE, MESSAGE), (b"b" + PAD, FINAL)], version=b"\x01")
    with pytest.raises(UnsupportedVersion, match="version 1"):
        decrypt(chunks, size=CHUNK_SIZE + 1)


@pytest.mark.parametrize(
    ("size", "padded"),
    [
        (0, 4096),
        (1, 4096),
        (4096, 4096),
        (4097, 4352),
        (10_000, 10_240),
        (1_000_000, 1_015_808),
        (CHUNK_SIZE, CHUNK_SIZE),
        (126 * CHUNK_SIZE, 126 * CHUNK_SIZE),
        (124 * CHUNK_SIZE + 1, 126 * CHUNK_SIZE),
    ],
)
def test_documents_are_padded_to_padme_buckets(size: int, padded: int) -> None:
    assert padded_size(size) == padded
    assert ciphertext_size(size) == padded + 25 + 17 * -(-padded // CHUNK_SIZE)


def test_documents_in_one_bucket_make_blobs_of_one_size() -> None:
    """The relay sees the blob's declared size, chunk count and chunk sizes: all equal."""
    small, large = encrypt(pattern(9_985)), encrypt(pattern(10_240))
    assert [len(c) for c in small] == [len(c) for c in large] == [10_240 + 25 + 17]
    assert decrypt(small, size=9_985) == pattern(9_985)


def test_chunks_open_with_raw_libsodium() -> None:
    """Independent check of the framing: version byte, header, then secretstream output."""
    keys = DocumentKeys.from_content_key(KEY)
    ad = kdf.frame("document-chunk", (DOCUMENT_ID, struct.pack(">I", VERSION), b"\x02"))
    state = crypto_secretstream_xchacha20poly1305_state()
    crypto_secretstream_xchacha20poly1305_init_pull(state, FOUR_CHUNKS[0][1:25], keys.stream_key)
    out, tags = b"", []
    for i, chunk in enumerate(FOUR_CHUNKS):
        m, tag = crypto_secretstream_xchacha20poly1305_pull(
            state, chunk[25:] if i == 0 else chunk, ad
        )
        out += m
        tags.append(tag)
    assert out == FOUR + bytes(padded_size(FOUR_SIZE) - FOUR_SIZE)
    assert tags == [MESSAGE, MESSAGE, MESSAGE, FINAL]


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.binary(max_size=200), max_size=4))
def test_random_chunks_raise_only_remote_errors(chunks: list[bytes]) -> None:
    with pytest.raises(RemoteError):
        decrypt(chunks)


@settings(max_examples=100, deadline=None)
@given(position=st.integers(0, 10_000), value=st.integers(1, 255))
def test_random_byte_changes_raise_only_remote_errors(position: int, value: int) -> None:
    chunks = encrypt(b"small document" * 100)
    chunk = chunks[0]
    position %= len(chunk)
    changed = chunk[:position] + bytes([chunk[position] ^ value]) + chunk[position + 1 :]
    with pytest.raises(RemoteError):
        decrypt([changed], size=1400)
