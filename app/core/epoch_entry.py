"""Entering an epoch without keeping its secret (docs/protocol.md 3.1).

From ``E_k`` a client derives the epoch's keys and the first chain key of every sender
of the roster, stores those, and forgets ``E_k``: what the profile holds afterwards opens
only messages at or after each chain's current position, never one already read.
Profiles written before migration 0012 kept the bare secret; ``convert_legacy`` turns it
into the same stored form, keeping every chain that already moved on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.database import Database
from app.core.store import groups as store
from crypto.group_log import GroupState
from crypto.key_schedule import EpochKeys
from crypto.ratchet import ReceiveChain, SendChain

__all__ = ["EnteredEpoch", "convert_legacy", "enter_epoch"]


@dataclass(frozen=True)
class EnteredEpoch:
    """What a client keeps of a live epoch: its keys (no secret) and every chain."""

    keys: EpochKeys
    send_chain: SendChain | None
    recv_chains: dict[int, ReceiveChain] = field(repr=False)


def _start(
    state: GroupState,
    secret: bytes,
    my_pk: bytes,
    send: SendChain | None,
    recv: dict[int, ReceiveChain],
) -> EnteredEpoch:
    keys = EpochKeys.derive(state.group_id, state.seq, secret)
    chains = {
        index: recv[index] if index in recv and recv[index].epoch == keys.epoch else None
        for index in range(len(state.roster()))
    }
    started = {
        index: chain if chain is not None else ReceiveChain.start(keys, index)
        for index, chain in chains.items()
    }
    mine: SendChain | None = None
    if state.is_member(my_pk):
        mine = send if send is not None and send.epoch == keys.epoch else None
        if mine is None:
            mine = SendChain.start(keys, state.sender_index(my_pk))
    return EnteredEpoch(keys.without_secret(), mine, started)


def _store(db: Database, entered: EnteredEpoch) -> None:
    group_id = entered.keys.group_id
    store.clear_chains(db, group_id)
    store.save_epoch_keys(db, entered.keys)
    store.save_recv_chains(db, group_id, entered.recv_chains)
    if entered.send_chain is not None:
        store.save_send_chain(db, group_id, entered.send_chain)


def enter_epoch(db: Database, state: GroupState, secret: bytes, my_pk: bytes) -> EnteredEpoch:
    """Store epoch ``state.seq``'s keys and fresh chains for every sender, replacing the
    previous epoch's; ``secret`` is not stored. Joins the caller's transaction."""
    entered = _start(state, secret, my_pk, None, {})
    _store(db, entered)
    return entered


def convert_legacy(db: Database, group_id: bytes, my_pk: bytes) -> bool:
    """Replace a group's stored bare epoch secret (before 0012) by its keys and chains,
    keeping the chains already stored for that epoch. False when there was none."""
    legacy = store.load_legacy_epoch(db, group_id)
    if legacy is None:
        return False
    state = GroupState.replay(store.load_log(db, group_id, upto=legacy.epoch))
    entered = _start(
        state,
        legacy.secret,
        my_pk,
        store.load_send_chain(db, group_id),
        store.load_recv_chains(db, group_id),
    )
    _store(db, entered)
    return True
