"""Interoperability with the real minisign tool (Debian package ``minisign``, 0.11 here).

(a) stock ``minisign -Vm FILE -p KEY.pub`` accepts what Caucus exports; (b) our verifier
accepts what stock ``minisign -S`` makes; (c) tampering makes both refuse.  Skipped when the
binary is absent, except in CI, where it fails (``minisign`` fixture in tests/conftest.py;
.ci/run installs it).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from crypto.document import announce, minisign
from crypto.document.hashing import hash_file
from crypto.document.minisign import blake2b512_file, parse_public_key, parse_signature, verify
from crypto.errors import BadSignature, UnsupportedVersion
from tests.crypto.document.support import MEMBER, make_announcement, pattern

MINISIGN = shutil.which("minisign")
pytestmark = pytest.mark.usefixtures("minisign")
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "documents.json"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MINISIGN), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def write_export(ann: announce.Announcement, data: bytes, folder: Path) -> announce.Export:
    files = announce.export(ann)
    (folder / files.filename).write_bytes(data)
    (folder / files.signature_filename).write_text(files.signature_text)
    (folder / files.public_key_filename).write_text(files.public_key_text)
    return files


def stock_verifies(folder: Path, filename: str, key_file: str, *extra: str) -> bool:
    result = run("-V", *extra, "-m", filename, "-p", key_file, cwd=folder)
    return result.returncode == 0


@pytest.fixture
def stock_key(tmp_path: Path) -> Path:
    folder = tmp_path / "stock"
    folder.mkdir()
    result = run("-G", "-W", "-p", "key.pub", "-s", "key.key", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder


# --- (a) stock minisign accepts our export ------------------------------------------------


@pytest.mark.parametrize("size", [0, 1000, 3 * 2**20 + 11])
def test_stock_minisign_accepts_our_export(tmp_path: Path, size: int) -> None:
    data = pattern(size)
    ann = make_announcement(data, title='Agreement "2026" \u2013 ünïcode')
    files = write_export(ann, data, tmp_path)
    result = run("-Vm", files.filename, "-p", files.public_key_filename, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Trusted comment: {ann.trusted_comment}" in result.stdout
    # -H: refuse anything but prehashed signatures; -P: the key inline.
    assert stock_verifies(tmp_path, files.filename, files.public_key_filename, "-H")
    inline = files.public_key_text.split("\n")[1]
    assert run("-Vm", files.filename, "-P", inline, cwd=tmp_path).returncode == 0
    # -Q prints only the trusted comment, which a script can compare.
    quiet = run("-VQm", files.filename, "-p", files.public_key_filename, cwd=tmp_path)
    assert quiet.stdout == ann.trusted_comment + "\n"


def test_stock_minisign_accepts_the_vector(tmp_path: Path) -> None:
    vector = json.loads(VECTORS.read_text())["minisign"]
    (tmp_path / "file").write_bytes(bytes.fromhex(vector["file"]))
    (tmp_path / "file.minisig").write_text(vector["signature_file"])
    (tmp_path / "key.pub").write_text(vector["public_key_file"])
    assert stock_verifies(tmp_path, "file", "key.pub")


def test_stock_minisign_prints_our_key_id(tmp_path: Path) -> None:
    """Our key id hex uses minisign's little-endian convention: a key-id mismatch message
    from the tool names the ids exactly as key_id_hex does."""
    data = b"x"
    ann = make_announcement(data)
    files = write_export(ann, data, tmp_path)
    other = minisign.public_key_file(bytes(MEMBER.verify_key))
    (tmp_path / "other.pub").write_text(other)
    result = run("-Vm", files.filename, "-p", "other.pub", cwd=tmp_path)
    assert result.returncode != 0
    ours = minisign.key_id_hex(minisign.minisign_key_id(ann.signer))
    theirs = minisign.key_id_hex(minisign.minisign_key_id(bytes(MEMBER.verify_key)))
    assert ours.lstrip("0") in result.stderr and theirs.lstrip("0") in result.stderr


# --- (b) our verifier accepts stock minisign -----------------------------------------------


@pytest.mark.parametrize("size", [0, 5000, 2**20 + 1])
def test_our_verifier_accepts_stock_signatures(stock_key: Path, size: int) -> None:
    (stock_key / "doc.bin").write_bytes(pattern(size, "stock"))
    result = run(
        "-S",
        "-s",
        "key.key",
        "-m",
        "doc.bin",
        "-t",
        "stock trusted",
        "-c",
        "stock untrusted",
        cwd=stock_key,
    )
    assert result.returncode == 0, result.stderr
    key = parse_public_key((stock_key / "key.pub").read_text())
    sig = parse_signature((stock_key / "doc.bin.minisig").read_text())
    assert sig.trusted_comment == "stock trusted" and sig.untrusted_comment == "stock untrusted"
    with (stock_key / "doc.bin").open("rb") as f:
        digest = blake2b512_file(f)
    verify(key, digest, sig)  # cross-checks our BLAKE2b-512 prehash against the tool's
    # minisign prints the id as a little-endian integer (0.11 without leading zeros,
    # 0.12 with them; key_id_hex always writes 16 digits).
    header = (stock_key / "key.pub").read_text().split("\n")[0]
    shown = header.removeprefix("untrusted comment: minisign public key ")
    assert int(shown, 16) == int.from_bytes(key.key_id, "little")
    assert minisign.key_id_hex(key.key_id) == shown.rjust(16, "0")


def test_stock_default_trusted_comment_with_tabs(stock_key: Path) -> None:
    (stock_key / "doc.bin").write_bytes(b"hello")
    assert run("-S", "-s", "key.key", "-m", "doc.bin", cwd=stock_key).returncode == 0
    sig = parse_signature((stock_key / "doc.bin.minisig").read_bytes())
    assert "\t" in sig.trusted_comment and sig.trusted_comment.startswith("timestamp:")
    verify(
        parse_public_key((stock_key / "key.pub").read_text()),
        blake2b512_file(io.BytesIO(b"hello")),
        sig,
    )


def test_stock_legacy_signatures_are_refused_clearly(stock_key: Path) -> None:
    (stock_key / "doc.bin").write_bytes(b"hello")
    assert run("-S", "-l", "-s", "key.key", "-m", "doc.bin", cwd=stock_key).returncode == 0
    with pytest.raises(UnsupportedVersion, match="legacy"):
        parse_signature((stock_key / "doc.bin.minisig").read_text())


# --- (c) tampering makes both refuse -------------------------------------------------------


def test_tampered_file_fails_for_both(tmp_path: Path) -> None:
    data = pattern(70_000)
    ann = make_announcement(data)
    files = write_export(ann, data, tmp_path)
    (tmp_path / files.filename).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert not stock_verifies(tmp_path, files.filename, files.public_key_filename)
    with (tmp_path / files.filename).open("rb") as f:
        digest = hash_file(f)
    with pytest.raises(BadSignature):
        verify(ann.signer, digest.blake2b512, parse_signature(files.signature_text))


def test_tampered_trusted_comment_fails_for_both(tmp_path: Path) -> None:
    data = b"agreement"
    ann = make_announcement(data)
    files = write_export(ann, data, tmp_path)
    text = files.signature_text.replace("version=3", "version=4")
    (tmp_path / files.signature_filename).write_text(text)
    result = run("-Vm", files.filename, "-p", files.public_key_filename, cwd=tmp_path)
    assert result.returncode != 0 and "Comment signature verification failed" in result.stderr
    with pytest.raises(BadSignature, match="trusted comment"):
        verify(ann.signer, ann.blake2b512, parse_signature(text))


def test_signature_by_another_key_fails_for_both(tmp_path: Path, stock_key: Path) -> None:
    data = b"agreement"
    ann = make_announcement(data)
    files = write_export(ann, data, tmp_path)
    # The stock key signs the same file; checked against the organizer's exported key.
    (stock_key / files.filename).write_bytes(data)
    assert run("-S", "-s", "key.key", "-m", files.filename, cwd=stock_key).returncode == 0
    shutil.copy(stock_key / (files.filename + ".minisig"), tmp_path / files.signature_filename)
    assert not stock_verifies(tmp_path, files.filename, files.public_key_filename)
    forged = parse_signature((tmp_path / files.signature_filename).read_text())
    with pytest.raises(BadSignature):
        verify(ann.signer, ann.blake2b512, forged)
    # A forged signature relabelled with the organizer's key id fails on the signature.
    relabelled = minisign.MinisignSignature(
        minisign.minisign_key_id(ann.signer),
        forged.signature,
        forged.trusted_comment,
        forged.global_signature,
        forged.untrusted_comment,
    )
    (tmp_path / files.signature_filename).write_text(relabelled.to_text())
    result = run("-Vm", files.filename, "-p", files.public_key_filename, cwd=tmp_path)
    assert result.returncode != 0 and "Signature verification failed" in result.stderr
    with pytest.raises(BadSignature, match=r"^signature does not verify"):
        verify(ann.signer, ann.blake2b512, relabelled)
