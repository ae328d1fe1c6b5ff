"""Anonymous ballots in the headless client: create, vote, close, cancel, results.

``BallotService`` is a part of the engine (``app.core.ports``): it sees the context and
the group, commit and sending interfaces, nothing else. Definitions, close markers,
reveal keys and cancellations are signed group messages (``Sending.send_content``). A
vote is cast here and handed to the same outbox (``Sending.queue_vote``), which posts
it as an anonymous vote item with the group's mailbox capability only, over a fresh
connection, after a random delay (docs/ballots.md section 10, docs/protocol.md section
7.3): this part decides what to queue, the outbox delivers it. Incoming items are
handled in ``app.core.ballot_receive``; reads are ``app.core.ballot_views.BallotReader``.

``BallotService.maintain`` is the engine's ballot step after every group sync: it registers
this member's ballot key (a BALLOT_KEY log entry), releases the reveal key of our own
ballots once their deadline passed, and closes ballots whose creator stays silent after
the deadline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import app.core.ballot_receive  # noqa: F401  (registers the content and item handlers)
from app.core.ballot_audit import BallotAudit, audit_ballot
from app.core.ballot_receive import (
    StoredBallot,
    cancel_text,
    close_text,
    definition_text,
    load_ballot,
    reveal_text,
)
from app.core.ballot_repair import BallotRepair
from app.core.ballot_settle import counted_hashes, note_eligibility
from app.core.ballot_views import (
    KIND_NAMES,
    BallotReader,
    BallotView,
    VoteReceipt,
)
from app.core.device_ballots import voted_elsewhere
from app.core.errors import (
    AlreadyExists,
    ClientError,
    NotFound,
    NotPermittedHere,
    RelayUnavailable,
)
from app.core.events import BallotChanged, Event
from app.core.ports import Commits, Context, Groups, Sending
from app.core.store import ballots as store
from app.core.store.ballots import BallotKeyRow, OutboxRow, RevealKeyRow
from crypto import kdf
from crypto.ballot import (
    Answer,
    ApprovalChoice,
    BallotDefinition,
    BallotKeyPair,
    BallotKeyRecord,
    BallotKind,
    BallotState,
    Choice,
    NumericChoice,
    RankedChoice,
    RevealKey,
    SingleChoice,
    YesNoChoice,
    cast_vote,
)
from crypto.ballot.release import RevealRelease
from crypto.ballot.transport import (
    CONTENT_TYPE_CANCEL,
    CONTENT_TYPE_CLOSE,
    CONTENT_TYPE_DEFINITION,
    CONTENT_TYPE_REVEAL,
    BallotNotice,
)
from crypto.errors import RemoteError, UsageError
from crypto.group_log import EntryKind, GroupState, Role

__all__ = [
    "CLOSE_GRACE_MS",
    "KIND_NAMES",
    "VOTE_DELAY_MS",
    "BallotReader",
    "BallotService",
    "BallotView",
    "VoteReceipt",
    "parse_choice",
]

VOTE_DELAY_MS = (2_000, 10_000)
"""Range of the random delay before a vote goes out, unless the caller chooses one."""

CLOSE_GRACE_MS = 5 * 60 * 1000
"""Organizers other than the creator post a close marker this long after the deadline,
so a ballot whose creator stays offline still stops taking votes (only the creator and
organizers may close a ballot: docs/ballots.md 13.3)."""

CREATE_ATTEMPTS = 3

_KINDS_BY_NAME = {name: kind for kind, name in KIND_NAMES.items()}


def kind_from_name(name: str) -> BallotKind:
    """``yes-no``, ``single``, ``approval``, ``ranked`` or ``numeric``."""
    try:
        return _KINDS_BY_NAME[name]
    except KeyError:
        raise ClientError(f"unknown ballot kind {name!r}") from None


# -- choices from text ----------------------------------------------------------------


def _option(definition: BallotDefinition, token: str) -> int:
    """An option by its exact text, its text ignoring case, or its number from 1."""
    options = definition.options
    if token in options:
        return options.index(token)
    folded = [i for i, option in enumerate(options) if option.casefold() == token.casefold()]
    if len(folded) == 1:
        return folded[0]
    if token.isdigit() and 1 <= int(token) <= len(options):
        return int(token) - 1
    listed = ", ".join(f"{i + 1}. {option}" for i, option in enumerate(options))
    raise ClientError(f"no option {token!r}; the options are {listed}")


def _options(definition: BallotDefinition, text: str) -> list[int]:
    chosen = [_option(definition, part.strip()) for part in text.split(",") if part.strip()]
    if len(set(chosen)) != len(chosen):
        raise ClientError("an option is listed twice")
    return chosen


def parse_choice(definition: BallotDefinition, text: str) -> Choice:
    """A choice from the command line: ``yes``/``no``/``abstain``; an option's text or
    number; for approval a comma list (empty: approve none); for ranked an ordered comma
    list, most preferred first; for numeric an integer within the bounds."""
    text = text.strip()
    kind = definition.kind
    if kind is BallotKind.YES_NO_ABSTAIN:
        answers = {"yes": Answer.YES, "no": Answer.NO, "abstain": Answer.ABSTAIN}
        answer = answers.get(text.casefold())
        if answer is None:
            raise ClientError("answer yes, no or abstain")
        return YesNoChoice(answer)
    if kind is BallotKind.SINGLE:
        return SingleChoice(_option(definition, text))
    if kind is BallotKind.APPROVAL:
        return ApprovalChoice(frozenset(_options(definition, text)))
    if kind is BallotKind.RANKED:
        return RankedChoice(tuple(_options(definition, text)))
    try:
        value = int(text)
    except ValueError:
        raise ClientError("answer a whole number") from None
    if not definition.numeric_min <= value <= definition.numeric_max:
        raise ClientError(
            f"answer a number from {definition.numeric_min} to {definition.numeric_max}"
        )
    return NumericChoice(value)


# -- the service ----------------------------------------------------------------------


class BallotService(BallotReader):
    """Ballots of one unlocked profile; use it from the engine's asyncio loop."""

    def __init__(self, ctx: Context, groups: Groups, commits: Commits, sending: Sending) -> None:
        super().__init__(ctx.db, ctx.identity.public_key)
        self._ctx = ctx
        self._groups = groups
        self._commits = commits
        self._sending = sending
        self._repair = BallotRepair(ctx, groups, sending)

    # -- lookup helpers -------------------------------------------------------------------

    def _locate(self, ballot: bytes | str) -> tuple[bytes, bytes]:
        if isinstance(ballot, str):
            return self.resolve_ballot(ballot)
        group_id = store.ballot_group(self.db, ballot)
        if group_id is None:
            raise NotFound("no such ballot")
        return group_id, ballot

    def _keypair(self, group_id: bytes) -> BallotKeyPair | None:
        secret = store.ballot_key_secret(self.db, group_id)
        return None if secret is None else BallotKeyPair.from_secret(secret)

    def _reveal_key(self, group_id: bytes, ballot_id: bytes) -> tuple[RevealKey, bool] | None:
        row = store.load_reveal_key(self.db, group_id, ballot_id)
        return None if row is None else (RevealKey.from_secret(row.secret), row.released)

    def _mark_released(self, group_id: bytes, ballot_id: bytes) -> None:
        with self.db.transaction():
            store.mark_reveal_released(self.db, group_id, ballot_id)

    # -- ballot keys ----------------------------------------------------------------------

    async def ensure_ballot_key(self, group_id: bytes) -> bool:
        """Register this member's ballot key in the group log if it is not (or no longer)
        the registered one; returns whether an entry was committed. Only members with a
        registered key when a ballot is created are eligible in it."""
        session = self._groups.session(group_id)
        if not session.active:
            return False
        if session.state.is_device(self._ctx.identity.public_key):
            # A linked device uses its member's key, given at linking (protocol 8.5).
            return False
        me = self._ctx.identity.public_key
        pair = self._keypair(group_id)
        if pair is not None and session.state.ballot_keys.get(me) == pair.public:
            return False
        if pair is None:
            pair = BallotKeyPair.generate(self._ctx.rng)
            with self.db.transaction():
                store.insert_ballot_key(
                    self.db,
                    BallotKeyRow(group_id, pair.secret_bytes(), pair.public, self._ctx.now()),
                )
        registering = pair

        def make(state: GroupState) -> tuple[EntryKind, bytes]:
            if state.ballot_keys.get(me) == registering.public:
                raise AlreadyExists("your ballot key is registered already")
            record = BallotKeyRecord.create(registering, me, group_id, self._ctx.rng)
            return EntryKind.BALLOT_KEY, record.encode()

        try:
            await self._commits.commit(group_id, make)
        except AlreadyExists:
            return False
        return True

    # -- creating -------------------------------------------------------------------------

    async def create(
        self,
        group_id: bytes,
        question: str,
        *,
        closes_at: int,
        kind: BallotKind = BallotKind.SINGLE,
        options: Sequence[str] = (),
        quorum: int = 0,
        numeric_min: int = 0,
        numeric_max: int = 0,
        histogram_bins: int = 10,
    ) -> bytes:
        """Publish a ballot to the group; returns its id.

        The eligible members are those with a registered ballot key now, frozen in the
        signed definition. The reveal key stays in this profile until the deadline (or
        ``close``). If the relay is unreachable the definition stays queued and goes out
        with the next sync; the id is returned all the same.
        """
        kind = BallotKind(kind)
        if kind is not BallotKind.NUMERIC:
            numeric_min = numeric_max = histogram_bins = 0
        for _ in range(CREATE_ATTEMPTS):
            await self._groups.sync_group(group_id)
            session = self._groups.require_active(group_id)
            roster = session.state.ballot_roster()
            if not roster:
                raise ClientError("no member has a registered ballot key yet; sync and retry")
            if quorum > len(roster):
                raise ClientError(f"the quorum exceeds the {len(roster)} eligible members")
            now = self._ctx.now()
            if closes_at <= now:
                raise ClientError("the deadline must be in the future")
            try:
                definition, reveal = BallotDefinition.create(
                    self._ctx.identity,
                    group_id,
                    question,
                    kind,
                    roster,
                    now,
                    closes_at,
                    self._ctx.rng,
                    options=tuple(options),
                    numeric_min=numeric_min,
                    numeric_max=numeric_max,
                    histogram_bins=histogram_bins,
                    quorum=quorum,
                )
            except UsageError as exc:
                raise ClientError(str(exc)) from None
            ballot_id = definition.ballot_id
            with self.db.transaction():
                store.insert_reveal_key(
                    self.db, RevealKeyRow(group_id, ballot_id, reveal.secret, now)
                )
            try:
                view = await self._sending.send_content(
                    group_id,
                    CONTENT_TYPE_DEFINITION,
                    definition.encode(),
                    definition_text(definition),
                )
            except RelayUnavailable:
                return ballot_id  # queued; published by the next sync
            if view.status == "pending":
                return ballot_id
            await self._groups.sync_group(group_id)
            if load_ballot(self.db, group_id, ballot_id) is not None:
                return ballot_id
            if self._sending.message(view.row_id).status == "pending":
                return ballot_id
            # Every client (ours too) refused it. The only honest cause is a change of the
            # registered keys between our sync and the post: start again with the new ones.
            changed = self._groups.session(group_id).state.ballot_roster() != definition.roster
            with self.db.transaction():
                store.delete_refused_ballot(
                    self.db,
                    group_id,
                    ballot_id,
                    view.row_id,
                    "not accepted: the eligible members changed while it was sent",
                )
            if not changed:
                raise ClientError("the group did not accept the ballot; see the warnings")
        raise ClientError("the group's members kept changing; create the ballot again")

    # -- voting ---------------------------------------------------------------------------

    def parse_choice(self, ballot: bytes | str, text: str) -> Choice:
        group_id, ballot_id = self._locate(ballot)
        return parse_choice(self._ballot(group_id, ballot_id).definition, text)

    def _next_revision(self, ballot: StoredBallot, pair: BallotKeyPair) -> int:
        """One more than any revision we cast, here or (after a restore) as seen by the
        group under our key image."""
        local = store.max_outbox_revision(self.db, ballot.group_id, ballot.ballot_id)
        seen = store.max_seen_revision(
            self.db,
            ballot.group_id,
            ballot.ballot_id,
            ballot.definition.key_image(pair.secret),
        )
        known = [r for r in (local, seen) if r is not None]
        return max(known) + 1 if known else 0

    def _delay(self, delay_ms: int | None, now: int, closes_at: int) -> int:
        if delay_ms is None:
            low, high = VOTE_DELAY_MS
            delay_ms = low + int.from_bytes(self._ctx.rng(4), "big") % (high - low + 1)
        # Never let our own delay push the vote past the deadline.
        return max(0, min(delay_ms, closes_at - now - 1_000))

    async def vote(
        self, ballot: bytes | str, choice: Choice | str, *, delay_ms: int | None = None
    ) -> VoteReceipt:
        """Cast (or replace) this member's vote.

        ``choice`` is a ``Choice`` or text for ``parse_choice``. The anonymous item goes
        out after ``delay_ms`` (default: random within ``VOTE_DELAY_MS``); a vote still
        waiting is posted by the outbox's next flush (``Engine.flush_outbox``, every sync).
        A new vote
        replaces the previous one (a higher revision under the same key image).
        ``RelayUnavailable``: the vote is kept and goes out with a later sync.
        """
        group_id, ballot_id = self._locate(ballot)
        with contextlib.suppress(RelayUnavailable):
            await self._groups.sync_group(group_id)  # offline: vote on what we know; it waits
        stored = self._ballot(group_id, ballot_id)
        definition = stored.definition
        if stored.state is not BallotState.OPEN:
            raise ClientError("this ballot is closed; votes are no longer accepted")
        now = self._ctx.now()
        if now >= definition.closes_at:
            raise ClientError("the deadline of this ballot has passed")
        if now < definition.opens_at:
            raise ClientError("this ballot is not open yet")
        pair = self._keypair(group_id)
        if pair is None or pair.public not in definition.roster:
            raise NotPermittedHere(
                "you are not eligible in this ballot: you had no registered ballot key"
                " when it was created"
            )
        if voted_elsewhere(self.db, group_id, ballot_id) is not None:
            raise NotPermittedHere(
                "you voted in this ballot on another of your devices; a member votes once"
            )
        if isinstance(choice, str):
            choice = parse_choice(definition, choice)
        revision = self._next_revision(stored, pair)
        try:
            cast = cast_vote(
                definition,
                pair,
                definition.roster.index(pair.public),
                choice,
                self._ctx.rng,
                revision=revision,
            )
        except UsageError as exc:
            raise ClientError(str(exc)) from None
        delay = self._delay(delay_ms, now, definition.closes_at)
        queued = OutboxRow(
            group_id=group_id,
            ballot_id=ballot_id,
            revision=revision,
            vote=cast,
            vote_hash=kdf.digest("ballot-vote-hash", cast),
            not_before=now + delay,
            created_at=now,
        )
        # The outbox delivers it: at once when there is no delay, else once it is due.
        posted = await self._sending.queue_vote(queued)
        if posted:
            await self._groups.sync_group(group_id)
        return VoteReceipt(ballot_id, revision, posted, now + delay)

    # -- closing --------------------------------------------------------------------------

    async def _release(self, ballot: StoredBallot, reveal: RevealKey) -> None:
        """Release the key, naming the votes counted: the latest per voter among those
        before the close, as this client holds them (docs/ballots.md 13.1)."""
        release = RevealRelease.create(ballot.ballot_id, reveal, counted_hashes(self.db, ballot))
        self._mark_released(ballot.group_id, ballot.ballot_id)
        await self._sending.send_content(
            ballot.group_id,
            CONTENT_TYPE_REVEAL,
            release.encode(),
            reveal_text(ballot.definition),
        )

    def _may_close(self, stored: StoredBallot) -> bool:
        me = self._ctx.identity.public_key
        if stored.creator_pk == me:
            return True
        state = self._groups.session(stored.group_id).state
        return state.is_member(me) and state.role_of(me) == Role.ORGANIZER

    async def _post_close(self, stored: StoredBallot) -> None:
        with self.db.transaction():
            store.mark_close_sent(self.db, stored.group_id, stored.ballot_id)
        await self._sending.send_content(
            stored.group_id,
            CONTENT_TYPE_CLOSE,
            BallotNotice(stored.ballot_id).encode(),
            close_text(stored.definition),
        )

    async def _close_and_release(self, stored: StoredBallot) -> None:
        """The creator: close (if open), read up to the close, then release the key
        naming the votes before it."""
        group_id, ballot_id = stored.group_id, stored.ballot_id
        if stored.state is BallotState.OPEN:
            await self._post_close(stored)
            await self._groups.sync_group(group_id)
            stored = self._ballot(group_id, ballot_id)
        reveal = self._reveal_key(group_id, ballot_id)
        if reveal is None:
            raise ClientError("this profile no longer holds the ballot's reveal key")
        if stored.state is BallotState.CLOSED and not reveal[1]:
            await self._release(stored, reveal[0])

    async def close(self, ballot: bytes | str) -> BallotView:
        """Close a ballot now (before its deadline too): its creator or an organizer.
        The creator's client then releases the key; every client tallies the votes it
        names."""
        group_id, ballot_id = self._locate(ballot)
        await self._groups.sync_group(group_id)
        stored = self._ballot(group_id, ballot_id)
        if not self._may_close(stored):
            raise NotPermittedHere("only the ballot's creator or an organizer can close it")
        if stored.state is BallotState.CANCELLED:
            raise ClientError("this ballot was cancelled")
        if stored.creator_pk == self._ctx.identity.public_key:
            await self._close_and_release(stored)
        elif stored.state is BallotState.OPEN:
            await self._post_close(stored)
        await self._groups.sync_group(group_id)
        return self.ballot(group_id, ballot_id)

    async def rerun(self, ballot: bytes | str, *, closes_at: int | None = None) -> bytes:
        """Run a ballot again with today's eligible members (docs/ballots.md 13.4): the
        same question, kind, options and quorum, open for as long as the original was
        (or until ``closes_at``). Its creator or an organizer; returns the new id."""
        group_id, ballot_id = self._locate(ballot)
        stored = self._ballot(group_id, ballot_id)
        if not self._may_close(stored):
            raise NotPermittedHere("only the ballot's creator or an organizer can run it again")
        definition = stored.definition
        if closes_at is None:
            closes_at = self._ctx.now() + (definition.closes_at - definition.opens_at)
        roster = self._groups.session(group_id).state.ballot_roster()
        return await self.create(
            group_id,
            definition.question,
            closes_at=closes_at,
            kind=definition.kind,
            options=definition.options,
            quorum=min(definition.quorum, len(roster)),
            numeric_min=definition.numeric_min,
            numeric_max=definition.numeric_max,
            histogram_bins=definition.histogram_bins or 10,
        )

    async def verify(self, ballot: bytes | str) -> BallotAudit:
        """Re-check every stored vote of a ballot and its stored result from scratch
        (``caucus ballot verify``; ``app.core.ballot_audit``)."""
        group_id, ballot_id = self._locate(ballot)
        stored = load_ballot(self.db, group_id, ballot_id)
        if stored is None:
            raise NotFound("no such ballot")
        return await audit_ballot(self.db, stored)

    async def cancel(self, ballot: bytes | str) -> BallotView:
        """The creator withdraws a ballot before its result is out; nothing is tallied."""
        group_id, ballot_id = self._locate(ballot)
        await self._groups.sync_group(group_id)
        stored = self._ballot(group_id, ballot_id)
        if stored.creator_pk != self._ctx.identity.public_key:
            raise NotPermittedHere("only the ballot's creator can cancel it")
        if stored.state not in (BallotState.OPEN, BallotState.CLOSED):
            raise ClientError(f"a ballot that is {stored.state} cannot be cancelled")
        self._mark_released(group_id, ballot_id)  # never release the key now
        await self._sending.send_content(
            group_id,
            CONTENT_TYPE_CANCEL,
            BallotNotice(ballot_id).encode(),
            cancel_text(stored.definition),
        )
        await self._groups.sync_group(group_id)
        return self.ballot(group_id, ballot_id)

    async def _close_due(self, group_id: bytes) -> None:
        """After the deadline the creator closes and releases the key; an organizer posts
        a close marker if the ballot is still open after a grace. Other members never
        close (their clock cannot be checked)."""
        now = self._ctx.now()
        me = self._ctx.identity.public_key
        posted = False
        for ballot_id in store.unfinished_ballots(self.db, group_id):
            stored = self._ballot(group_id, ballot_id)
            definition = stored.definition
            if stored.creator_pk == me and self._reveal_key(group_id, ballot_id) is not None:
                reveal = self._reveal_key(group_id, ballot_id)
                due = stored.state is BallotState.CLOSED or now >= definition.closes_at
                if due and reveal is not None and not reveal[1]:
                    posted = True
                    await self._close_and_release(stored)
                continue
            if (
                stored.state is BallotState.OPEN
                and not stored.close_sent
                and now >= definition.closes_at + CLOSE_GRACE_MS
                and self._may_close(stored)
            ):
                posted = True
                await self._post_close(stored)
        if posted:
            await self._groups.sync_group(group_id)  # our own close or reveal, and the tally

    # -- maintenance ----------------------------------------------------------------------

    def _mark_eligibility(self, group_id: bytes) -> None:
        """Open ballots whose ring lost a member in the log we hold are marked now, so
        voters see it before the close; the close applies the same rule (13.4)."""
        state = self._groups.session(group_id).state
        for ballot_id in store.unfinished_ballots(self.db, group_id):
            stored = self._ballot(group_id, ballot_id)
            if stored.state is not BallotState.OPEN:
                continue
            changed: list[Event] = []
            with self.db.transaction():
                note_eligibility(self.db, stored, state, self._ctx.now(), changed)
            if changed:
                changed.append(BallotChanged(group_id, ballot_id))
            for event in changed:
                self._ctx.events.emit(event)

    async def maintain(self, group_id: bytes) -> None:
        """Key registration, due closes and reveals for one group (the outbox posts the
        votes)."""
        if not self._groups.session(group_id).active:
            return
        self._mark_eligibility(group_id)
        await self.ensure_ballot_key(group_id)
        await self._close_due(group_id)
        await self._repair.run(group_id)

    async def maintain_quietly(self, group_id: bytes) -> None:
        """The engine's ballot step after a group sync. Offline, it does nothing; other
        failures become warnings and never stop the sync."""
        try:
            await self.maintain(group_id)
        except RelayUnavailable:
            return
        except (RemoteError, ClientError) as exc:
            self._ctx.events.warn(group_id, "ballot-maintenance-failed", str(exc))
