"""A 100 MiB document round trip through temporary files keeps memory bounded: nothing
holds the whole file, only a chunk or two at a time.  Checked twice: Python allocations
with tracemalloc, and the whole process (libsodium buffers included) by peak RSS of a
fresh interpreter."""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from crypto.document.announce import Announcement, open_document, publish
from crypto.document.hashing import ContentHasher, hash_file, read_pieces
from crypto.document.stream import CHUNK_SIZE, ciphertext_size, encrypt_stream, split_ciphertext
from tests.crypto.document.support import DOCUMENT_ID, GROUP_ID, ORGANIZER, fixed

SIZE = 100 * CHUNK_SIZE + 12_345
ROOT = Path(__file__).resolve().parents[3]


def write_plaintext(path: Path) -> None:
    with path.open("wb") as out:
        written, i = 0, 0
        while written < SIZE:
            piece = hashlib.shake_256(i.to_bytes(4, "big")).digest(min(CHUNK_SIZE, SIZE - written))
            out.write(piece)
            written += len(piece)
            i += 1


def round_trip(plain: Path, sealed: Path, opened: Path) -> Announcement:
    """Encrypt (hashing on the way) to ``sealed``, publish, then open into ``opened``."""
    key = fixed("big content key")
    hasher = ContentHasher()
    with plain.open("rb") as src, sealed.open("wb") as dst:
        for chunk in encrypt_stream(key, DOCUMENT_ID, 1, hasher.tee(read_pieces(src))):
            dst.write(chunk)
    ann = publish(
        ORGANIZER,
        group_id=GROUP_ID,
        document_id=DOCUMENT_ID,
        version=1,
        published_at=0,
        title="Big",
        filename="plain.pdf",
        media_type="application/pdf",
        note="",
        digest=hasher.result(),
        content_key=key,
    )
    with sealed.open("rb") as src, opened.open("wb") as dst:
        for piece in open_document(ann, split_ciphertext(src)):
            dst.write(piece)
    return ann


@pytest.mark.slow
def test_100_mib_round_trip_in_bounded_python_memory(tmp_path: Path) -> None:
    plain, sealed, opened = tmp_path / "plain.pdf", tmp_path / "blob", tmp_path / "opened.pdf"
    write_plaintext(plain)
    tracemalloc.start()
    try:
        ann = round_trip(plain, sealed, opened)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sealed.stat().st_size == ciphertext_size(SIZE)
    with plain.open("rb") as a, opened.open("rb") as b:
        assert hash_file(a) == hash_file(b) == ann.digest
    assert peak < 16 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"


def child_main(folder: str) -> None:
    """Run in a fresh interpreter: report peak RSS before and after the round trip (KiB)."""
    base = Path(folder)
    write_plaintext(base / "plain.pdf")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    round_trip(base / "plain.pdf", base / "blob", base / "opened.pdf")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before": before, "after": after}))


@pytest.mark.slow
def test_100_mib_round_trip_in_bounded_process_memory(tmp_path: Path) -> None:
    code = (
        "import sys; from tests.crypto.document.test_memory import child_main; "
        "child_main(sys.argv[1])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rss = json.loads(result.stdout.strip().splitlines()[-1])
    growth_mib = (rss["after"] - rss["before"]) / 1024
    assert growth_mib < 32, f"peak RSS grew by {growth_mib:.1f} MiB"
