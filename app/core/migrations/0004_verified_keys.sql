-- Members whose safety number this profile compared in person (or over a trusted channel).

CREATE TABLE verified_keys (
    identity_pk BLOB    PRIMARY KEY,  -- the member's Ed25519 identity key we compared
    name        TEXT    NOT NULL,     -- their display name when verified
    verified_at INTEGER NOT NULL      -- ms since the Unix epoch
);
