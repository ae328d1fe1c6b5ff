"""Linked devices in the group log (protocol section 8): DEVICE_ADD and DEVICE_REMOVE, the
rules every client enforces, per-slot sealing and per-member safety numbers."""

from __future__ import annotations

import dataclasses

import pytest

from crypto.ballot.keys import BallotKeyPair, BallotKeyRecord
from crypto.commit import open_commit, open_epoch_delivery
from crypto.device import (
    MAX_LINKED_DEVICES,
    DeviceAddBody,
    DeviceCert,
    device_add_body,
    device_remove_body,
    member_safety_number,
)
from crypto.device_channel import DeviceKeys, DeviceWelcome, channel_secrets
from crypto.device_link import LinkKind, LinkSecrets, open_link_item, seal_link_item
from crypto.errors import (
    BadSignature,
    DecryptionFailed,
    InvalidLogEntry,
    MalformedData,
    NotPermitted,
    UsageError,
)
from crypto.group_log import (
    EntryKind,
    GroupState,
    NotAMember,
    Role,
    remove_body,
    role_body,
)
from crypto.identity import Identity, safety_number
from crypto.key_schedule import EpochKeys
from crypto.message import open_message, open_sender_data, seal_message
from crypto.ratchet import ReceiveChain, SendChain
from crypto.welcome import Welcome
from tests.crypto.group_support import T0, Group, SeededRng, identity, receive

ALICE = identity("alice")
BOB = identity("bob")
CAROL = identity("carol")


def device(name: str) -> Identity:
    """A device's own keys: an Ed25519 signing key and a self-certified delivery key."""
    return Identity.generate(SeededRng(b"device/" + name.encode()), T0)


def link_body(owner: Identity, dev: Identity, name: str = "Laptop") -> bytes:
    return device_add_body(DeviceCert.issue(owner, dev.public_key, name, T0), dev.delivery_cert)


def group_of_three() -> Group:
    group = Group.create(ALICE)
    group.add(ALICE, BOB, name="Bob")
    group.add(ALICE, CAROL, name="Carol")
    return group


def test_a_device_certificate_round_trips_and_only_its_owner_signs_it() -> None:
    dev = device("bob-laptop")
    cert = DeviceCert.issue(BOB, dev.public_key, "Laptop", T0)
    assert DeviceCert.decode(cert.encode()) == cert
    forged = dataclasses.replace(cert, owner_pk=CAROL.public_key)
    with pytest.raises(BadSignature):
        DeviceCert.decode(forged.encode())
    renamed = dataclasses.replace(cert, device_name="Phone")
    with pytest.raises(BadSignature):
        DeviceCert.decode(renamed.encode())
    body = DeviceAddBody.decode(link_body(BOB, dev))
    assert body.cert == cert and body.delivery_cert == dev.delivery_cert
    other = device("someone-else")
    with pytest.raises(MalformedData):  # a delivery key certified by another key
        DeviceAddBody.decode(cert.encode() + other.delivery_cert.encode())


def test_a_member_adds_its_own_device_which_gets_a_slot_with_its_name_and_role() -> None:
    group = group_of_three()
    laptop = device("bob-laptop")
    group.author(BOB, EntryKind.DEVICE_ADD, link_body(BOB, laptop))
    state = group.state
    assert state.owner_of(laptop.public_key) == BOB.public_key
    assert state.devices_of(BOB.public_key) == (laptop.public_key,)
    assert [m.identity_pk for m in state.people()] == sorted(
        pk.public_key for pk in (ALICE, BOB, CAROL)
    )
    assert len(state.roster()) == 4  # slots: three members and one device
    slot = state.member(laptop.public_key)
    assert (slot.name, slot.role) == ("Bob", Role.MEMBER)
    # The whole log replays to the same state at every client.
    assert GroupState.replay(group.entries) == state


