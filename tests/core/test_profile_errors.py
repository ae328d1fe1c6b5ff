"""Opening a profile tells its failures apart, on real files: wrong passphrase, damaged
database or write-ahead log, read-only profile, invalid key parameters; an interrupted
passphrase change is never made worse by a typo; the files are private (0600 / 0700)."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.database import PAGE_SIZE
from app.core.errors import (
    ClientError,
    CorruptProfile,
    InvalidKeyParams,
    WrongPassphrase,
)
from app.core.passphrase import (
    COSTS,
    MEMLIMIT_RANGE,
    OPSLIMIT_RANGE,
    KdfParams,
    derive_key,
    save_params,
)
from app.core.profile import (
    DB_NAME,
    PARAMS_NAME,
    change_passphrase,
    create_profile,
    unlock,
)
from app.core.profile_lock import LOCK_NAME

PASSPHRASE = "correct horse"


def make_profile(home: Path) -> None:
    db = create_profile(
        home,
        name="Alice",
        relay_url="http://127.0.0.1:9",
        passphrase=PASSPHRASE,
        rng=os.urandom,
        now=0,
        cost="interactive",
    )
    db.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "alice"
    make_profile(path)
    return path


def params_doc(home: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads((home / PARAMS_NAME).read_text())
    return doc


def test_wrong_passphrase_says_so(home: Path) -> None:
    with pytest.raises(WrongPassphrase, match=r"^wrong passphrase$"):
        unlock(home, "incorrect horse")
    unlock(home, PASSPHRASE).close()


def test_torn_database_file_is_corrupt_whatever_the_passphrase(home: Path) -> None:
    with open(home / DB_NAME, "ab") as handle:
        handle.write(b"\0" * 100)
    for passphrase in (PASSPHRASE, "incorrect horse"):
        with pytest.raises(CorruptProfile, match="not a whole number of 4096-byte pages"):
            unlock(home, passphrase)


def test_empty_database_file_is_corrupt(home: Path) -> None:
    (home / DB_NAME).write_bytes(b"")
    with pytest.raises(CorruptProfile, match="is empty"):
        unlock(home, PASSPHRASE)


def test_scrambled_database_is_corrupt_with_the_right_passphrase(home: Path) -> None:
    data = bytearray((home / DB_NAME).read_bytes())
    data[:PAGE_SIZE] = os.urandom(PAGE_SIZE)  # the first page's HMAC no longer holds
    (home / DB_NAME).write_bytes(bytes(data))
    with pytest.raises(CorruptProfile, match="damaged: it does not open with the right key"):
        unlock(home, PASSPHRASE)
    # The key check in key-params.json still tells a wrong passphrase apart.
    with pytest.raises(WrongPassphrase, match=r"^wrong passphrase$"):
        unlock(home, "incorrect horse")


def test_damaged_write_ahead_log_is_corrupt_and_left_as_it_was(tmp_path: Path) -> None:
    """A crash copy of a profile whose schema is still only in profile.db-wal: with that
    log's header damaged SQLite ignores the log; migrating the empty-looking database
    would overwrite the log for good, so opening refuses instead."""
    live = tmp_path / "live"
    db = create_profile(
        live,
        name="Alice",
        relay_url="http://127.0.0.1:9",
        passphrase=PASSPHRASE,
        rng=os.urandom,
        now=0,
        cost="interactive",
    )
    crash = tmp_path / "crash"
    crash.mkdir()
    for name in (DB_NAME, DB_NAME + "-wal", PARAMS_NAME):
        shutil.copy(live / name, crash / name)  # as a power cut would leave them
    db.close()
    intact = tmp_path / "intact"
    shutil.copytree(crash, intact)
    unlock(intact, PASSPHRASE).close()  # the copy itself is sound

    wal = bytearray((crash / (DB_NAME + "-wal")).read_bytes())
    wal[0] ^= 0xFF  # the log's magic number
    (crash / (DB_NAME + "-wal")).write_bytes(bytes(wal))
    before = {p.name: p.read_bytes() for p in crash.iterdir()}
    with pytest.raises(CorruptProfile, match=r"holds no tables.*profile\.db-wal"):
        unlock(crash, PASSPHRASE)
    after = {p.name: p.read_bytes() for p in crash.iterdir() if p.name in before}
    assert after == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"opslimit": 2**32 - 1}, "opslimit 4294967295 is outside"),
        ({"opslimit": 1}, "opslimit 1 is outside"),
        ({"memlimit": 2**42}, "memlimit .* is outside"),
        ({"memlimit": 8192}, "memlimit 8192 is outside"),
        ({"opslimit": 2.0}, "must be integers"),
        ({"opslimit": True}, "must be integers"),
        ({"opslimit": "2"}, "must be integers"),
        ({"salt": "zz" * 16}, "salt must be 16 bytes of hex"),
        ({"salt": "00" * 15}, "salt must be 16 bytes of hex"),
        ({"check": "00" * 8}, "check must be 16 bytes of hex"),
        ({"kdf": "scrypt"}, "unknown key derivation"),
        ({"version": 3}, "unknown version 3"),
        ({"extra": 1}, "must have exactly the fields"),
        ({"memlimit": None}, "must be integers"),
    ],
)
def test_invalid_key_parameters_are_refused_before_argon2id(
    home: Path, change: dict[str, object], message: str
) -> None:
    doc = params_doc(home)
    doc.update(change)
    (home / PARAMS_NAME).write_text(json.dumps(doc))
    with pytest.raises(InvalidKeyParams, match=message):
        unlock(home, PASSPHRASE)


@pytest.mark.parametrize("content", [b"", b"[]", b"{", b"\xff\xfe", b" " * 5000, b'{"version": 2}'])
def test_unreadable_key_parameter_files_are_refused(home: Path, content: bytes) -> None:
    (home / PARAMS_NAME).write_bytes(content)
    with pytest.raises(InvalidKeyParams):
        unlock(home, PASSPHRASE)


def test_costs_stay_within_the_documented_bounds() -> None:
    for ops, mem in COSTS.values():
        assert OPSLIMIT_RANGE[0] <= ops <= OPSLIMIT_RANGE[1]
        assert MEMLIMIT_RANGE[0] <= mem <= MEMLIMIT_RANGE[1]
    assert OPSLIMIT_RANGE[0] >= 2 and MEMLIMIT_RANGE[0] >= 64 * 1024 * 1024
    with pytest.raises(ClientError, match="unknown key-derivation cost 'cheap'"):
        KdfParams.new(os.urandom, "cheap")
    with pytest.raises(InvalidKeyParams):
        derive_key("x", KdfParams(bytes(16), 1, MEMLIMIT_RANGE[0]))


def test_cli_refuses_an_unknown_kdf_cost(tmp_path: Path) -> None:
    env = dict(os.environ, CAUCUS_PASSPHRASE=PASSPHRASE, CAUCUS_KDF_COST="cheap")
    result = subprocess.run(
        [sys.executable, "-m", "app", "--home", str(tmp_path / "p"), "init", "--name", "A",
         "--relay", "http://127.0.0.1:9"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr == "caucus: unknown key-derivation cost 'cheap' (moderate or interactive)\n"
    )
    assert not (tmp_path / "p" / DB_NAME).exists()


def test_version_1_parameters_still_open_and_gain_a_key_check(home: Path) -> None:
    doc = params_doc(home)
    del doc["check"]
    doc["version"] = 1
    (home / PARAMS_NAME).write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase, match=r"^wrong passphrase$"):
        unlock(home, "incorrect horse")
    assert "check" not in params_doc(home)
    unlock(home, PASSPHRASE).close()
    upgraded = params_doc(home)
    assert upgraded["version"] == 2 and isinstance(upgraded["check"], str)
    unlock(home, PASSPHRASE).close()


def _interrupt_passphrase_change(home: Path, new: str, *, rekeyed: bool) -> None:
    """``change_passphrase`` stopped before renaming the new parameter file."""
    db = unlock(home, PASSPHRASE)
    params = KdfParams.new(os.urandom, "interactive")
    key = derive_key(new, params)
    save_params(home / "key-params.json.new", params.with_check(key))
    if rekeyed:
        db.rekey(key)
    db.close()


def test_interrupted_change_after_rekey_survives_typos(home: Path) -> None:
    _interrupt_passphrase_change(home, "new horse", rekeyed=True)
    with pytest.raises(WrongPassphrase, match=r"^wrong passphrase$"):
        unlock(home, "typo horse")
    with pytest.raises(WrongPassphrase, match="interrupted, use the new one"):
        unlock(home, PASSPHRASE)
    assert (home / "key-params.json.new").exists(), "nothing was thrown away"
    unlock(home, "new horse").close()
    assert not (home / "key-params.json.new").exists()
    unlock(home, "new horse").close()


def test_interrupted_change_before_rekey_keeps_the_old_passphrase(home: Path) -> None:
    _interrupt_passphrase_change(home, "new horse", rekeyed=False)
    with pytest.raises(WrongPassphrase, match="interrupted before it took effect, use the old"):
        unlock(home, "new horse")
    unlock(home, PASSPHRASE).close()
    assert not (home / "key-params.json.new").exists()
    with pytest.raises(WrongPassphrase):
        unlock(home, "new horse")


def _drop_capabilities() -> None:
    """In the child: give up root's power to ignore file modes (CAP_DAC_OVERRIDE...), so
    a read-only mode binds as it does for everyone else. Harmless when not root."""
    libc = ctypes.CDLL(None, use_errno=True)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    for capability in range(64):  # the bounding set, or exec as root regains them all
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP; EINVAL past the last one
    header, data = Header(0x20080522, 0), (Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


@pytest.fixture
def read_only(home: Path) -> Iterator[Path]:
    yield home
    for path in [home, *home.iterdir()]:
        path.chmod(0o700 if path == home else 0o600)


@pytest.mark.parametrize("what", ["folder", "files", "both"])
def test_read_only_profile_says_so(read_only: Path, what: str) -> None:
    home = read_only
    if what in ("files", "both"):
        for path in home.iterdir():
            path.chmod(0o400)
    if what in ("folder", "both"):
        home.chmod(0o500)
    env = dict(os.environ, CAUCUS_PASSPHRASE=PASSPHRASE)
    result = subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), "fingerprint"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
        preexec_fn=_drop_capabilities,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(f"caucus: the profile in {home.resolve()} is read-only")
    assert result.stderr.count("\n") == 1


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_profile_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    previous = os.umask(0)
    try:
        db = create_profile(
            home,
            name="Alice",
            relay_url="http://127.0.0.1:9",
            passphrase=PASSPHRASE,
            rng=os.urandom,
            now=0,
            cost="interactive",
        )
        with db.transaction():
            db.execute("INSERT INTO warnings (kind, detail, at) VALUES ('x', 'y', 0)")
        names = {p.name for p in home.iterdir()}
        assert {DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", PARAMS_NAME, LOCK_NAME} <= names
        for path in home.iterdir():
            assert _mode(path) == 0o600, path.name
        assert _mode(home) == 0o700
        change_passphrase(home, db, "new horse", os.urandom, cost="interactive")
        assert _mode(home / PARAMS_NAME) == 0o600
        db.close()
    finally:
        os.umask(previous)


def test_older_profiles_are_made_private_when_opened(home: Path) -> None:
    home.chmod(0o755)
    for path in home.iterdir():
        path.chmod(0o644)
    unlock(home, PASSPHRASE).close()
    assert _mode(home) == 0o700
    assert {p.name: _mode(p) for p in home.iterdir()} == {p.name: 0o600 for p in home.iterdir()}
