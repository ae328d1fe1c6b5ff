"""P13, forward secrecy that survives seizure (docs/protocol.md 3.1-3.2, threat model row
"seized laptop + relay recording"), run as the attack: a man in the middle in front of a
real relay process records every byte of three members' traffic over several epochs;
then Bob's laptop is seized (his SQLCipher file, its write-ahead log and his passphrase).

The attacker tries every recorded commit box, welcome and message with every key the
profile holds. Exactly the documented window opens: the epochs from the entry that
certified Bob's current delivery key in the group (his last DELIVERY_KEY) to the live one.
Nothing older opens, and every page of the file, free pages included, is free of the old
delivery private keys and old epoch secrets.
"""

from __future__ import annotations

from pathlib import Path

import nacl.public
import nacl.signing
import pytest

from app.core.engine import Engine
from crypto.group_log import EntryKind
from crypto.identity import Identity
from crypto.items import ItemType, peek_item
from crypto.key_schedule import EpochKeys
from tests.attacks.seizure import SeizedProfile, mailbox_items, open_recording
from tests.attacks.world import AttackWorld
from tests.core.harness import befriend, run, sync_all

pytestmark = pytest.mark.socket


def _delivery_secrets(engine: Engine) -> list[bytes]:
    return [bytes(r[0]) for r in engine.db.all("SELECT secret FROM delivery_keys")]


async def _round(group_id: bytes, label: str, alice: Engine, bob: Engine, carol: Engine) -> None:
    """Messages both ways that Bob reads, then a new epoch."""
    await alice.send_text(group_id, f"{label}: from alice")
    await bob.sync()
    await bob.send_text(group_id, f"{label}: from bob")
    await sync_all(carol, alice)
    await alice.rekey(group_id)
    await sync_all(bob, carol, alice)


def test_a_seized_profile_opens_only_the_documented_window(
    attack_world: AttackWorld, tmp_path: Path
) -> None:
    alice, bob, carol = (attack_world.member(n) for n in ("alice", "bob", "carol"))
    old_secrets: list[bytes] = []

    async def scenario() -> bytes:
        group_id = await alice.create_group("Seizure")
        await befriend(alice, group_id, bob, carol)
        await sync_all(alice, bob, carol)
        for n in range(3):
            await _round(group_id, f"before {n}", alice, bob, carol)
        old_secrets.extend(_delivery_secrets(bob))  # what a seizure now would have found
        await bob.rotate_delivery_key(group_id)
        await sync_all(alice, carol)
        for n in range(2):
            await _round(group_id, f"after {n}", alice, bob, carol)
        await bob.sync()
        return group_id

    group_id = run(scenario())
    seized = SeizedProfile.seize(
        attack_world.home("bob"), attack_world.passphrase("bob"), tmp_path / "seized"
    )
    seen = attack_world.adversary.items()
    bob_pk = bob.identity.public_key
    log = seized.logs[group_id]
    window_start = max(
        e.seq for e in log if e.kind == EntryKind.DELIVERY_KEY and e.author == bob_pk
    )
    live = seized.epoch_keys[group_id].epoch
    mailbox_id = bob.session(group_id).mailbox_id
    items = mailbox_items(seen, mailbox_id)
    message_epochs = {peek_item(i)[2] for i in items if peek_item(i)[1] == ItemType.MESSAGE}
    assert any(e < window_start for e in message_epochs), "no older traffic to protect"

    # The attack: every key in the seized profile against every recorded item.
    opened = open_recording(seen, group_id, mailbox_id, seized, seized.identities())
    assert opened.epochs() == set(range(window_start, live + 1))
    assert opened.messages and min(opened.messages) >= window_start
    assert opened.welcomes == 0

    # Without the delivery keys, the stored epoch keys and chains open nothing Bob read.
    stored_only = open_recording(seen, group_id, mailbox_id, seized, [])
    assert stored_only.messages == {}

    # Control: the keys Bob held before his rotation would have opened the older epochs,
    # so the window above is the rotation's doing, not the recording's emptiness.
    signing = nacl.signing.SigningKey(seized.identity_seed)
    before = [Identity.from_keys(signing, nacl.public.PrivateKey(s), 0) for s in old_secrets]
    older = open_recording(seen, group_id, mailbox_id, seized, before)
    old_epochs = {epoch for epoch in older.epochs() if epoch < window_start}
    assert old_epochs and any(e < window_start for e in older.messages)

    # Canaries: no page of the file or its log, free pages included, holds an old
    # delivery private key, an old epoch secret or a key derived from one.
    pages = seized.decrypted_pages()
    current = [s for s in seized.delivery_secrets if s not in old_secrets]
    assert any(s in pages for s in current), "the page decryption reads nothing"
    retired = [s for s in old_secrets if s not in seized.delivery_secrets]
    assert retired
    for secret in retired:
        assert secret not in pages
    for (gid, epoch), secret in older.secrets.items():
        if epoch < window_start:
            assert secret not in pages
            assert EpochKeys.derive(gid, epoch, secret).commit_key not in pages