def test_nobody_adds_a_device_to_someone_else_and_every_client_refuses_the_forgery() -> None:
    group = group_of_three()
    mallory_dev = device("mallory")
    # Carol certifies her own key as Bob's device: the certificate does not verify.
    forged_cert = dataclasses.replace(
        DeviceCert.issue(CAROL, mallory_dev.public_key, "Laptop", T0), owner_pk=BOB.public_key
    )
    forged = group.sign_next(
        CAROL,
        EntryKind.DEVICE_ADD,
        forged_cert.encode() + mallory_dev.delivery_cert.encode(),
    )
    with pytest.raises(BadSignature):  # the certificate is not Bob's
        group.state.apply(forged)
    # Carol commits a genuine certificate of her device into Bob's member: refused.
    entry = group.sign_next(CAROL, EntryKind.DEVICE_ADD, link_body(BOB, mallory_dev))
    with pytest.raises(NotPermitted):
        group.state.apply(entry)
    # Even an organizer cannot add a device to another member.
    entry = group.sign_next(ALICE, EntryKind.DEVICE_ADD, link_body(BOB, mallory_dev))
    with pytest.raises(NotPermitted):
        group.state.apply(entry)


def test_a_linked_device_acts_for_its_member_but_only_within_its_rights() -> None:
    group = group_of_three()
    laptop = device("bob-laptop")
    group.author(BOB, EntryKind.DEVICE_ADD, link_body(BOB, laptop))
    # A member's device may add a further device of the same member.
    phone = device("bob-phone")
    group.author(laptop, EntryKind.DEVICE_ADD, link_body(BOB, phone, "Phone"))
    assert group.state.devices_of(BOB.public_key) == tuple(
        sorted((laptop.public_key, phone.public_key))
    )
    # Not an organizer: no organizer kinds from any of Bob's devices.
    entry = group.sign_next(laptop, EntryKind.REMOVE, remove_body(CAROL.public_key))
    with pytest.raises(NotPermitted):
        group.state.apply(entry)
    # Promoting Bob promotes all his slots; REMOVE and ROLE name members, not devices.
    group.author(ALICE, EntryKind.ROLE, role_body(BOB.public_key, Role.ORGANIZER))
    assert {group.state.member(pk).role for pk in (laptop.public_key, phone.public_key)} == {
        Role.ORGANIZER
    }
    for kind, body in (
        (EntryKind.REMOVE, remove_body(laptop.public_key)),
        (EntryKind.ROLE, role_body(laptop.public_key, Role.MEMBER)),
    ):
        with pytest.raises(InvalidLogEntry):
            group.state.apply(group.sign_next(ALICE, kind, body))
    # The same key twice, or a member's identity as a device, is refused.
    with pytest.raises(InvalidLogEntry):
        group.state.apply(group.sign_next(BOB, EntryKind.DEVICE_ADD, link_body(BOB, phone)))


def test_removing_a_member_or_its_leaving_takes_all_its_devices() -> None:
    group = group_of_three()
    laptop = device("carol-laptop")
    group.author(CAROL, EntryKind.DEVICE_ADD, link_body(CAROL, laptop))
    group.author(ALICE, EntryKind.REMOVE, remove_body(CAROL.public_key))
    assert not group.state.is_member(laptop.public_key)
    assert group.state.devices_of(CAROL.public_key) == ()
    bob_laptop = device("bob-laptop")
    group.author(BOB, EntryKind.DEVICE_ADD, link_body(BOB, bob_laptop))
    group.author(bob_laptop, EntryKind.LEAVE)  # a device leaves for its member
    assert not group.state.is_member(BOB.public_key)
    assert not group.state.is_member(bob_laptop.public_key)
    assert group.state.needs_rekey


def test_only_the_members_own_other_device_removes_a_device() -> None:
    group = group_of_three()
    laptop = device("bob-laptop")
    group.author(BOB, EntryKind.DEVICE_ADD, link_body(BOB, laptop))
    for author in (ALICE, CAROL):  # an organizer and another member
        with pytest.raises(NotPermitted):
            group.state.apply(
                group.sign_next(
                    author, EntryKind.DEVICE_REMOVE, device_remove_body(laptop.public_key)
                )
            )
    with pytest.raises(InvalidLogEntry):  # not by itself (it would choose the next secret)
        group.state.apply(
            group.sign_next(laptop, EntryKind.DEVICE_REMOVE, device_remove_body(laptop.public_key))
        )
    with pytest.raises(InvalidLogEntry):  # a member's own slot is not a linked device
        group.state.apply(
            group.sign_next(laptop, EntryKind.DEVICE_REMOVE, device_remove_body(BOB.public_key))
        )
    group.author(BOB, EntryKind.DEVICE_REMOVE, device_remove_body(laptop.public_key))
    assert not group.state.is_member(laptop.public_key)
    assert group.state.is_member(BOB.public_key)


