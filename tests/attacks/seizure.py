"""The attacker of P13: a relay recording plus one seized profile (its SQLCipher file, the
passphrase, and every page of the file on disk, free pages included).

``SeizedProfile`` reads every key the profile holds, straight from its tables;
``decrypted_pages`` decrypts every page of the database file and its write-ahead log
with the raw key (SQLCipher 4: AES-256-CBC per page, the IV in the page's reserved tail),
so a deleted row that lingers in a free page or an old log frame is found by a grep.
``open_recording`` tries every recorded commit box, welcome and message with all of it.
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import nacl.public
import nacl.signing
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.core.database import PAGE_SIZE
from app.core.profile import DB_NAME, unlock_with_key
from crypto.commit import open_epoch_delivery
from crypto.errors import CaucusError
from crypto.group_log import GroupState, LogEntry, MemberRecord
from crypto.identity import Identity
from crypto.items import ItemType, peek_item
from crypto.key_schedule import EpochKeys
from crypto.message import open_message, open_sender_data
from crypto.ratchet import ReceiveChain
from crypto.sealed import open_sealed
from tests.attacks.mitm import Seen

_RESERVE = 80  # SQLCipher 4: 16-byte IV + 64-byte HMAC-SHA512 at the end of every page
_SALT = 16  # page 1 starts with the file's salt instead of "SQLite format 3"
_WAL_HEADER = 32
_FRAME_HEADER = 24


@dataclass
class SeizedProfile:
    """Every key a seized profile holds, read from its tables with its passphrase."""

    delivery_secrets: list[bytes]
    epoch_keys: dict[bytes, EpochKeys]
    recv_chains: dict[tuple[bytes, int], ReceiveChain]
    logs: dict[bytes, list[LogEntry]]
    identity_seed: bytes
    raw_key: bytes = field(repr=False)
    files: dict[str, bytes] = field(repr=False)

    @classmethod
    def seize(cls, home: Path, passphrase: str, copy_to: Path) -> SeizedProfile:
        """Copy the profile folder as it is on disk, then read the copy."""
        shutil.copytree(home, copy_to)
        files = {p.name: p.read_bytes() for p in copy_to.iterdir() if p.name.startswith(DB_NAME)}
        db, raw_key = unlock_with_key(copy_to, passphrase)
        try:
            (seed, profile_delivery) = db.one("SELECT signing_seed, delivery_secret FROM profile")
            secrets = [bytes(profile_delivery)]
            secrets += [bytes(r[0]) for r in db.all("SELECT secret FROM delivery_keys")]
            epoch_keys = {
                bytes(g): EpochKeys.decode(bytes(k))
                for g, k in db.all("SELECT group_id, keys FROM epoch_keys")
            }
            chains = {
                (bytes(g), int(i)): ReceiveChain.decode(bytes(c))
                for g, i, c in db.all("SELECT group_id, sender_index, chain FROM recv_chains")
            }
            logs: dict[bytes, list[LogEntry]] = {}
            for g, raw in db.all("SELECT group_id, entry FROM log_entries ORDER BY group_id, seq"):
                logs.setdefault(bytes(g), []).append(LogEntry.decode(bytes(raw)))
        finally:
            db.close()
        return cls(secrets, epoch_keys, chains, logs, bytes(seed), raw_key, files)

    def identities(self) -> list[Identity]:
        """The owner's identity holding each seized delivery key in turn."""
        signing = nacl.signing.SigningKey(self.identity_seed)
        return [
            Identity.from_keys(signing, nacl.public.PrivateKey(secret), 0)
            for secret in self.delivery_secrets
        ]

    def decrypted_pages(self) -> bytes:
        """Every page of the database file and of its write-ahead log, decrypted: live,
        free and stale pages alike."""
        out = []
        main = self.files.get(DB_NAME, b"")
        for number in range(len(main) // PAGE_SIZE):
            out.append(self._page(main[number * PAGE_SIZE : (number + 1) * PAGE_SIZE], number + 1))
        wal = self.files.get(DB_NAME + "-wal", b"")
        offset = _WAL_HEADER
        while offset + _FRAME_HEADER + PAGE_SIZE <= len(wal):
            (number,) = struct.unpack(">I", wal[offset : offset + 4])
            page = wal[offset + _FRAME_HEADER : offset + _FRAME_HEADER + PAGE_SIZE]
            out.append(self._page(page, number))
            offset += _FRAME_HEADER + PAGE_SIZE
        return b"".join(out)

    def _page(self, page: bytes, number: int) -> bytes:
        start = _SALT if number == 1 else 0
        iv = page[PAGE_SIZE - _RESERVE : PAGE_SIZE - _RESERVE + 16]
        decryptor = Cipher(algorithms.AES(self.raw_key), modes.CBC(iv)).decryptor()
        return decryptor.update(page[start : PAGE_SIZE - _RESERVE]) + decryptor.finalize()


@dataclass
class Opened:
    """What the attacker read: epoch secrets by (group, epoch), messages by epoch."""

    secrets: dict[tuple[bytes, int], bytes] = field(default_factory=dict)
    messages: dict[int, list[bytes]] = field(default_factory=dict)
    welcomes: int = 0

    def epochs(self) -> set[int]:
        return {epoch for _, epoch in self.secrets}


def _states(entries: list[LogEntry]) -> list[GroupState]:
    states = [GroupState.genesis(entries[0])]
    for entry in entries[1:]:
        states.append(states[-1].apply(entry))
    return states


def mailbox_items(seen: list[Seen], mailbox_id: bytes) -> list[bytes]:
    """Every distinct item recorded in one group mailbox, in the order first seen."""
    box = f"mailboxes/{mailbox_id.hex()}"
    return list(dict.fromkeys(s.item for s in seen if s.box == box))


def open_recording(
    seen: list[Seen],
    group_id: bytes,
    mailbox_id: bytes,
    seized: SeizedProfile,
    keys: list[Identity],
) -> Opened:
    """Try every recorded item with ``keys`` (delivery keys) and the seized epoch keys and
    chains; return what opened. The log (and so every roster) comes from the profile."""
    opened = Opened()
    entries = seized.logs[group_id]
    states = _states(entries)
    items = mailbox_items(seen, mailbox_id)
    inbox_items = list(dict.fromkeys(s.item for s in seen if s.box.startswith("inboxes/")))
    owner = bytes(nacl.signing.SigningKey(seized.identity_seed).verify_key)
    for item in items:
        _, kind, epoch = peek_item(item)
        if kind != ItemType.COMMIT or epoch + 1 >= len(entries):
            continue
        entry, state = entries[epoch + 1], states[epoch + 1]
        if not state.is_member(owner):
            continue
        for identity in keys:
            try:
                secret = open_epoch_delivery(item, entry, state, identity)
            except CaucusError:
                continue
            opened.secrets[(group_id, entry.seq)] = secret
    for item in inbox_items:
        for identity in keys:
            try:
                open_sealed(identity.delivery_key, item)
            except CaucusError:
                continue
            opened.welcomes += 1
    live = seized.epoch_keys.get(group_id)
    for item in items:
        _, kind, epoch = peek_item(item)
        if kind != ItemType.MESSAGE or epoch >= len(states):
            continue
        roster = states[epoch].roster()
        body = _open_with_secret(item, group_id, epoch, opened, roster)
        if body is None and live is not None and live.epoch == epoch:
            body = _open_with_chains(item, group_id, live, seized, roster)
        if body is not None:
            opened.messages.setdefault(epoch, []).append(body)
    return opened


def _open_with_secret(
    item: bytes, group_id: bytes, epoch: int, opened: Opened, roster: tuple[MemberRecord, ...]
) -> bytes | None:
    secret = opened.secrets.get((group_id, epoch))
    if secret is None:
        return None
    keys = EpochKeys.derive(group_id, epoch, secret)
    try:
        envelope = open_sender_data(keys, item)
        chain = ReceiveChain.start(keys, envelope.sender_index)
        message_keys, _ = chain.key_for(envelope.counter, max_skip=1 << 20)
        sender = roster[envelope.sender_index].identity_pk
        return open_message(keys, envelope, message_keys, sender).body
    except CaucusError:
        return None


def _open_with_chains(
    item: bytes,
    group_id: bytes,
    live: EpochKeys,
    seized: SeizedProfile,
    roster: tuple[MemberRecord, ...],
) -> bytes | None:
    try:
        envelope = open_sender_data(live, item)
        chain = seized.recv_chains[(group_id, envelope.sender_index)]
        message_keys, _ = chain.key_for(envelope.counter, max_skip=1 << 20)
        sender = roster[envelope.sender_index].identity_pk
        return open_message(live, envelope, message_keys, sender).body
    except (CaucusError, KeyError):
        return None
