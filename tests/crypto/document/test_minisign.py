"""minisign formats without the tool: key ids, file layout, strict parsing, verification.
(The tool itself is in test_interop.py.)"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io

import nacl.hash
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import kdf
from crypto.document import minisign
from crypto.document.minisign import (
    MAX_TRUSTED_COMMENT_BYTES,
    MAX_UNTRUSTED_COMMENT_BYTES,
    MinisignPublicKey,
    MinisignSignature,
    blake2b512_file,
    key_id_hex,
    minisign_key_id,
    parse_public_key,
    parse_signature,
    public_key_file,
    sign_file_prehashed,
    sign_prehashed,
    verify,
)
from crypto.errors import BadSignature, MalformedData, RemoteError, UnsupportedVersion, UsageError
from tests.crypto.document.support import MEMBER, ORGANIZER, pattern

PK = bytes(ORGANIZER.verify_key)
DATA = b"the agreement\n"
DIGEST = hashlib.blake2b(DATA, digest_size=64).digest()
TRUSTED = "timestamp:1767225600\tfile:agreement.txt\thashed"
SIG_TEXT = sign_file_prehashed(ORGANIZER, DIGEST, TRUSTED, "signature from Caucus")


def test_key_id_is_derived_from_the_identity_key() -> None:
    assert minisign_key_id(PK) == kdf.digest("minisign-key-id", PK, size=8)
    assert minisign_key_id(PK) != minisign_key_id(bytes(MEMBER.verify_key))
    assert key_id_hex(bytes.fromhex("0102030405060708")) == "0807060504030201"
    with pytest.raises(UsageError):
        minisign_key_id(b"short")


def test_public_key_file_layout() -> None:
    text = public_key_file(PK)
    first, second, end = text.split("\n")
    assert end == ""
    assert first == f"untrusted comment: minisign public key {key_id_hex(minisign_key_id(PK))}"
    assert base64.b64decode(second) == b"Ed" + minisign_key_id(PK) + PK
    assert parse_public_key(text) == MinisignPublicKey.from_identity(PK)
    assert public_key_file(PK, "custom").startswith("untrusted comment: custom\n")


def test_signature_file_layout() -> None:
    lines = SIG_TEXT.split("\n")
    assert lines[0] == "untrusted comment: signature from Caucus"
    struct = base64.b64decode(lines[1])
    assert struct[:2] == b"ED" and struct[2:10] == minisign_key_id(PK)
    ORGANIZER.verify_key.verify(DIGEST, struct[10:])
    assert lines[2] == "trusted comment: " + TRUSTED
    ORGANIZER.verify_key.verify(struct[10:] + TRUSTED.encode(), base64.b64decode(lines[3]))
    assert lines[4:] == [""]
    assert parse_signature(SIG_TEXT).to_text() == SIG_TEXT


def test_round_trip_and_verify() -> None:
    sig = parse_signature(SIG_TEXT)
    verify(PK, DIGEST, sig)
    verify(parse_public_key(public_key_file(PK)), DIGEST, sig)
    assert sig == sign_prehashed(ORGANIZER, DIGEST, TRUSTED, "signature from Caucus")


def test_forged_by_another_key_fails() -> None:
    forged = parse_signature(sign_file_prehashed(MEMBER, DIGEST, TRUSTED, "forged"))
    with pytest.raises(BadSignature, match="key id"):
        verify(PK, DIGEST, forged)
    # Same key id as the organizer's, but the member's signatures.
    relabelled = MinisignSignature(
        minisign_key_id(PK), forged.signature, TRUSTED, forged.global_signature, ""
    )
    with pytest.raises(BadSignature):
        verify(PK, DIGEST, relabelled)


def test_trusted_comment_tampering_fails() -> None:
    sig = parse_signature(SIG_TEXT)
    for comment in (TRUSTED + " ", TRUSTED.replace("agreement", "agreemenT"), ""):
        tampered = MinisignSignature(
            sig.key_id, sig.signature, comment, sig.global_signature, sig.untrusted_comment
        )
        with pytest.raises(BadSignature, match="trusted comment"):
            verify(PK, DIGEST, tampered)
    text = SIG_TEXT.replace("file:agreement", "file:agreemenT")
    with pytest.raises(BadSignature, match="trusted comment"):
        verify(PK, DIGEST, parse_signature(text))


def test_untrusted_comment_is_not_signed() -> None:
    text = SIG_TEXT.replace("signature from Caucus", "anything at all")
    verify(PK, DIGEST, parse_signature(text))


def test_other_content_fails() -> None:
    other = hashlib.blake2b(DATA + b"!", digest_size=64).digest()
    with pytest.raises(BadSignature, match=r"^signature does not verify"):
        verify(PK, other, parse_signature(SIG_TEXT))


def test_prehash_helper_matches_hashlib_and_libsodium() -> None:
    for size in (0, 1, 2**20 - 1, 2**20, 2**20 + 1, 3 * 2**20 + 7):
        data = pattern(size)
        ours = blake2b512_file(io.BytesIO(data))
        assert ours == hashlib.blake2b(data, digest_size=64).digest()
        assert ours == nacl.hash.blake2b(data, digest_size=64, encoder=nacl.encoding.RawEncoder)


def test_usage_errors_when_signing() -> None:
    with pytest.raises(UsageError):
        sign_prehashed(ORGANIZER, b"short", "t", "u")
    too_long = "x" * (MAX_TRUSTED_COMMENT_BYTES + 1)
    for bad in ("two\nlines", "cr\r", "nul\x00", "esc\x1b[2J", too_long):
        with pytest.raises(UsageError):
            sign_prehashed(ORGANIZER, DIGEST, bad, "u")
    with pytest.raises(UsageError):
        sign_prehashed(ORGANIZER, DIGEST, "t", "u" * (MAX_UNTRUSTED_COMMENT_BYTES + 1))
    with pytest.raises(UsageError):
        sign_prehashed(ORGANIZER, DIGEST, "\udc80", "u")
    sign_prehashed(
        ORGANIZER, DIGEST, "x" * MAX_TRUSTED_COMMENT_BYTES, "u" * MAX_UNTRUSTED_COMMENT_BYTES
    )


def test_comment_limits_match_minisign_buffers() -> None:
    # minisign reads comment lines with fgets into 1024 and 8192 bytes: prefix + comment
    # + newline + NUL must fit.
    assert len("untrusted comment: ") + MAX_UNTRUSTED_COMMENT_BYTES + 2 == 1024
    assert len("trusted comment: ") + MAX_TRUSTED_COMMENT_BYTES + 2 == 8192


# --- strict parsing ------------------------------------------------------------------------


def test_line_endings() -> None:
    assert parse_signature(SIG_TEXT.rstrip("\n")) == parse_signature(SIG_TEXT)
    assert parse_signature(SIG_TEXT.replace("\n", "\r\n")) == parse_signature(SIG_TEXT)
    assert parse_signature(SIG_TEXT.encode()) == parse_signature(SIG_TEXT)


def lines_replaced(index: int, line: str) -> str:
    lines = SIG_TEXT.split("\n")
    lines[index] = line
    return "\n".join(lines)


STRUCT_LINE = SIG_TEXT.split("\n")[1]
GLOBAL_LINE = SIG_TEXT.split("\n")[3]


@pytest.mark.parametrize(
    "text",
    [
        "",
        SIG_TEXT + "\n",
        SIG_TEXT + "extra\n",
        "\n".join(SIG_TEXT.split("\n")[:3]),
        lines_replaced(0, "untrusted comment:no space"),
        lines_replaced(0, "comment: x"),
        lines_replaced(2, "Trusted comment: " + TRUSTED),
        lines_replaced(2, "trusted comment: bell\x07"),
        lines_replaced(2, "trusted comment: cr\rinside"),
        lines_replaced(1, STRUCT_LINE + " "),
        lines_replaced(1, STRUCT_LINE.rstrip("=")),
        lines_replaced(1, STRUCT_LINE[:-4]),
        lines_replaced(1, "!" + STRUCT_LINE[1:]),
        lines_replaced(1, STRUCT_LINE[:-2] + "x="),  # non-canonical trailing bits
        lines_replaced(3, GLOBAL_LINE[:-4]),
        lines_replaced(3, base64.b64encode(bytes(65)).decode()),
        lines_replaced(0, "untrusted comment: " + "u" * (MAX_UNTRUSTED_COMMENT_BYTES + 1)),
        lines_replaced(2, "trusted comment: " + "t" * (MAX_TRUSTED_COMMENT_BYTES + 1)),
        "x" * 100_000,
    ],
)
def test_malformed_signature_files(text: str) -> None:
    with pytest.raises(MalformedData):
        parse_signature(text)


def test_bytes_that_are_not_utf8() -> None:
    with pytest.raises(MalformedData, match="UTF-8"):
        parse_signature(SIG_TEXT.encode().replace(b"Caucus", b"\xff\xfe"))
    with pytest.raises(MalformedData):
        parse_signature(SIG_TEXT.replace("Caucus", "\udc80"))


@pytest.mark.parametrize(("algorithm", "match"), [(b"Ed", "legacy"), (b"EE", "algorithm")])
def test_other_signature_algorithms_are_unsupported(algorithm: bytes, match: str) -> None:
    struct = base64.b64decode(STRUCT_LINE)
    text = lines_replaced(1, base64.b64encode(algorithm + struct[2:]).decode())
    with pytest.raises(UnsupportedVersion, match=match):
        parse_signature(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "untrusted comment: k\n",
        public_key_file(PK) + "extra\n",
        "untrusted: k\n" + public_key_file(PK).split("\n")[1] + "\n",
        "untrusted comment: k\n" + base64.b64encode(b"ED" + bytes(40)).decode() + "\n",
        "untrusted comment: k\n" + base64.b64encode(b"Ed" + bytes(41)).decode() + "\n",
    ],
)
def test_malformed_public_key_files(text: str) -> None:
    with pytest.raises(MalformedData):
        parse_public_key(text)


VALID_KEY = public_key_file(PK)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_parsers_raise_only_remote_errors_on_random_input(data: str | bytes) -> None:
    for parse in (parse_signature, parse_public_key):
        with contextlib.suppress(RemoteError):
            parse(data)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, 10_000), replacement=st.characters())
def test_parsers_raise_only_remote_errors_on_mutations(position: int, replacement: str) -> None:
    for text, parse in ((SIG_TEXT, parse_signature), (VALID_KEY, parse_public_key)):
        i = position % len(text)
        mutated = text[:i] + replacement + text[i + 1 :]
        try:
            parsed = parse(mutated)
        except RemoteError:
            continue
        if isinstance(parsed, MinisignSignature):
            try:
                verify(PK, DIGEST, parsed)
            except BadSignature:
                continue
            # Only the unsigned parts may change and still verify.
            assert parsed.signature + parsed.global_signature == (
                parse_signature(SIG_TEXT).signature + parse_signature(SIG_TEXT).global_signature
            )
            assert parsed.trusted_comment == TRUSTED


def test_verify_rejects_wrong_lengths() -> None:
    sig = parse_signature(SIG_TEXT)
    short = MinisignSignature(sig.key_id, sig.signature[:10], TRUSTED, sig.global_signature, "")
    with pytest.raises(BadSignature):
        verify(PK, DIGEST, short)
    with pytest.raises(BadSignature):
        verify(MinisignPublicKey(sig.key_id, b"short"), DIGEST, sig)
    with pytest.raises(UsageError):
        verify(PK, b"short", sig)


def test_to_text_refuses_what_it_could_not_write() -> None:
    with pytest.raises(UsageError):
        MinisignPublicKey(b"short", PK).to_text()
    with pytest.raises(UsageError):
        MinisignPublicKey(minisign_key_id(PK), PK, "two\nlines").to_text()
    sig = parse_signature(SIG_TEXT)
    with pytest.raises(UsageError):
        MinisignSignature(sig.key_id, sig.signature, "a\nb", sig.global_signature, "").to_text()
    assert minisign.KEY_ID_BYTES == 8
