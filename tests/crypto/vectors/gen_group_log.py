"""Regenerate ``group_log.json``: log entries, entry hashes, epoch commitments, one commit
item and one invite code with its derived secrets.

Every input is fixed (SHA-256 of a name), including the randomness a commit consumes, so
running this again must reproduce the file byte for byte.  ``tests/crypto/test_group_log.py``,
``test_commit.py`` and ``test_invite.py`` check our code against it and recompute what an
independent implementation can (BLAKE2b with PyNaCl's ``nacl.hash.blake2b``, Ed25519 with
pyca/cryptography, base64 and field layout by hand).

    python tests/crypto/vectors/gen_group_log.py > tests/crypto/vectors/group_log.json
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import nacl.public
import nacl.signing

from crypto.commit import seal_commit
from crypto.group_log import (
    EntryKind,
    GroupState,
    LogEntry,
    MemberRecord,
    Role,
    add_body,
    create_body,
)
from crypto.identity import Identity
from crypto.invite import InviteCode
from crypto.key_schedule import EpochKeys, epoch_commitment

T0 = 1_700_000_000_000


def fixed(name: str, size: int = 32) -> bytes:
    """A fixed test input: the first ``size`` bytes of SHA-256("caucus vector " + name)."""
    return hashlib.sha256(b"caucus vector " + name.encode()).digest()[:size]


def person(name: str) -> Identity:
    return Identity.from_keys(
        nacl.signing.SigningKey(fixed(name + " identity")),
        nacl.public.PrivateKey(fixed(name + " delivery")),
        T0,
    )


class ListRng:
    """Hands out the given byte strings in order; any other request is a bug."""

    def __init__(self, values: list[bytes]) -> None:
        self._values = list(values)

    def __call__(self, size: int) -> bytes:
        value = self._values.pop(0)
        if len(value) != size:
            raise ValueError("vector rng asked for an unexpected size")
        return value


def entry_vector(entry: LogEntry, secret: bytes) -> dict[str, object]:
    return {
        "kind": entry.kind.name,
        "seq": entry.seq,
        "timestamp": entry.timestamp,
        "author": entry.author.hex(),
        "body": entry.body.hex(),
        "epoch_secret": secret.hex(),
        "epoch_commitment": entry.epoch_commitment.hex(),
        "signature": entry.signature.hex(),
        "encoded": entry.encode().hex(),
        "entry_hash": entry.hash.hex(),
    }


def log_vectors() -> dict[str, object]:
    alice, bob = person("alice"), person("bob")
    group_id = fixed("group id", 16)
    entries, secrets = [], []
    create_secret = fixed("epoch secret 0")
    entries.append(
        LogEntry.sign(
            alice,
            group_id=group_id,
            seq=0,
            prev_hash=bytes(32),
            timestamp=T0,
            kind=EntryKind.CREATE,
            body=create_body(
                "Riders Union", MemberRecord.for_identity(alice, "Alice", Role.ORGANIZER)
            ),
            epoch_commitment=epoch_commitment(group_id, 0, create_secret),
        )
    )
    secrets.append(create_secret)
    add_secret = fixed("epoch secret 1")
    entries.append(
        LogEntry.sign(
            alice,
            group_id=group_id,
            seq=1,
            prev_hash=entries[0].hash,
            timestamp=T0 + 1000,
            kind=EntryKind.ADD,
            body=add_body(MemberRecord.for_identity(bob, "Bob", Role.MEMBER)),
            epoch_commitment=epoch_commitment(group_id, 1, add_secret),
        )
    )
    secrets.append(add_secret)
    rekey_secret = fixed("epoch secret 2")
    entries.append(
        LogEntry.sign(
            bob,
            group_id=group_id,
            seq=2,
            prev_hash=entries[1].hash,
            timestamp=T0 + 2000,
            kind=EntryKind.REKEY,
            body=b"",
            epoch_commitment=epoch_commitment(group_id, 2, rekey_secret),
        )
    )
    secrets.append(rekey_secret)
    state = GroupState.replay(entries)
    # The commit carrying the REKEY: AEAD nonce, one ephemeral key per member box, then
    # for each of the 6 dummy boxes (8 slots) a secret and 105 bytes (SHAKE-256 of a name).
    randomness = [fixed("commit nonce", 24), fixed("box 0 ephemeral"), fixed("box 1 ephemeral")]
    for index in range(2, 8):
        randomness.append(fixed(f"dummy box {index} secret"))
        randomness.append(
            hashlib.shake_256(f"caucus vector dummy box {index}".encode()).digest(105)
        )
    prev_keys = EpochKeys.derive(group_id, 1, add_secret)
    commit = seal_commit(prev_keys, entries[2], state, rekey_secret, ListRng(randomness))
    return {
        "identities": {
            name: {
                "identity_seed": fixed(name + " identity").hex(),
                "delivery_seed": fixed(name + " delivery").hex(),
                "identity_pk": who.public_key.hex(),
                "delivery_cert": who.delivery_cert.encode().hex(),
            }
            for name, who in (("alice", alice), ("bob", bob))
        },
        "group_id": group_id.hex(),
        "entries": [entry_vector(e, s) for e, s in zip(entries, secrets, strict=True)],
        "final_head": state.head.hex(),
        "commit": {
            "prev_epoch": 1,
            "prev_epoch_secret": add_secret.hex(),
            "commit_key": prev_keys.commit_key.hex(),
            "randomness": [r.hex() for r in randomness],
            "item": commit.hex(),
        },
    }


def invite_vector() -> dict[str, object]:
    alice = person("alice")
    code = InviteCode("https://relay.example.org", fixed("invite secret"), alice.fingerprint)
    secrets = code.secrets
    return {
        "relay_url": code.relay_url,
        "secret": code.secret.hex(),
        "inviter_fingerprint": code.inviter_fingerprint.hex(),
        "code": code.encode(),
        "invite_id": secrets.invite_id.hex(),
        "mailbox_id": secrets.mailbox_id.hex(),
        "capability": secrets.capability.hex(),
        "key": secrets.key.hex(),
    }


def main() -> None:
    vectors = {"log": log_vectors(), "invite": invite_vector()}
    sys.stdout.write(json.dumps(vectors, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
