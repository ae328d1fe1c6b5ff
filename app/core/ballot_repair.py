"""Healing a split tally: ask for the counted votes this client lacks, and post again the
votes others asked for (docs/ballots.md section 13.2).

A vote is self-authenticating (a ring signature over the frozen roster), so whoever holds
it can post it again: it is sealed anew for the live epoch and posted anonymously over a
fresh connection, like the voter's own vote. Only the creator (who named it) and the
voter answer a request, so the relay learns nothing it did not see at the first post.
Runs from ``BallotService.maintain`` after each group sync.
"""

from __future__ import annotations

from app.core.ballot_records import load_ballot
from app.core.ballot_settle import DIFFER, ballot_name
from app.core.errors import RelayRejected
from app.core.ports import Context, Groups, Sending
from app.core.store import ballot_tally as tally_store
from app.core.store.ballot_tally import Integrity
from crypto.ballot.release import CONTENT_TYPE_MISSING_VOTES, MissingVotes
from crypto.ballot.transport import seal_vote_item

__all__ = ["REPAIR_REQUESTS", "REPAIR_RETRY_MS", "BallotRepair"]

REPAIR_RETRY_MS = 60_000
"""A member still missing counted votes asks again after this long."""

REPAIR_REQUESTS = 3
"""Requests before the client says the votes never arrived (it still takes them later)."""


class BallotRepair:
    def __init__(self, ctx: Context, groups: Groups, sending: Sending) -> None:
        self._ctx = ctx
        self._groups = groups
        self._sending = sending

    async def run(self, group_id: bytes) -> None:
        await self.repost(group_id)
        await self.request(group_id)

    async def request(self, group_id: bytes) -> int:
        """Post a missing-votes request for each revealed ballot still waiting for named
        votes (at most ``REPAIR_REQUESTS``, ``REPAIR_RETRY_MS`` apart); returns how many."""
        db = self._ctx.db
        now = self._ctx.now()
        posted = 0
        for ballot_id in tally_store.waiting_ballots(db, group_id):
            row = tally_store.load_tally(db, group_id, ballot_id)
            ballot = load_ballot(db, group_id, ballot_id)
            if row is None or row.counted is None or ballot is None:
                continue
            held = tally_store.held_votes(db, group_id, ballot_id)
            missing = [h for h in row.counted if h not in held]
            if not missing:
                continue
            recent = (
                row.repair_requested_at is not None
                and now - row.repair_requested_at < REPAIR_RETRY_MS
            )
            if recent:
                continue
            if row.repair_requests >= REPAIR_REQUESTS:
                if row.repair_requests == REPAIR_REQUESTS:
                    self._give_up(group_id, ballot_id, ballot_name(ballot), len(missing), now)
                continue
            with db.transaction():
                tally_store.note_repair_request(db, group_id, ballot_id, now)
            await self._sending.send_content(
                group_id,
                CONTENT_TYPE_MISSING_VOTES,
                MissingVotes.create(ballot_id, missing).encode(),
                f"Asked the group for {len(missing)} counted vote(s) of the ballot:"
                f" {ballot.definition.question}",
            )
            posted += 1
        return posted

    def _give_up(
        self, group_id: bytes, ballot_id: bytes, name: str, missing: int, now: int
    ) -> None:
        detail = (
            f"{DIFFER}: {missing} of the votes the creator's reveal counts never reached"
            " this client, after asking the group for them"
        )
        with self._ctx.db.transaction():
            tally_store.note_repair_request(self._ctx.db, group_id, ballot_id, now)
            tally_store.set_integrity(self._ctx.db, group_id, ballot_id, Integrity.WAITING, detail)
        self._ctx.events.warn(group_id, "ballot-results-differ", f"{name}: {detail}")

    async def repost(self, group_id: bytes) -> int:
        """Post the votes others asked for; returns how many went out."""
        db = self._ctx.db
        session = self._groups.session(group_id)
        keys = session.keys
        if not session.active or keys is None or session.state.needs_rekey:
            return 0
        posted = 0
        for repost in tally_store.load_reposts(db, group_id):
            vote = tally_store.raw_vote(db, group_id, repost.ballot_id, repost.vote_hash)
            if vote is not None:
                item = seal_vote_item(keys, vote, self._ctx.rng)
                client = self._ctx.relays.fresh(session.relay_url)
                try:
                    await client.post_item(session.mailbox_id, keys.mailbox_cap, item)
                    posted += 1
                except RelayRejected as exc:
                    if exc.code == "stale_epoch":
                        return posted  # a commit ended the epoch: next sync, new keys
                finally:
                    await client.aclose()
            with db.transaction():
                tally_store.mark_reposted(db, repost)
        return posted
