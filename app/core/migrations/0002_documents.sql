-- Caucus profile database, schema 2: signed documents (docs/documents.md, section 10).

-- One row per (group, document, version): the first announcement seen, or the one that
-- replaced an untrusted squatter. ``announcement`` is the encoded, signed announcement
-- (it holds the content key, so it lives only here, inside SQLCipher); the other columns
-- are copies of its fields for listing without re-verifying signatures.
CREATE TABLE doc_announcements (
    id            INTEGER PRIMARY KEY,
    group_id      BLOB    NOT NULL,
    document_id   BLOB    NOT NULL,
    version       INTEGER NOT NULL,
    signer_pk     BLOB    NOT NULL,
    signer_name   TEXT    NOT NULL,
    sender_pk     BLOB    NOT NULL,
    trusted       INTEGER NOT NULL,          -- 1 only if the trust rule held (section 7)
    reason        TEXT    NOT NULL DEFAULT '',  -- why not trusted, shown to people
    title         TEXT    NOT NULL,
    filename      TEXT    NOT NULL,
    media_type    TEXT    NOT NULL,
    note          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    published_at  INTEGER NOT NULL,
    blake2b512    BLOB    NOT NULL,
    sha256        BLOB    NOT NULL,
    blob_id       BLOB    NOT NULL,
    announcement  BLOB    NOT NULL,
    epoch         INTEGER NOT NULL,          -- latest epoch a message carried it in
    relay_seq     INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    UNIQUE (group_id, document_id, version)
);
CREATE INDEX doc_announcements_by_blob ON doc_announcements (blob_id);

-- "I have read version n": one per member and version; ``blake2b512`` is the hash the
-- member acknowledged (listed only where it equals the announcement's).
CREATE TABLE doc_acks (
    group_id     BLOB    NOT NULL,
    document_id  BLOB    NOT NULL,
    version      INTEGER NOT NULL,
    member_pk    BLOB    NOT NULL,
    member_name  TEXT    NOT NULL,
    blake2b512   BLOB    NOT NULL,
    acked_at     INTEGER NOT NULL,           -- the sender's clock (informational)
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, document_id, version, member_pk)
);

-- Blobs kept on disk, still encrypted: ``path`` is the file name inside the profile's
-- ``documents`` folder; ``complete`` is set only after every chunk authenticated and the
-- plaintext hash matched the signed one.
CREATE TABLE doc_downloads (
    blob_id     BLOB    PRIMARY KEY,
    path        TEXT    NOT NULL,
    complete    INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);
