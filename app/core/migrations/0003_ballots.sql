-- Caucus profile database, schema 3: anonymous ballots (docs/ballots.md section 10).

-- This member's ballot key in each group. The secret scalar lives only here, inside
-- SQLCipher; the public key is registered by a BALLOT_KEY log entry.
CREATE TABLE ballot_keys (
    group_id    BLOB    PRIMARY KEY,
    secret      BLOB    NOT NULL,
    public      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Every ballot whose definition every member's client accepted, and how it ended.
-- ``state`` follows crypto/ballot/state.py; ``close_seq`` is the relay sequence number
-- of the message that closed the ballot: only votes before it count.
CREATE TABLE ballots (
    group_id      BLOB    NOT NULL,
    ballot_id     BLOB    NOT NULL,
    definition    BLOB    NOT NULL,          -- the signed definition, as received
    creator_pk    BLOB    NOT NULL,
    creator_name  TEXT    NOT NULL,
    state         TEXT    NOT NULL,          -- open | closed | revealed | tallied | cancelled
    defined_seq   INTEGER NOT NULL,
    close_seq     INTEGER,
    closed_by     TEXT,                      -- deadline | early | reveal | cancel
    reveal_secret BLOB,                      -- the key the creator released (public by then)
    result        TEXT,                      -- Result.to_json(), the same bytes everywhere
    close_sent    INTEGER NOT NULL DEFAULT 0,  -- we posted a close marker (local only)
    received_at   INTEGER NOT NULL,
    PRIMARY KEY (group_id, ballot_id)
);
CREATE INDEX ballots_by_id ON ballots (ballot_id);

-- Verified votes only: each row is verify_vote's output for its ballot, in relay order.
CREATE TABLE ballot_votes (
    group_id         BLOB    NOT NULL,
    ballot_id        BLOB    NOT NULL,
    vote_hash        BLOB    NOT NULL,
    key_image        BLOB    NOT NULL,
    revision         INTEGER NOT NULL,
    encrypted_choice BLOB    NOT NULL,
    relay_seq        INTEGER NOT NULL,
    PRIMARY KEY (group_id, ballot_id, vote_hash)
);

-- Reveal keys of the ballots this profile created, until and after their release.
CREATE TABLE ballot_reveal_keys (
    group_id    BLOB    NOT NULL,
    ballot_id   BLOB    NOT NULL,
    secret      BLOB    NOT NULL,
    released    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, ballot_id)
);

-- This profile's own votes: the revision counter per ballot and the outbox of anonymous
-- items. The choice itself is not stored, only the vote (sealed to the reveal key).
CREATE TABLE ballot_outbox (
    id          INTEGER PRIMARY KEY,
    group_id    BLOB    NOT NULL,
    ballot_id   BLOB    NOT NULL,
    revision    INTEGER NOT NULL,
    vote        BLOB    NOT NULL,
    vote_hash   BLOB    NOT NULL,
    not_before  INTEGER NOT NULL,            -- posted after this time (random delay)
    status      TEXT    NOT NULL,            -- pending | sent | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    relay_seq   INTEGER,
    created_at  INTEGER NOT NULL,
    UNIQUE (group_id, ballot_id, revision)
);
