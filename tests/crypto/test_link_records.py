"""The records blob of a link and the bundle naming it (docs/protocol.md 8.4)."""

from __future__ import annotations

import os

import nacl.public
import pytest

from crypto.attachment import Attachment, encrypt_attachment
from crypto.device import DeviceCert
from crypto.device_link import LinkBundle, LinkRequest
from crypto.errors import BadSignature, DecryptionFailed, MalformedData
from crypto.identity import Identity
from crypto.link_records import RecordsOpener, RecordsRef, encrypt_records
from crypto.wire import Reader, Writer

PAYLOAD = b"CANARY history rows " * 5000


def opened(ref: RecordsRef, chunks: list[bytes]) -> bytes:
    opener = RecordsOpener(ref)
    for chunk in chunks:
        opener.feed(chunk)
    return opener.finish()


def test_records_round_trip_and_the_relay_sees_no_plaintext() -> None:
    ref, chunks = encrypt_records(PAYLOAD, os.urandom)
    blob = list(chunks)
    assert b"CANARY" not in b"".join(blob)
    assert opened(ref, blob) == PAYLOAD
    assert RecordsRef.read(Reader(bytes(ref.write(Writer())))) == ref


def test_a_swapped_damaged_or_cut_blob_is_refused() -> None:
    ref, chunks = encrypt_records(PAYLOAD, os.urandom)
    blob = list(chunks)
    _, other_chunks = encrypt_records(PAYLOAD, os.urandom)
    with pytest.raises(DecryptionFailed):  # another blob of the same size: other key
        opened(ref, list(other_chunks))
    damaged = bytearray(blob[0])
    damaged[100] ^= 1
    with pytest.raises(DecryptionFailed):
        opened(ref, [bytes(damaged), *blob[1:]])
    with pytest.raises(DecryptionFailed):
        opened(ref, [*blob[:-1], blob[-1][:-1]])
    # The right blob, but not the hash the sealed bundle names: refused as well.
    lying = RecordsRef(ref.content_key, ref.size, bytes(32))
    with pytest.raises(BadSignature):
        opened(lying, blob)


def test_an_attached_file_under_the_same_key_does_not_open_as_records() -> None:
    ref, _ = encrypt_records(PAYLOAD, os.urandom)
    attachment = Attachment("a.txt", "text/plain", len(PAYLOAD), ref.content_key, ref.sha256)
    with pytest.raises(DecryptionFailed):
        opened(ref, list(encrypt_attachment(attachment.content_key, [PAYLOAD])))


def test_the_bundle_names_the_records_and_is_signed_by_the_identity() -> None:
    owner = Identity.generate(os.urandom, 1)
    device = Identity.generate(os.urandom, 1)
    keys = [device.with_new_delivery_key(os.urandom, 1) for _ in range(64)]
    request = LinkRequest.create(device, "laptop", [k.delivery_cert for k in keys])
    cert = DeviceCert.issue(owner, device.public_key, "laptop", 1)
    ref, _ = encrypt_records(PAYLOAD, os.urandom)
    sealed = LinkBundle(cert, "alice", (), (), ref).seal(owner, request, os.urandom)
    bundle = LinkBundle.open(sealed, keys[0].delivery_key, device.public_key)
    assert bundle.records == ref
    with pytest.raises(DecryptionFailed):
        LinkBundle.open(sealed, nacl.public.PrivateKey.generate(), device.public_key)


def test_a_records_ref_beyond_the_limit_does_not_parse() -> None:
    data = bytes(Writer().fixed(bytes(32), 32).u64(1 << 40).fixed(bytes(32), 32))
    with pytest.raises(MalformedData):
        RecordsRef.read(Reader(data))
