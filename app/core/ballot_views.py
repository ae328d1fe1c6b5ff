"""Read side of ballots: frozen views and the queries behind ``caucus ballot list/results``.

``BallotReader`` needs only a database connection and this profile's identity key, so a
UI thread can use it on its own connection (like ``Queries.reader``). Results exist only
after the creator's reveal key arrived and the tally ran; before that a view says how
many distinct members voted ("N of M"), never what they chose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.core.ballot_receive import StoredBallot, all_ballots, load_ballot
from app.core.ballot_results import BallotResultView, MyVoteCheck, choice_text
from app.core.database import Database
from app.core.device_ballots import voted_elsewhere
from app.core.errors import ClientError, NotFound
from app.core.store import ballot_tally as tally_store
from app.core.store import ballots as store
from crypto.ballot import BallotKind, BallotState
from crypto.ballot.release import counted_digest
from crypto.identity import fingerprint

__all__ = [
    "KIND_NAMES",
    "MIN_ID_PREFIX",
    "BallotReader",
    "BallotView",
    "VoteReceipt",
]

MIN_ID_PREFIX = 8

KIND_NAMES: dict[BallotKind, str] = {
    BallotKind.YES_NO_ABSTAIN: "yes-no",
    BallotKind.SINGLE: "single",
    BallotKind.APPROVAL: "approval",
    BallotKind.RANKED: "ranked",
    BallotKind.NUMERIC: "numeric",
}


@dataclass(frozen=True)
class BallotView:
    """One ballot as this member's client sees it.

    ``status`` is ``open``, ``closed`` (waiting for the creator's key), ``tallied``,
    ``quorum_not_met`` or ``cancelled``. ``voted`` counts distinct voters (key images)
    among the votes accepted so far; ``result`` is the tally's JSON once it exists.
    ``integrity`` is ``None`` or, in plain words, why this client's votes differ from the
    set the creator's reveal counts ("results differ between members: ...").
    ``eligibility_changed``: a member of the ballot's ring left or was removed before the
    close. ``counted_digest``: hex digest of the counted set, for members to compare.
    """

    group_id: bytes
    ballot_id: bytes
    question: str
    kind: str
    options: tuple[str, ...]
    numeric_min: int
    numeric_max: int
    histogram_bins: int
    creator_name: str
    creator_fingerprint: str
    created_by_me: bool
    status: str
    opens_at: int
    closes_at: int
    quorum: int
    eligible: int
    voted: int
    i_am_eligible: bool
    my_revision: int | None
    my_vote_pending: bool
    closed_by: str | None
    result: dict[str, Any] | None
    integrity: str | None = None
    eligibility_changed: bool = False
    counted_count: int | None = None
    counted_digest: str | None = None
    voted_on_another_device: bool = False

    @property
    def id_hex(self) -> str:
        return self.ballot_id.hex()

    @property
    def progress(self) -> str:
        return f"{self.voted} of {self.eligible} have voted"


@dataclass(frozen=True)
class VoteReceipt:
    """What ``BallotService.vote`` did: the revision cast, and whether the anonymous item
    is already on the relay or waits for its random delay (``not_before``, ms)."""

    ballot_id: bytes
    revision: int
    posted: bool
    not_before: int


def _status(ballot: StoredBallot, result: dict[str, Any] | None) -> str:
    if ballot.state is BallotState.TALLIED and result is not None:
        return str(result["status"])
    if ballot.state in (BallotState.CLOSED, BallotState.REVEALED):
        return "closed"
    return str(ballot.state)


class BallotReader:
    """Ballot queries over one profile database."""

    def __init__(self, db: Database, identity_pk: bytes) -> None:
        self.db = db
        self._me = identity_pk

    # -- lookup ---------------------------------------------------------------------------

    def resolve_ballot(self, text: str) -> tuple[bytes, bytes]:
        """``(group_id, ballot_id)`` of a ballot named by its id or a unique prefix of it
        (at least ``MIN_ID_PREFIX`` hex digits)."""
        wanted = text.strip().lower()
        if len(wanted) < MIN_ID_PREFIX or any(c not in "0123456789abcdef" for c in wanted):
            raise ClientError(f"give the ballot id, at least {MIN_ID_PREFIX} hex digits")
        found = [
            (ref.group_id, ref.ballot_id)
            for ref in store.ballot_refs(self.db)
            if ref.ballot_id.hex().startswith(wanted)
        ]
        if not found:
            raise NotFound(f"no ballot {wanted}")
        if len(found) > 1:
            raise ClientError("several ballots start with these digits; give more of the id")
        return found[0]

    def _ballot(self, group_id: bytes, ballot_id: bytes) -> StoredBallot:
        ballot = load_ballot(self.db, group_id, ballot_id)
        if ballot is None:
            raise NotFound("no such ballot")
        return ballot

    def my_key_public(self, group_id: bytes) -> bytes | None:
        return store.ballot_key_public(self.db, group_id)

    # -- views ----------------------------------------------------------------------------

    def ballots(self, group_id: bytes) -> list[BallotView]:
        """The group's ballots, oldest first."""
        return [self._view(b) for b in all_ballots(self.db, group_id)]

    def ballot(self, group_id: bytes, ballot_id: bytes) -> BallotView:
        return self._view(self._ballot(group_id, ballot_id))

    def _view(self, ballot: StoredBallot) -> BallotView:
        definition = ballot.definition
        result = None if ballot.result is None else json.loads(ballot.result)
        voted = store.count_voters(self.db, ballot.group_id, ballot.ballot_id)
        mine = store.my_votes(self.db, ballot.group_id, ballot.ballot_id)
        elsewhere = voted_elsewhere(self.db, ballot.group_id, ballot.ballot_id)
        my_revision = mine.revision
        if elsewhere is not None and (my_revision is None or elsewhere > my_revision):
            my_revision = elsewhere  # voted on another of our devices (protocol 8.5)
        my_key = self.my_key_public(ballot.group_id)
        checked = tally_store.load_tally(self.db, ballot.group_id, ballot.ballot_id)
        counted = None if checked is None else checked.counted
        return BallotView(
            group_id=ballot.group_id,
            ballot_id=ballot.ballot_id,
            question=definition.question,
            kind=KIND_NAMES[definition.kind],
            options=definition.option_labels,
            numeric_min=definition.numeric_min,
            numeric_max=definition.numeric_max,
            histogram_bins=definition.histogram_bins,
            creator_name=ballot.creator_name,
            creator_fingerprint=fingerprint(definition.creator_pk).hex(),
            created_by_me=definition.creator_pk == self._me,
            status=_status(ballot, result),
            opens_at=definition.opens_at,
            closes_at=definition.closes_at,
            quorum=definition.quorum,
            eligible=definition.eligible,
            voted=voted,
            i_am_eligible=my_key is not None and my_key in definition.roster,
            my_revision=my_revision,
            voted_on_another_device=elsewhere is not None,
            my_vote_pending=mine.pending,
            closed_by=None if ballot.closed_by is None else str(ballot.closed_by),
            result=result,
            integrity=None if checked is None else checked.integrity_detail,
            eligibility_changed=checked is not None and checked.eligibility_changed,
            counted_count=None if counted is None else len(counted),
            counted_digest=(
                None if counted is None else counted_digest(ballot.ballot_id, counted).hex()
            ),
        )

    def results(self, group_id: bytes, ballot_id: bytes) -> dict[str, Any]:
        """The JSON of ``caucus ballot results``: status, eligible, turnout and, once the
        tally ran, counts and the kind's own fields (winners, IRV rounds, numeric summary,
        every counted ballot by key image). No counts exist before the reveal."""
        view = self.ballot(group_id, ballot_id)
        data: dict[str, Any] = {}
        if view.result is not None:
            data.update(view.result)
            data.update(self._my_ballot(group_id, ballot_id, view))
        else:
            data.update(
                status=view.status,
                eligible=view.eligible,
                turnout=view.voted,
                quorum={"required": view.quorum, "met": None},
            )
        data.update(
            ballot_id=view.id_hex,
            group_id=group_id.hex(),
            question=view.question,
            kind=view.kind,
            options=list(view.options),
            status=view.status,
            voted=view.progress,
            closes_at=view.closes_at,
            closed_by=view.closed_by,
            eligibility_changed=view.eligibility_changed,
            integrity=view.integrity,
        )
        if view.counted_digest is not None:
            data["counted"] = {"count": view.counted_count, "digest": view.counted_digest}
        return data

    def result_view(self, group_id: bytes, ballot_id: bytes) -> BallotResultView | None:
        """The tallied outcome as a typed value with "was my vote counted"; ``None``
        before the tally. Reads this member's ballot secret (for the key image): call it
        on the engine's side (``app.core.commands.BallotResults``)."""
        view = self.ballot(group_id, ballot_id)
        if view.result is None:
            return None
        counted = self._my_counted(group_id, ballot_id, view)
        mine = None
        if counted is not None:
            mine = MyVoteCheck(bool(counted), choice_text(counted[0]) if counted else None)
        return BallotResultView.from_tally(view.result, mine)

    def _my_ballot(self, group_id: bytes, ballot_id: bytes, view: BallotView) -> dict[str, Any]:
        counted = self._my_counted(group_id, ballot_id, view)
        if counted is None:
            return {}
        if not counted:
            return {"mine": {"counted": False}}
        return {"mine": {"counted": True, "choice": counted[0]}}

    def _my_counted(self, group_id: bytes, ballot_id: bytes, view: BallotView) -> list[Any] | None:
        """Individual verifiability: the choices counted under my own key image (empty:
        not counted); ``None`` when I did not vote or there is no tally."""
        if view.my_revision is None or view.result is None or not view.i_am_eligible:
            return None
        secret = store.ballot_key_secret(self.db, group_id)
        if secret is None:
            return None
        image = self._ballot(group_id, ballot_id).definition.key_image(secret).hex()
        # Counted means: my latest revision is the one the tally counted, so never
        # "counted" for a vote the reveal left out, nor for an older vote of mine.
        counted = [
            b
            for b in view.result.get("ballots", [])
            if b.get("key_image") == image and b.get("revision") == view.my_revision
        ]
        return [b["choice"] for b in counted]