def test_a_member_has_at_most_eight_linked_devices() -> None:
    group = Group.create(ALICE)
    for n in range(MAX_LINKED_DEVICES):
        group.author(ALICE, EntryKind.DEVICE_ADD, link_body(ALICE, device(f"a{n}")))
    entry = group.sign_next(ALICE, EntryKind.DEVICE_ADD, link_body(ALICE, device("one-more")))
    with pytest.raises(InvalidLogEntry):
        group.state.apply(entry)


def test_every_device_gets_the_epoch_and_a_removed_device_gets_no_later_one() -> None:
    group = group_of_three()
    laptop = device("bob-laptop")
    keys_before = group.keys
    item = group.author(BOB, EntryKind.DEVICE_ADD, link_body(BOB, laptop))
    state_before = GroupState.replay(group.entries[:-1])
    # Both of Bob's slots open the epoch the device was added in.
    _, secret_bob = receive(keys_before, state_before, item, BOB)
    entry = open_commit(keys_before, item)
    assert open_epoch_delivery(item, entry, group.state, laptop) == secret_bob
    # Bob removes the laptop: the laptop still opens the commit (it held the epoch) but
    # has no box in it, and no later commit is sealed to it.
    keys_at_removal = group.keys
    removal = group.author(BOB, EntryKind.DEVICE_REMOVE, device_remove_body(laptop.public_key))
    removal_entry = open_commit(keys_at_removal, removal)
    with pytest.raises(NotAMember):
        open_epoch_delivery(removal, removal_entry, group.state, laptop)
    later = group.author(ALICE, EntryKind.REKEY)
    with pytest.raises(DecryptionFailed):  # it never held the removal's epoch keys
        open_commit(keys_at_removal, later)


def test_a_devices_message_is_signed_by_the_device_and_belongs_to_its_member() -> None:
    group = group_of_three()
    laptop = device("bob-laptop")
    group.author(BOB, EntryKind.DEVICE_ADD, link_body(BOB, laptop))
    keys: EpochKeys = group.keys
    index = group.state.sender_index(laptop.public_key)
    sent = seal_message(
        keys,
        SendChain.start(keys, index),
        laptop,
        content_type=1,
        body=bytes(16) + b"\x00\x00\x00\x02hi",
        sent_at=T0,
        log_head=group.state.head,
        prev_message=bytes(32),
        rng=SeededRng(b"msg"),
    )
    envelope = open_sender_data(keys, sent.item)
    assert envelope.sender_index == index
    message_keys, _ = ReceiveChain.start(keys, index).key_for(envelope.counter)
    slot = group.state.member_at(envelope.sender_index)
    opened = open_message(keys, envelope, message_keys, slot.identity_pk)
    assert group.state.owner_of(opened.sender_pk) == BOB.public_key
    # The same item claimed by Bob's identity slot does not verify.
    with pytest.raises(BadSignature):
        open_message(keys, envelope, message_keys, BOB.public_key)


def test_the_safety_number_is_per_member_and_changes_when_a_device_is_added() -> None:
    laptop = device("bob-laptop")
    before = member_safety_number((ALICE.public_key, ()), (BOB.public_key, ()))
    assert before == safety_number(ALICE.public_key, BOB.public_key)  # unchanged without devices
    after = member_safety_number((ALICE.public_key, ()), (BOB.public_key, (laptop.public_key,)))
    assert after != before and len(after) == 60
    assert after[:30] == before[:30] or after[30:] == before[30:]  # only Bob's half moved
    assert after == member_safety_number(
        (BOB.public_key, (laptop.public_key,)), (ALICE.public_key, ())
    )


# -- later groups: the device channel (protocol 8.4, "Later groups") -------------------


