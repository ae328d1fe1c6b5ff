"""Dispute case formats (crypto/case.py): strict codecs, the transition table, and the
sealed, signed invitation an opener sends an organizer."""

from __future__ import annotations

import os

import pytest

from crypto.case import (
    CASE_TRANSITIONS,
    CaseInbox,
    CaseInvitation,
    CaseLine,
    CaseRecord,
    CaseSharing,
    CaseStatus,
    CaseStatusChange,
    Sharing,
    case_tag,
    transition_allowed,
)
from crypto.errors import BadSignature, DecryptionFailed, MalformedData, UnsupportedVersion
from crypto.identity import Identity
from crypto.invite import InviteCode

NOW = 1_700_000_000_000


def test_every_body_round_trips_and_decodes_strictly() -> None:
    bodies: list[CaseInbox | CaseRecord | CaseStatusChange | CaseSharing | CaseLine] = [
        CaseInbox(bytes(range(16))),
        CaseRecord(bytes(16), "Late fees at Acme", CaseStatus.NEGOTIATING, Sharing.STATUS),
        CaseStatusChange(CaseStatus.OPEN, CaseStatus.RESOLVED, "paid"),
        CaseSharing(Sharing.STATUS_AND_TITLE),
        CaseLine(bytes(16), CaseStatus.OPEN, ""),
    ]
    for body in bodies:
        encoded = body.encode()
        decode = type(body).decode
        assert decode(encoded) == body
        with pytest.raises(MalformedData):
            decode(encoded + b"\x00")
        with pytest.raises(UnsupportedVersion):
            decode(b"\x02" + encoded[1:])
    with pytest.raises(MalformedData, match="unknown case status"):
        CaseStatusChange.decode(b"\x01\x01\x07\x00\x00")
    with pytest.raises(MalformedData, match="unknown case sharing"):
        CaseSharing.decode(b"\x01\x03")


def test_the_transition_table() -> None:
    assert len(CASE_TRANSITIONS) == 5
    assert transition_allowed(CaseStatus.RESOLVED, CaseStatus.OPEN)  # reopen
    assert not transition_allowed(CaseStatus.RESOLVED, CaseStatus.NEGOTIATING)
    for status in CaseStatus:
        assert not transition_allowed(status, status)


def test_a_line_names_nothing_unless_given_a_title() -> None:
    assert CaseLine(bytes(16), CaseStatus.NEGOTIATING).shown() == "A case is now negotiating"
    assert "Acme" in CaseLine(bytes(16), CaseStatus.OPEN, "Acme").shown()
    tag = case_tag(bytes(range(16)))
    assert len(tag) == 16 and tag != bytes(range(16))


def _invitation(opener: Identity, organizer: Identity) -> CaseInvitation:
    code = InviteCode("http://relay.test", os.urandom(32), opener.fingerprint).encode()
    return CaseInvitation(
        os.urandom(16),
        os.urandom(16),
        "Late fees",
        CaseStatus.OPEN,
        code,
        organizer.public_key,
        opener.public_key,
    )


def test_invitation_opens_only_for_its_organizer_and_only_from_its_opener() -> None:
    opener, organizer, stranger = (Identity.generate(os.urandom, NOW) for _ in range(3))
    invitation = _invitation(opener, organizer)
    item = invitation.seal(opener, organizer.delivery_cert, os.urandom)
    assert CaseInvitation.open(item, organizer) == invitation
    assert b"Late fees" not in item
    with pytest.raises(DecryptionFailed):
        CaseInvitation.open(item, stranger)
    tampered = bytearray(item)
    tampered[-1] ^= 1  # the relay flips a byte of the box
    with pytest.raises(DecryptionFailed):
        CaseInvitation.open(bytes(tampered), organizer)
    other = CaseInvitation(
        invitation.parent_group_id,
        invitation.case_group_id,
        invitation.title,
        invitation.status,
        invitation.invite_code,
        organizer.public_key,
        stranger.public_key,
    )
    # A stranger signing an invitation whose code is the opener's: refused.
    with pytest.raises(MalformedData, match="not the opener's"):
        CaseInvitation.open(other.seal(stranger, organizer.delivery_cert, os.urandom), organizer)


def test_invitation_signature_binds_every_field() -> None:
    from crypto.sealed import open_sealed, seal

    opener, organizer = (Identity.generate(os.urandom, NOW) for _ in range(2))
    item = _invitation(opener, organizer).seal(opener, organizer.delivery_cert, os.urandom)
    plain = bytearray(open_sealed(organizer.delivery_key, item))
    plain[20] ^= 1  # inside the case group id
    resealed = seal(organizer.delivery_cert.delivery_pk, bytes(plain), os.urandom)
    with pytest.raises(BadSignature):
        CaseInvitation.open(resealed, organizer)
