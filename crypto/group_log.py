"""The group log's state and its validation rules (protocol section 2).

``GroupState`` is a frozen value; ``apply`` checks one entry against it and returns the
next state, so a rejected entry leaves nothing half-applied.  Membership is decided here
and only here: every client runs the same deterministic rules over the same signed,
hash-chained entries.  The wire types live in ``crypto/log_entry.py`` and are re-exported.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar, overload

from crypto.ballot.keys import BallotKeyRecord
from crypto.device import MAX_LINKED_DEVICES, DeviceAddBody, DeviceRemoveBody
from crypto.errors import (
    Expired,
    InvalidLogEntry,
    MalformedData,
    NotPermitted,
    RemoteError,
    UsageError,
)
from crypto.identity import Identity
from crypto.key_schedule import epoch_commitment
from crypto.log_entry import (
    EMPTY_BODY,
    ZERO_HASH,
    ZERO_ID,
    AddBody,
    Body,
    Channel,
    CreateBody,
    DeliveryKeyBody,
    DescribeBody,
    EmptyBody,
    EntryKind,
    InviteBody,
    LogEntry,
    MemberRecord,
    RemoveBody,
    RenameBody,
    Role,
    RoleBody,
    add_body,
    channel_body,
    create_body,
    decode_body,
    delivery_key_body,
    describe_body,
    invite_body,
    remove_body,
    rename_body,
    role_body,
)

__all__ = [
    "AUTHOR_ROLE",
    "EMPTY_BODY",
    "MAX_MEMBERS",
    "ZERO_HASH",
    "ZERO_ID",
    "AddBody",
    "Body",
    "Channel",
    "CreateBody",
    "DeliveryKeyBody",
    "DescribeBody",
    "EmptyBody",
    "EntryKind",
    "GroupState",
    "Invite",
    "InviteBody",
    "LogEntry",
    "MemberRecord",
    "NotAMember",
    "RemoveBody",
    "RenameBody",
    "Role",
    "RoleBody",
    "SortedMap",
    "add_body",
    "author_entry",
    "channel_body",
    "create_body",
    "create_group",
    "delivery_key_body",
    "describe_body",
    "invite_body",
    "remove_body",
    "rename_body",
    "role_body",
]

# A commit carries at most this many sealed epoch secrets (protocol 4.2).
MAX_MEMBERS = 10_000

V = TypeVar("V")
T = TypeVar("T")

# What an entry's body parses to: the wire bodies, or a verified ballot key registration.
_AnyBody = Body | BallotKeyRecord | DeviceAddBody | DeviceRemoveBody


class NotAMember(RemoteError):
    """An identity is not in the roster (it was removed, say) or an index is out of range."""


class SortedMap(Mapping[bytes, V], Generic[V]):
    """An immutable mapping kept as two tuples sorted by key.

    Lookups are a binary search; ``set`` and ``remove`` copy two tuples (a memmove, cheap
    even for thousands of members) and share every value, so applying an entry costs about
    the size of the change.  Iteration is in ascending key order.
    """

    __slots__ = ("_keys", "_values")

    def __init__(self, keys: tuple[bytes, ...] = (), values: tuple[V, ...] = ()) -> None:
        if len(keys) != len(values):
            raise UsageError("keys and values must have the same length")
        self._keys = keys
        self._values = values

    @classmethod
    def from_items(cls, items: Iterable[tuple[bytes, V]]) -> SortedMap[V]:
        ordered = sorted(items, key=lambda item: item[0])
        keys = tuple(key for key, _ in ordered)
        if len(set(keys)) != len(keys):
            raise UsageError("duplicate key")
        return cls(keys, tuple(value for _, value in ordered))

    def index(self, key: bytes) -> int:
        """Position of ``key`` in key order; ``KeyError`` if absent."""
        position = bisect.bisect_left(self._keys, key)
        if position < len(self._keys) and self._keys[position] == key:
            return position
        raise KeyError(key)

    def __getitem__(self, key: bytes) -> V:
        return self._values[self.index(key)]

    @overload
    def get(self, key: bytes, /) -> V | None: ...

    @overload
    def get(self, key: bytes, /, default: V | T) -> V | T: ...

    def get(self, key: bytes, /, default: object = None) -> object:
        """``self[key]``, or ``default`` if absent (a search, no exception: on the path of
        every received message)."""
        position = bisect.bisect_left(self._keys, key)
        if position < len(self._keys) and self._keys[position] == key:
            return self._values[position]
        return default

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes):
            return False
        try:
            self.index(key)
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SortedMap):
            return self._keys == other._keys and self._values == other._values
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash((self._keys, self._values))

    def __repr__(self) -> str:
        return f"SortedMap({len(self)} items)"

    @property
    def sorted_values(self) -> tuple[V, ...]:
        """The values in key order (no copy)."""
        return self._values

    def at(self, position: int) -> V:
        return self._values[position]

    def set(self, key: bytes, value: V) -> SortedMap[V]:
        """A copy with ``key`` mapped to ``value`` (inserted or replaced)."""
        position = bisect.bisect_left(self._keys, key)
        if position < len(self._keys) and self._keys[position] == key:
            values = (*self._values[:position], value, *self._values[position + 1 :])
            return SortedMap(self._keys, values)
        return SortedMap(
            (*self._keys[:position], key, *self._keys[position:]),
            (*self._values[:position], value, *self._values[position:]),
        )

    def remove(self, key: bytes) -> SortedMap[V]:
        """A copy without ``key``; ``KeyError`` if absent."""
        position = self.index(key)
        return SortedMap(
            self._keys[:position] + self._keys[position + 1 :],
            self._values[:position] + self._values[position + 1 :],
        )


@dataclass(frozen=True)
class Invite:
    """An invite registered by an INVITE entry, with the uses counted by ADD entries."""

    invite_id: bytes
    role: Role
    expires_at: int
    max_uses: int
    needs_approval: bool
    uses: int = 0

    @property
    def uses_left(self) -> int:
        return self.max_uses - self.uses

    def usable_at(self, now: int) -> bool:
        """Whether an ADD timestamped ``now`` may still use this invite."""
        return now <= self.expires_at and self.uses < self.max_uses


# Who may author each kind (protocol 2.2).  MEMBER means any member; CREATE is only valid
# as the first entry, so it does not appear.
AUTHOR_ROLE: Mapping[EntryKind, Role] = {
    EntryKind.ADD: Role.ORGANIZER,
    EntryKind.REMOVE: Role.ORGANIZER,
    EntryKind.ROLE: Role.ORGANIZER,
    EntryKind.LEAVE: Role.MEMBER,
    EntryKind.REKEY: Role.MEMBER,
    EntryKind.RENAME: Role.ORGANIZER,
    EntryKind.INVITE: Role.ORGANIZER,
    EntryKind.CHANNEL: Role.ORGANIZER,
    EntryKind.BALLOT_KEY: Role.MEMBER,
    EntryKind.DELIVERY_KEY: Role.MEMBER,
    EntryKind.DEVICE_ADD: Role.MEMBER,
    EntryKind.DEVICE_REMOVE: Role.MEMBER,
    EntryKind.DESCRIBE: Role.ORGANIZER,
}


@dataclass(frozen=True)
class GroupState:
    """The group as decided by its log up to and including entry ``seq``.

    ``seq`` is also the current epoch number; ``head`` is the hash of entry ``seq``.
    ``needs_rekey`` is set when the last entry was a LEAVE, whose epoch secret was chosen
    by someone no longer in the group (protocol 2.4).  ``ballot_keys`` maps each member
    who registered one (BALLOT_KEY) to their ballot public key (docs/ballots.md section 2).

    ``members`` holds one record per *slot*: each member's own (keyed by its identity
    key) and one per linked device (keyed by the device key, with its member's name and
    role).  ``owners`` maps each linked device to its member (protocol section 8); sealed
    boxes and sender indexes are per slot, roles, names and ballot keys per member.
    """

    group_id: bytes
    seq: int
    head: bytes
    name: str = field(repr=False)  # kept out of logs and tracebacks
    members: SortedMap[MemberRecord]
    invites: SortedMap[Invite]
    channels: SortedMap[Channel]
    needs_rekey: bool = False
    ballot_keys: SortedMap[bytes] = field(default_factory=SortedMap)
    owners: SortedMap[bytes] = field(default_factory=SortedMap)
    description: str = field(default="", repr=False)  # DESCRIBE (protocol 4.1.3)

    # --- queries -----------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self.seq

    def roster(self) -> tuple[MemberRecord, ...]:
        """Members sorted by identity key: index i is sender index i (protocol 2.3)."""
        return self.members.sorted_values

    def is_member(self, identity_pk: bytes) -> bool:
        return identity_pk in self.members

    def sender_index(self, identity_pk: bytes) -> int:
        """This epoch's sender index of ``identity_pk``; ``NotAMember`` if absent."""
        try:
            return self.members.index(identity_pk)
        except KeyError:
            raise NotAMember("identity is not in this epoch's roster") from None

    def member(self, identity_pk: bytes) -> MemberRecord:
        return self.members.at(self.sender_index(identity_pk))

    def member_at(self, index: int) -> MemberRecord:
        """The member with sender ``index``; ``NotAMember`` if out of range."""
        if not 0 <= index < len(self.members):
            raise NotAMember("sender index is outside this epoch's roster")
        return self.members.at(index)

    def owner_of(self, slot_pk: bytes) -> bytes:
        """The member (identity key) a slot belongs to: itself unless it is a linked
        device.  ``NotAMember`` if the slot is not in the roster."""
        self.sender_index(slot_pk)
        return self.owners.get(slot_pk, slot_pk)

    def is_device(self, slot_pk: bytes) -> bool:
        """Whether ``slot_pk`` is a linked device (not a member's own identity slot)."""
        return slot_pk in self.owners

    def devices_of(self, identity_pk: bytes) -> tuple[bytes, ...]:
        """The linked device keys of a member, in key order (its own slot not included)."""
        return tuple(
            device
            for device, owner in zip(self.owners, self.owners.sorted_values, strict=True)
            if owner == identity_pk
        )

    def people(self) -> tuple[MemberRecord, ...]:
        """One record per member (its identity slot), in identity-key order: the roster
        as people see it, without the linked devices."""
        return tuple(m for m in self.members.sorted_values if m.identity_pk not in self.owners)

    def role_of(self, identity_pk: bytes) -> Role:
        return self.member(identity_pk).role

    def organizers(self) -> tuple[MemberRecord, ...]:
        return tuple(m for m in self.people() if m.role == Role.ORGANIZER)

    def ballot_roster(self) -> tuple[bytes, ...]:
        """The registered ballot keys in roster order: who is eligible in a ballot defined
        now.  Keys are dropped with their member, so every key belongs to a member."""
        return self.ballot_keys.sorted_values

    # --- validation --------------------------------------------------------------------

    @classmethod
    def genesis(cls, entry: LogEntry) -> GroupState:
        """The state after a CREATE entry; raises as ``apply`` does if it is not valid."""
        if entry.seq != 0 or entry.prev_hash != ZERO_HASH:
            raise InvalidLogEntry("the first entry must have seq 0 and a zero prev_hash")
        if entry.kind != EntryKind.CREATE:
            raise InvalidLogEntry("the first entry must be CREATE")
        entry.verify_signature()
        body = _parse_body(entry)
        if not isinstance(body, CreateBody):
            raise UsageError("CREATE decoded to another body type")
        if body.creator.identity_pk != entry.author:
            raise NotPermitted("CREATE must be authored by the creator it names")
        if body.creator.role != Role.ORGANIZER:
            raise InvalidLogEntry("the creator must be an organizer")
        return cls(
            group_id=entry.group_id,
            seq=0,
            head=entry.hash,
            name=body.group_name,
            members=SortedMap((entry.author,), (body.creator,)),
            invites=SortedMap(),
            channels=SortedMap(),
        )

    @classmethod
    def replay(cls, entries: Iterable[LogEntry]) -> GroupState:
        """Validate a whole log from its CREATE entry; ``InvalidLogEntry`` if empty."""
        iterator = iter(entries)
        first = next(iterator, None)
        if first is None:
            raise InvalidLogEntry("a group log cannot be empty")
        state = cls.genesis(first)
        for entry in iterator:
            state = state.apply(entry)
        return state

    def apply(self, entry: LogEntry) -> GroupState:
        """Validate ``entry`` as the next entry (protocol 2.2 rules 1-5); the next state.

        Raises ``InvalidLogEntry`` (chain or body), ``NotPermitted`` (author or role),
        ``BadSignature`` or ``Expired``; ``self`` is never modified.
        """
        # Rule 1: the chain.
        if entry.group_id != self.group_id:
            raise InvalidLogEntry("entry belongs to another group")
        if entry.seq != self.seq + 1:
            raise InvalidLogEntry(f"expected entry {self.seq + 1}, got {entry.seq}")
        if entry.prev_hash != self.head:
            raise InvalidLogEntry("entry does not follow the current head")
        # Rule 2: the author is a member.
        if entry.author not in self.members:
            raise NotPermitted("author is not a member of the group")
        author = self.members[entry.author]
        # Rule 4 (the cheap part): the kind exists here and the author's role allows it.
        if entry.kind == EntryKind.CREATE:
            raise InvalidLogEntry("CREATE is only valid as the first entry")
        if AUTHOR_ROLE[entry.kind] == Role.ORGANIZER and author.role != Role.ORGANIZER:
            raise NotPermitted(f"only organizers may author {entry.kind.name}")
        # Rule 3: the signature.
        entry.verify_signature()
        # Rules 4 and 5: the body.
        body = _parse_body(entry)
        changed = _EFFECTS[entry.kind](self, entry, body)
        return dataclasses.replace(
            changed,
            seq=entry.seq,
            head=entry.hash,
            needs_rekey=entry.kind == EntryKind.LEAVE,
        )

    # --- effects of each kind (called after the checks common to all kinds) ------------

    def _add(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        if not isinstance(body, AddBody):
            raise UsageError("ADD decoded to another body type")
        record = body.member
        if record.identity_pk in self.members:
            raise InvalidLogEntry("member is already in the group")
        if len(self.members) >= MAX_MEMBERS:
            raise InvalidLogEntry(f"a group has at most {MAX_MEMBERS} members")
        invites = self.invites
        if body.invite_id != ZERO_ID:
            if body.invite_id not in invites:
                raise InvalidLogEntry("ADD names an unknown invite")
            invite = invites[body.invite_id]
            if entry.timestamp > invite.expires_at:
                raise Expired("invite expired before this ADD")
            if invite.uses >= invite.max_uses:
                raise InvalidLogEntry("invite has no uses left")
            if record.role != invite.role:
                raise InvalidLogEntry("member's role differs from the invite's role")
            invites = invites.set(
                invite.invite_id, dataclasses.replace(invite, uses=invite.uses + 1)
            )
        return dataclasses.replace(
            self, members=self.members.set(record.identity_pk, record), invites=invites
        )

    def _remove(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        if not isinstance(body, RemoveBody):
            raise UsageError("REMOVE decoded to another body type")
        if body.identity_pk in self.owners:
            raise InvalidLogEntry("REMOVE names a linked device; its member's DEVICE_REMOVE does")
        if body.identity_pk == self.owner_of(entry.author):
            raise InvalidLogEntry("an organizer leaves with LEAVE, not REMOVE")
        if body.identity_pk not in self.members:
            raise InvalidLogEntry("REMOVE names someone who is not a member")
        return self._without_member(body.identity_pk)

    def _role(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        if not isinstance(body, RoleBody):
            raise UsageError("ROLE decoded to another body type")
        if body.identity_pk in self.owners:
            raise InvalidLogEntry("ROLE names a linked device; roles belong to members")
        if body.identity_pk not in self.members:
            raise InvalidLogEntry("ROLE names someone who is not a member")
        record = self.members[body.identity_pk]
        if record.role == body.role:
            raise InvalidLogEntry("ROLE does not change the role")
        members = self.members
        for slot in (body.identity_pk, *self.devices_of(body.identity_pk)):
            members = members.set(slot, dataclasses.replace(members[slot], role=body.role))
        _require_organizer(members)
        return dataclasses.replace(self, members=members)

    def _leave(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        return self._without_member(self.owner_of(entry.author))

    def _without_member(self, identity_pk: bytes) -> GroupState:
        """The state without a member, all its linked devices and its ballot key."""
        members, owners = self.members.remove(identity_pk), self.owners
        for device in self.devices_of(identity_pk):
            members, owners = members.remove(device), owners.remove(device)
        _require_organizer(members)
        return dataclasses.replace(
            self,
            members=members,
            owners=owners,
            ballot_keys=_without(self.ballot_keys, identity_pk),
        )

    def _rekey(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        return self

    def _rename(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        if not isinstance(body, RenameBody):
            raise UsageError("RENAME decoded to another body type")
        return dataclasses.replace(self, name=body.group_name)

    def _describe(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        if not isinstance(body, DescribeBody):
            raise UsageError("DESCRIBE decoded to another body type")
        if body.description == self.description:
            raise InvalidLogEntry("DESCRIBE does not change the description")
        return dataclasses.replace(self, description=body.description)

    def _invite(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        if not isinstance(body, InviteBody):
            raise UsageError("INVITE decoded to another body type")
        if body.invite_id == ZERO_ID:
            raise InvalidLogEntry("the zero invite id means a direct add")
        if body.invite_id in self.invites:
            raise InvalidLogEntry("invite id is already registered")
        if body.max_uses == 0:
            raise InvalidLogEntry("an invite needs at least one use")
        invite = Invite(
            body.invite_id, body.role, body.expires_at, body.max_uses, body.needs_approval
        )
        return dataclasses.replace(self, invites=self.invites.set(body.invite_id, invite))

    def _channel(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        if not isinstance(body, Channel):
            raise UsageError("CHANNEL decoded to another body type")
        return dataclasses.replace(self, channels=self.channels.set(body.channel_id, body))

    def _ballot_key(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        """Register (or replace) the author's own ballot key; the proof of possession was
        checked against the author and group when the body was parsed."""
        if not isinstance(body, BallotKeyRecord):
            raise UsageError("BALLOT_KEY decoded to another body type")
        member = self.owner_of(entry.author)  # the key is the member's, not the device's
        if self.ballot_keys.get(member) == body.public:
            raise InvalidLogEntry("this ballot key is already registered")
        if body.public in self.ballot_keys.sorted_values:
            raise InvalidLogEntry("another member registered this ballot key")
        return dataclasses.replace(self, ballot_keys=self.ballot_keys.set(member, body.public))

    def _delivery_key(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        """Replace the author's own delivery certificate (a rotation, protocol 3.2)."""
        if not isinstance(body, DeliveryKeyBody):
            raise UsageError("DELIVERY_KEY decoded to another body type")
        if body.cert.identity_pk != entry.author:
            raise InvalidLogEntry("DELIVERY_KEY certifies another identity")
        record = self.members[entry.author]
        if record.delivery_cert.delivery_pk == body.cert.delivery_pk:
            raise InvalidLogEntry("DELIVERY_KEY does not change the delivery key")
        replaced = dataclasses.replace(record, delivery_cert=body.cert)
        return dataclasses.replace(self, members=self.members.set(entry.author, replaced))

    def _device_add(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        """Add a linked device of the author's own member (protocol section 8.2)."""
        if not isinstance(body, DeviceAddBody):
            raise UsageError("DEVICE_ADD decoded to another body type")
        owner = self.owner_of(entry.author)
        if body.cert.owner_pk != owner:
            raise NotPermitted("a member adds devices only to itself")
        device = body.cert.device_pk
        if device in self.members:
            raise InvalidLogEntry("DEVICE_ADD names a key already in the roster")
        if len(self.devices_of(owner)) >= MAX_LINKED_DEVICES:
            raise InvalidLogEntry(f"a member has at most {MAX_LINKED_DEVICES} linked devices")
        if len(self.members) >= MAX_MEMBERS:
            raise InvalidLogEntry(f"a group has at most {MAX_MEMBERS} members and devices")
        person = self.members[owner]
        record = MemberRecord(device, person.name, body.delivery_cert, person.role)
        return dataclasses.replace(
            self, members=self.members.set(device, record), owners=self.owners.set(device, owner)
        )

    def _device_remove(self, entry: LogEntry, body: _AnyBody) -> GroupState:
        """Remove a linked device of the author's own member (protocol section 8.2)."""
        if not isinstance(body, DeviceRemoveBody):
            raise UsageError("DEVICE_REMOVE decoded to another body type")
        device = body.device_pk
        if device not in self.owners:
            raise InvalidLogEntry("DEVICE_REMOVE names no linked device")
        if self.owners[device] != self.owner_of(entry.author):
            raise NotPermitted("a member removes devices only from itself")
        if device == entry.author:
            raise InvalidLogEntry("a device is removed by another device of its member")
        return dataclasses.replace(
            self, members=self.members.remove(device), owners=self.owners.remove(device)
        )


_Effect = Callable[[GroupState, LogEntry, _AnyBody], GroupState]

# The effect of each kind on the state: the transition table of the group log.
_EFFECTS: Mapping[EntryKind, _Effect] = {
    EntryKind.ADD: GroupState._add,
    EntryKind.REMOVE: GroupState._remove,
    EntryKind.ROLE: GroupState._role,
    EntryKind.LEAVE: GroupState._leave,
    EntryKind.REKEY: GroupState._rekey,
    EntryKind.RENAME: GroupState._rename,
    EntryKind.INVITE: GroupState._invite,
    EntryKind.CHANNEL: GroupState._channel,
    EntryKind.BALLOT_KEY: GroupState._ballot_key,
    EntryKind.DELIVERY_KEY: GroupState._delivery_key,
    EntryKind.DEVICE_ADD: GroupState._device_add,
    EntryKind.DEVICE_REMOVE: GroupState._device_remove,
    EntryKind.DESCRIBE: GroupState._describe,
}


def _without(keys: SortedMap[bytes], identity_pk: bytes) -> SortedMap[bytes]:
    """``keys`` without the member's ballot key, if they registered one."""
    return keys.remove(identity_pk) if identity_pk in keys else keys


def _require_organizer(members: SortedMap[MemberRecord]) -> None:
    """A group with members keeps at least one organizer, or nobody could ever add again."""
    if members and not any(m.role == Role.ORGANIZER for m in members.sorted_values):
        raise NotPermitted("the last organizer cannot leave, be removed or be demoted")


def _parse_body(entry: LogEntry) -> _AnyBody:
    """The entry's body, with malformed bytes reported as ``InvalidLogEntry``.

    A BALLOT_KEY body is verified here against its author and group (its proof of
    possession fails with ``BadSignature``).
    """
    try:
        if entry.kind == EntryKind.BALLOT_KEY:
            return BallotKeyRecord.decode(entry.body, entry.author, entry.group_id)
        return decode_body(entry.kind, entry.body)
    except MalformedData as error:
        raise InvalidLogEntry(f"malformed {entry.kind.name} body: {error}") from error


# --- authoring ------------------------------------------------------------------------


def _fresh_secret(rng: Callable[[int], bytes]) -> bytes:
    secret = rng(32)
    if len(secret) != 32:
        raise UsageError("rng returned the wrong number of bytes")
    return secret


def create_group(
    creator: Identity,
    creator_name: str,
    group_name: str,
    group_id: bytes,
    now: int,
    rng: Callable[[int], bytes],
) -> tuple[GroupState, LogEntry, bytes]:
    """Start a group: ``(state, CREATE entry, epoch secret E_0)``.

    ``group_id`` should be 16 random bytes from the caller (it also names nothing on the
    relay, whose mailbox ids are separate).
    """
    if len(group_id) != 16:
        raise UsageError("group id must be 16 bytes")
    record = MemberRecord.for_identity(creator, creator_name, Role.ORGANIZER)
    secret = _fresh_secret(rng)
    entry = LogEntry.sign(
        creator,
        group_id=group_id,
        seq=0,
        prev_hash=ZERO_HASH,
        timestamp=now,
        kind=EntryKind.CREATE,
        body=create_body(group_name, record),
        epoch_commitment=epoch_commitment(group_id, 0, secret),
    )
    return GroupState.genesis(entry), entry, secret


def author_entry(
    state: GroupState,
    author: Identity,
    kind: EntryKind,
    body: bytes,
    now: int,
    rng: Callable[[int], bytes],
) -> tuple[LogEntry, bytes, GroupState]:
    """Sign the next entry with a fresh epoch secret: ``(entry, E_seq, new state)``.

    The entry is validated with ``state.apply`` before it is returned, so an entry the
    other members would reject (``NotPermitted``, ``InvalidLogEntry``, ``Expired``) is never
    produced; those errors reach the caller as they would from a peer.
    """
    if kind == EntryKind.CREATE:
        raise UsageError("use create_group for CREATE")
    seq = state.seq + 1
    secret = _fresh_secret(rng)
    entry = LogEntry.sign(
        author,
        group_id=state.group_id,
        seq=seq,
        prev_hash=state.head,
        timestamp=now,
        kind=kind,
        body=body,
        epoch_commitment=epoch_commitment(state.group_id, seq, secret),
    )
    return entry, secret, state.apply(entry)