def later_group(owner: Identity, dev: Identity) -> tuple[Group, BallotKeyPair, bytes]:
    """A group the owner entered after linking: it registers its ballot key and adds the
    device with ``dev``'s delivery key.  Returns the group, the pair and a sealed welcome."""
    group = Group.create(BOB, seed=b"later")
    group.add(BOB, owner, name="Alice")
    pair = BallotKeyPair.generate(SeededRng(b"ballot/alice"))
    record = BallotKeyRecord.create(pair, owner.public_key, group.state.group_id, group.rng)
    group.author(owner, EntryKind.BALLOT_KEY, record.encode())
    group.author(owner, EntryKind.DEVICE_ADD, link_body(owner, dev))
    welcome = Welcome.seal(
        owner,
        dev.delivery_cert,
        relay_url="https://relay.example",
        mailbox_id=bytes(16),
        start_after=7,
        entries=group.entries,
        epoch_secret=group.secrets[-1],
        rng=group.rng,
    )
    return group, pair, welcome


def test_a_later_welcome_opens_only_for_its_device_from_its_member_with_its_ballot_key() -> None:
    laptop = device("alice-laptop")
    group, pair, welcome = later_group(ALICE, laptop)
    group_id = group.state.group_id
    rng = SeededRng(b"later-welcome")
    item = DeviceWelcome.seal(
        ALICE, laptop.delivery_cert, welcome, group_id, pair.secret_bytes(), rng
    )
    opened = DeviceWelcome.open(item, laptop, ALICE.public_key)
    assert opened.welcome.state == group.state
    assert opened.ballot_secret == pair.secret_bytes()
    assert DeviceWelcome.key_of(item) == laptop.delivery_cert.delivery_pk
    # Signed by anyone but the member (the relay, another member): refused.
    forged = DeviceWelcome.seal(
        BOB, laptop.delivery_cert, welcome, group_id, pair.secret_bytes(), rng
    )
    with pytest.raises(BadSignature):
        DeviceWelcome.open(forged, laptop, ALICE.public_key)
    # The member's signature over a welcome for another device: the welcome check refuses.
    tablet = device("alice-tablet")
    _, _, other = later_group(ALICE, tablet)
    wrong = DeviceWelcome.seal(
        ALICE, laptop.delivery_cert, other, group_id, pair.secret_bytes(), rng
    )
    with pytest.raises(DecryptionFailed):  # sealed to the tablet's key
        DeviceWelcome.open(wrong, laptop, ALICE.public_key)
    # A ballot secret that is not the member's registered key: refused.
    stranger = BallotKeyPair.generate(SeededRng(b"ballot/stranger"))
    bad = DeviceWelcome.seal(
        ALICE, laptop.delivery_cert, welcome, group_id, stranger.secret_bytes(), rng
    )
    with pytest.raises(BadSignature):
        DeviceWelcome.open(bad, laptop, ALICE.public_key)
    # Flipping a byte anywhere after the key name breaks the sealed box.
    tampered = item[:-1] + bytes([item[-1] ^ 1])
    with pytest.raises(DecryptionFailed):
        DeviceWelcome.open(tampered, laptop, ALICE.public_key)


def test_device_keys_are_signed_by_the_device_and_the_channel_is_not_the_link_mailbox() -> None:
    laptop = device("alice-laptop")
    rng = SeededRng(b"device-keys")
    fresh = [laptop.with_new_delivery_key(rng, T0).delivery_cert for _ in range(3)]
    keys = DeviceKeys.create(laptop, fresh)
    assert DeviceKeys.decode(keys.encode()) == keys
    tampered = bytearray(keys.encode())
    tampered[40] ^= 1
    with pytest.raises((BadSignature, MalformedData)):
        DeviceKeys.decode(bytes(tampered))
    with pytest.raises(UsageError):  # only the device's own keys
        DeviceKeys.create(laptop, [ALICE.delivery_cert])
    secret = bytes(range(32))
    channel, link = channel_secrets(secret), LinkSecrets.derive(secret)
    assert {channel.mailbox_id, channel.key, channel.capability}.isdisjoint(
        {link.mailbox_id, link.key, link.capability}
    )
    item = seal_link_item(channel, LinkKind.KEYS, keys.encode(), rng)
    assert open_link_item(channel, item) == (LinkKind.KEYS, keys.encode())
    with pytest.raises(DecryptionFailed):  # the link key does not open the channel
        open_link_item(link, item)
