"""What the profile keeps across restarts besides groups: verified keys, its own name and
relay; and which command lines open the desktop app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.__main__ import _wants_desktop
from app.core.profile import create_profile_with_key, open_with_key, unlock
from app.core.queries import Queries
from app.core.verified_keys import VerifiedMark, set_verified, verified_keys


def test_verified_keys_survive_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    db, key = create_profile_with_key(
        home,
        name="Alice",
        relay_url="http://127.0.0.1:1/",
        passphrase="pw",
        rng=os.urandom,
        now=1,
        cost="interactive",
    )
    bob_pk, carol_pk = os.urandom(32), os.urandom(32)
    set_verified(db, bob_pk, "Bob", True, 5)
    set_verified(db, carol_pk, "Carol", True, 6)
    set_verified(db, carol_pk, "Carol", False, 7)
    db.close()

    again = unlock(home, "pw")
    assert verified_keys(again) == {bob_pk: VerifiedMark("Bob", b"")}
    profile = Queries.reader(again).profile()
    assert (profile.name, profile.relay_url) == ("Alice", "http://127.0.0.1:1")
    again.close()
    # The key create_profile_with_key returned opens the database without Argon2id.
    reader = open_with_key(home, key)
    assert verified_keys(reader) == {bob_pk: VerifiedMark("Bob", b"")}
    reader.close()


@pytest.mark.parametrize(
    ("args", "desktop"),
    [
        ([], True),
        (["--embedded-relay"], True),
        (["--home", "/tmp/p"], True),
        (["--home=/tmp/p", "caucus://join#abc"], True),
        (["caucus://join#abc"], True),
        (["--home", "/tmp/p", "sync"], False),
        (["messages", "G", "--json"], False),
        (["--home"], False),
    ],
)
def test_command_lines_without_a_subcommand_open_the_desktop(
    args: list[str], desktop: bool
) -> None:
    assert _wants_desktop(args) is desktop
