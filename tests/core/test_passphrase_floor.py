"""The passphrase strength floor and the Argon2id minimum (issue #9, item 8 of 9).

A new profile's passphrase and a changed one must reach zxcvbn's score 3, or are refused
with one line; ``CAUCUS_ALLOW_WEAK_PASSPHRASE=1`` (exactly) lets scripts and tests through.
No key-derivation cost goes below ``MIN_COST`` (3 passes, 64 MiB), and a profile whose key
was made with less is re-keyed at the minimum when it is unlocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.errors import ClientError
from app.core.passphrase import (
    COSTS,
    MIN_COST,
    KdfParams,
    derive_key,
    load_params,
    save_params,
)
from app.core.passphrase_policy import ALLOW_WEAK_ENV, MIN_SCORE, WeakPassphrase, rate
from app.core.profile import (
    DB_NAME,
    PARAMS_NAME,
    change_passphrase,
    create_profile,
    unlock,
    unlock_with_key,
)

STRONG = "correct horse battery staple"


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """The floor as people get it: the test suite's explicit override removed."""
    monkeypatch.delenv(ALLOW_WEAK_ENV, raising=False)


def new_profile(home: Path, passphrase: str, **options: object) -> None:
    db = create_profile(
        home,
        name="Ana",
        relay_url="http://127.0.0.1:9",
        passphrase=passphrase,
        rng=os.urandom,
        now=int(time.time() * 1000),
        cost="interactive",
        **options,  # type: ignore[arg-type]
    )
    db.close()


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize(
    ("passphrase", "why"),
    [
        ("password", "this is a top-10 common password"),
        ("x", "it is easy to guess"),
        ("Ana1234", "this is similar to a commonly used password"),
    ],
)
def test_a_weak_passphrase_is_refused_with_one_line(
    tmp_path: Path, passphrase: str, why: str
) -> None:
    with pytest.raises(WeakPassphrase) as refused:
        new_profile(tmp_path / "p", passphrase)
    assert str(refused.value) == (
        f"the passphrase is too weak ({why}): use four or more unrelated words"
    )
    assert not (tmp_path / "p" / DB_NAME).exists()


@pytest.mark.usefixtures("strict")
def test_a_strong_passphrase_passes_and_an_empty_one_never_does(tmp_path: Path) -> None:
    assert rate(STRONG).score >= MIN_SCORE
    new_profile(tmp_path / "p", STRONG)
    with pytest.raises(ClientError, match="must not be empty"):
        new_profile(tmp_path / "q", "", allow_weak=True)


@pytest.mark.usefixtures("strict")
def test_the_override_is_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("0", "yes", "true", ""):
        monkeypatch.setenv(ALLOW_WEAK_ENV, value)
        with pytest.raises(WeakPassphrase):
            new_profile(tmp_path / f"p{value}", "pw")
    monkeypatch.setenv(ALLOW_WEAK_ENV, "1")
    new_profile(tmp_path / "p1", "pw")
    monkeypatch.delenv(ALLOW_WEAK_ENV)
    new_profile(tmp_path / "p2", "pw", allow_weak=True)


@pytest.mark.usefixtures("strict")
def test_changing_to_a_weak_passphrase_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "p"
    new_profile(home, STRONG)
    db = unlock(home, STRONG)
    try:
        with pytest.raises(WeakPassphrase):
            change_passphrase(home, db, "x", os.urandom, "interactive")
        change_passphrase(home, db, "another four unrelated words", os.urandom, "interactive")
    finally:
        db.close()
    unlock(home, "another four unrelated words").close()


def caucus_init(home: Path, passphrase: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != ALLOW_WEAK_ENV}
    environ.update(CAUCUS_PASSPHRASE=passphrase, CAUCUS_KDF_COST="interactive", **env)
    return subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), "init", "--name", "Ana",
         "--relay", "http://127.0.0.1:9"],
        env=environ, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_cli_refuses_a_weak_passphrase_unless_told_otherwise(tmp_path: Path) -> None:
    refused = caucus_init(tmp_path / "a", "password")
    assert refused.returncode == 1
    assert refused.stderr == (
        "caucus: the passphrase is too weak (this is a top-10 common password):"
        " use four or more unrelated words\n"
    )
    one = caucus_init(tmp_path / "b", "x")
    assert one.returncode == 1 and one.stderr.startswith("caucus: the passphrase is too weak")
    assert not (tmp_path / "a" / DB_NAME).exists() and not (tmp_path / "b" / DB_NAME).exists()
    allowed = caucus_init(tmp_path / "c", "x", **{ALLOW_WEAK_ENV: "1"})
    assert allowed.returncode == 0, allowed.stderr


# -- the Argon2id minimum ------------------------------------------------------------------


def test_no_cost_goes_below_the_documented_minimum(tmp_path: Path) -> None:
    assert MIN_COST == (3, 64 * 1024 * 1024)
    for cost, (ops, mem) in COSTS.items():
        assert ops >= MIN_COST[0] and mem >= MIN_COST[1], cost
        params = KdfParams.new(os.urandom, cost)
        assert (params.opslimit, params.memlimit) == (ops, mem)
        assert not params.below_minimum
    new_profile(tmp_path / "p", STRONG)
    stored = json.loads((tmp_path / "p" / PARAMS_NAME).read_text())
    assert (stored["opslimit"], stored["memlimit"]) == MIN_COST


def test_a_key_made_below_the_minimum_is_remade_at_it_on_unlock(tmp_path: Path) -> None:
    """A profile from version 1 made with CAUCUS_KDF_COST=interactive (2 passes)."""
    home = tmp_path / "p"
    new_profile(home, STRONG)
    db = unlock(home, STRONG)
    old = KdfParams(os.urandom(16), 2, 64 * 1024 * 1024)
    old_key = derive_key(STRONG, old)
    db.rekey(old_key)
    save_params(home / PARAMS_NAME, old.with_check(old_key))
    db.close()
    assert load_params(home / PARAMS_NAME).below_minimum

    db, key = unlock_with_key(home, STRONG)
    db.close()
    params = load_params(home / PARAMS_NAME)
    assert (params.opslimit, params.memlimit) == MIN_COST and params.check is not None
    assert key != old_key and params.confirms(key)
    unlock(home, STRONG).close()  # opens with the new key, nothing left pending
    assert not (home / "key-params.json.new").exists()
