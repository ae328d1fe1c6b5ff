-- Caucus profile database, schema 11: one tally for everyone (docs/ballots.md section 13).

-- The votes the creator's reveal names (32-byte vote hashes, ascending, concatenated);
-- every client tallies exactly these. NULL until a version 2 reveal arrived.
ALTER TABLE ballots ADD COLUMN counted BLOB;
-- NULL: this client's votes agree with the named set. 'waiting': named votes have not
-- arrived here yet (asked for). 'differs': a mismatch that cannot heal. Shown to the person.
ALTER TABLE ballots ADD COLUMN integrity TEXT;
ALTER TABLE ballots ADD COLUMN integrity_detail TEXT;
-- A member of the ballot's ring left, was removed or replaced their ballot key before
-- the close (decided at the close, identically in every client).
ALTER TABLE ballots ADD COLUMN eligibility_changed INTEGER NOT NULL DEFAULT 0;
-- Local only: missing-votes requests this client posted, and when the last one went out.
ALTER TABLE ballots ADD COLUMN repair_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ballots ADD COLUMN repair_requested_at INTEGER;

-- The vote as received (self-authenticating), so it can be posted again for a member
-- who asks for it. NULL for votes received before this schema.
ALTER TABLE ballot_votes ADD COLUMN vote BLOB;

-- Votes this client was asked to post again (content type 20): ``pending`` until posted;
-- ``answered`` counts the posts, so one member's requests cannot make it post a vote
-- again and again (at most REPOST_ANSWERS times).
CREATE TABLE ballot_reposts (
    group_id   BLOB    NOT NULL,
    ballot_id  BLOB    NOT NULL,
    vote_hash  BLOB    NOT NULL,
    asked_at   INTEGER NOT NULL,
    pending    INTEGER NOT NULL DEFAULT 1,
    answered   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, ballot_id, vote_hash)
);
