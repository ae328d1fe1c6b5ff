"""Shared helpers for the group-log, commit and invite tests: seeded randomness and a
small in-memory group driven the way a client drives it (author, seal, open, apply)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.encoding
import nacl.hash

from crypto.commit import open_commit, open_epoch_delivery, seal_commit
from crypto.group_log import (
    EntryKind,
    GroupState,
    LogEntry,
    MemberRecord,
    Role,
    add_body,
    author_entry,
    create_group,
)
from crypto.identity import Identity
from crypto.key_schedule import EpochKeys

Rng = Callable[[int], bytes]

T0 = 1_700_000_000_000


class SeededRng:
    """Deterministic byte stream: block i is BLAKE2b-512(key=seed, data=u64 i).

    Used for the known-answer vectors, so the stream is specified here rather than
    borrowed from ``random`` (whose algorithm Python may change).
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = hashlib.blake2b(seed, digest_size=32).digest()
        self._counter = 0
        self._buffer = b""

    def __call__(self, size: int) -> bytes:
        while len(self._buffer) < size:
            block = hashlib.blake2b(
                self._counter.to_bytes(8, "big"), key=self._seed, digest_size=64
            ).digest()
            self._buffer += block
            self._counter += 1
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def identity(name: str) -> Identity:
    """A fixed identity per name, so tests and vectors are reproducible."""
    return Identity.generate(SeededRng(b"identity/" + name.encode()), T0)


@dataclass
class Group:
    """A group as every member sees it, with the log and the epoch secrets so far."""

    state: GroupState
    entries: list[LogEntry]
    secrets: list[bytes]
    rng: Rng
    commits: list[bytes] = field(default_factory=list)
    clock: int = T0

    @classmethod
    def create(cls, creator: Identity, name: str = "Riders Union", seed: bytes = b"g") -> Group:
        rng = SeededRng(b"group/" + seed)
        state, entry, secret = create_group(creator, "Creator", name, rng(16), T0, rng)
        return cls(state, [entry], [secret], rng)

    @property
    def keys(self) -> EpochKeys:
        return EpochKeys.derive(self.state.group_id, self.state.seq, self.secrets[-1])

    def author(self, who: Identity, kind: EntryKind, body: bytes = b"") -> bytes:
        """Author, apply and seal the next entry; returns the commit item."""
        self.clock += 1000
        prev_keys = self.keys
        entry, secret, new_state = author_entry(self.state, who, kind, body, self.clock, self.rng)
        item = seal_commit(prev_keys, entry, new_state, secret, self.rng)
        self.state = new_state
        self.entries.append(entry)
        self.secrets.append(secret)
        self.commits.append(item)
        return item

    def add(
        self, organizer: Identity, member: Identity, role: Role = Role.MEMBER, name: str = "M"
    ) -> bytes:
        record = MemberRecord.for_identity(member, name, role)
        return self.author(organizer, EntryKind.ADD, add_body(record))

    def sign_next(
        self, who: Identity, kind: EntryKind, body: bytes = b"", **overrides: object
    ) -> LogEntry:
        """A signed entry for the next position without validating it (for attacks)."""
        fields: dict[str, object] = {
            "group_id": self.state.group_id,
            "seq": self.state.seq + 1,
            "prev_hash": self.state.head,
            "timestamp": self.clock + 1000,
            "kind": kind,
            "body": body,
            "epoch_commitment": bytes(32),
        }
        fields.update(overrides)
        return LogEntry.sign(who, **fields)  # type: ignore[arg-type]


def receive(
    prev_keys: EpochKeys, state: GroupState, item: bytes, me: Identity
) -> tuple[GroupState, bytes]:
    """What a member's client does with a commit: open, validate, take its secret."""
    entry = open_commit(prev_keys, item)
    new_state = state.apply(entry)
    return new_state, open_epoch_delivery(item, entry, new_state, me)


# --- independent recomputation for the known-answer vectors ---------------------------

VECTORS_DIR = Path(__file__).parent / "vectors"


def load_vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS_DIR / "group_log.json").read_text())
    return data


def generated_vectors() -> str:
    """What ``gen_group_log.py`` prints now, for a byte-for-byte comparison with the file."""
    spec = importlib.util.spec_from_file_location("gen_group_log", VECTORS_DIR / "gen_group_log.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load the vector generator")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    vectors = {"log": module.log_vectors(), "invite": module.invite_vector()}
    return json.dumps(vectors, indent=2, sort_keys=True) + "\n"


def hand_frame(label: str, *parts: bytes) -> bytes:
    """Protocol section 0's frame, written out again from the text, not from crypto/kdf.py."""
    name = b"caucus/v1/" + label.encode()
    out = len(name).to_bytes(2, "big") + name
    for part in parts:
        out += len(part).to_bytes(4, "big") + part
    return out


def libsodium_hash(label: str, *parts: bytes, key: bytes = b"", size: int = 32) -> bytes:
    """H or KDF through libsodium's crypto_generichash (PyNaCl), not Python's hashlib."""
    return nacl.hash.blake2b(
        hand_frame(label, *parts), digest_size=size, key=key, encoder=nacl.encoding.RawEncoder
    )
