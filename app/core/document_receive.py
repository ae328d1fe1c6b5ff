"""Incoming document announcements (content type 32) and acknowledgements (33).

Both handlers run inside the sync transaction with the roster of the epoch the message
was sent in (``app.core.content_handlers``). The announcement handler applies the trust
rule of docs/documents.md section 7 and keeps one announcement per (document, version);
a second, different one is reported like a fork. Registered when this module is imported
(``app.core`` imports it through ``app.core.documents``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from app.core.content_handlers import Received, register
from app.core.database import Database
from app.core.events import DocumentChanged
from app.core.store import documents as store
from crypto.document.announce import (
    CONTENT_TYPE_ACKNOWLEDGEMENT,
    CONTENT_TYPE_ANNOUNCEMENT,
    Acknowledgement,
    Announcement,
)
from crypto.errors import ForkDetected
from crypto.group_log import GroupState, LogEntry, MemberRecord, Role

__all__ = ["Verdict", "evaluate_trust", "trust_text"]


@dataclass(frozen=True)
class Verdict:
    """The trust rule's answer for one announcement at one point of the group log."""

    trusted: bool
    signer_name: str
    reason: str  # empty when trusted


def trust_text(trusted: bool, signer_name: str, reason: str) -> str:
    """What people read: "signed by Alice (organizer), verified" or why it is not trusted."""
    if trusted:
        return f"signed by {signer_name} (organizer), verified"
    return f"not trusted: {reason}"


def _history(db: Database, group_id: bytes, upto: int) -> Iterator[GroupState]:
    """Every state of the stored group log up to entry ``upto`` (the rare, slow path)."""
    state: GroupState | None = None
    for raw in store.log_entries_upto(db, group_id, upto):
        entry = LogEntry.decode(raw)
        state = GroupState.genesis(entry) if state is None else state.apply(entry)
        yield state


def _past_record(db: Database, group_id: bytes, upto: int, pk: bytes) -> MemberRecord | None:
    """The last roster record of ``pk`` before entry ``upto``, if it ever was a member."""
    found = None
    for state in _history(db, group_id, upto):
        if state.is_member(pk):
            found = state.member(pk)
    return found


def _was_organizer(db: Database, group_id: bytes, upto: int, pk: bytes) -> bool:
    return any(
        state.is_member(pk) and state.role_of(pk) == Role.ORGANIZER
        for state in _history(db, group_id, upto)
    )


def evaluate_trust(
    db: Database, group_id: bytes, state: GroupState, sender: MemberRecord, ann: Announcement
) -> Verdict:
    """docs/documents.md section 7, rules 2-4 (rule 1 is ``Announcement.decode``).

    ``state`` is the roster of the epoch the message was sent in: the signer must be the
    sender and an organizer right there, so a member's signature, a removed organizer's
    signature reposted by someone else, and a demoted organizer's later one all fail.
    """
    if ann.signer == sender.identity_pk:
        name = sender.name
    elif state.is_member(ann.signer):
        name = state.member(ann.signer).name
    else:
        past = _past_record(db, group_id, state.seq, ann.signer)
        name = past.name if past is not None else "an unknown key"
    if ann.group_id != group_id:
        return Verdict(False, name, "it was signed for another group")
    if ann.signer != sender.identity_pk:
        if state.is_member(ann.signer):
            reason = f"signed by {name} but posted by {sender.name}"
        elif name != "an unknown key":
            reason = (
                f"signed by {name}, who was no longer in the group, and posted by {sender.name}"
            )
        else:
            reason = f"signed by a key that is not in the group, and posted by {sender.name}"
        return Verdict(False, name, reason)
    if sender.role == Role.ORGANIZER:
        return Verdict(True, name, "")
    if _was_organizer(db, group_id, state.seq, ann.signer):
        reason = f"{name} was no longer an organizer at that point of the group log"
    else:
        reason = f"{name} was not an organizer at that point of the group log"
    return Verdict(False, name, reason)


def _new_row(received: Received, ann: Announcement, verdict: Verdict) -> store.NewAnnouncement:
    return store.NewAnnouncement(
        group_id=received.group_id,
        document_id=ann.document_id,
        version=ann.version,
        signer_pk=ann.signer,
        signer_name=verdict.signer_name,
        sender_pk=received.sender.identity_pk,
        trusted=verdict.trusted,
        reason=verdict.reason,
        title=ann.title,
        filename=ann.filename,
        media_type=ann.media_type,
        note=ann.note,
        size=ann.size,
        published_at=ann.published_at,
        blake2b512=ann.blake2b512,
        sha256=ann.sha256,
        blob_id=ann.keys.blob_id,
        announcement=ann.encode(),
        epoch=received.state.seq,
        relay_seq=received.relay_seq,
        received_at=received.now,
    )


def on_announcement(received: Received) -> str:
    """Verify, judge and store an announcement; returns the line the message list shows."""
    ann = Announcement.decode(received.message.body)
    verdict = evaluate_trust(received.db, received.group_id, received.state, received.sender, ann)
    db = received.db
    label = f"“{ann.title}” version {ann.version} ({ann.filename})"
    received.changed.append(DocumentChanged(received.group_id, ann.document_id))
    stored = store.announcement(db, received.group_id, ann.document_id, ann.version)
    if stored is None:
        store.insert_announcement(db, _new_row(received, ann, verdict))
        shown = trust_text(verdict.trusted, verdict.signer_name, verdict.reason)
        return f"published {label}: {shown}"
    if stored.announcement == ann.encode():
        # The same announcement again: an organizer sharing it with newcomers, or a repost.
        # A repost never lowers trust; the signer posting it as an organizer may raise it.
        trusted, signer_name, reason = stored.trusted, stored.signer_name, stored.reason
        if verdict.trusted and not stored.trusted:
            store.trust_announcement(
                db, stored.id, verdict.signer_name, received.sender.identity_pk
            )
            trusted, signer_name, reason = True, verdict.signer_name, ""
        store.record_repost(db, stored.id, received.state.seq, received.relay_seq)
        return f"shared {label} again: {trust_text(trusted, signer_name, reason)}"
    if stored.trusted or not verdict.trusted:
        raise ForkDetected(
            f"a second, different announcement of document {ann.document_id.hex()[:8]} "
            f"version {ann.version}: someone is showing members different contents"
        )
    # An untrusted announcement (a member squatting on the next version number) never
    # blocks the organizer's real one.
    store.replace_announcement(db, stored.id, _new_row(received, ann, verdict))
    return (
        f"published {label}, replacing an untrusted announcement of that version: "
        f"{trust_text(True, verdict.signer_name, '')}"
    )


def on_acknowledgement(received: Received) -> str:
    """Record who read which version; a different hash than announced is a fork."""
    ack = Acknowledgement.decode(received.message.body)
    db = received.db
    announced = store.announcement(db, received.group_id, ack.document_id, ack.version)
    if announced is not None and announced.blake2b512 != ack.blake2b512:
        raise ForkDetected(
            f"{received.sender.name} acknowledged other contents for document "
            f"{ack.document_id.hex()[:8]} version {ack.version} than were announced here"
        )
    store.record_acknowledgement(
        db,
        store.AcknowledgementRow(
            group_id=received.group_id,
            document_id=ack.document_id,
            version=ack.version,
            member_pk=received.sender.identity_pk,
            member_name=received.sender.name,
            blake2b512=ack.blake2b512,
            acked_at=received.message.sent_at,
            received_at=received.now,
        ),
    )
    if announced is None:
        return f"acknowledged version {ack.version} of a document not announced here"
    received.changed.append(DocumentChanged(received.group_id, ack.document_id))
    return f"acknowledged “{announced.title}” version {ack.version}"


register(CONTENT_TYPE_ANNOUNCEMENT, on_announcement)
register(CONTENT_TYPE_ACKNOWLEDGEMENT, on_acknowledgement)
