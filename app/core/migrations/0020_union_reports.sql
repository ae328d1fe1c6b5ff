-- Union tools (docs/union-tools.md): anonymous rate reports, anonymous client reports,
-- the organizers' k threshold, and this member's own reports waiting to be posted.
-- Nothing here names a reporter: a report is known by its key image, which only its
-- author can recompute.

-- Verified rate reports (content type 48), every revision; the board uses the newest
-- per (group, period, key image): highest revision, then latest relay position.
CREATE TABLE rate_reports (
    group_id     BLOB    NOT NULL,
    report_hash  BLOB    NOT NULL,
    period       TEXT    NOT NULL,
    key_image    BLOB    NOT NULL,
    revision     INTEGER NOT NULL,
    relay_seq    INTEGER NOT NULL,
    role         TEXT    NOT NULL,
    seniority    TEXT    NOT NULL,
    rate         TEXT    NOT NULL,           -- the decimal string as signed
    currency     TEXT    NOT NULL,
    unit         INTEGER NOT NULL,           -- 1 hour, 2 day, 3 project
    region       TEXT    NOT NULL,
    PRIMARY KEY (group_id, report_hash)
);
CREATE INDEX rate_reports_by_scope ON rate_reports (group_id, period, key_image);

-- Verified client reports (content type 52); newest per (group, client, key image).
CREATE TABLE client_reports (
    group_id       BLOB    NOT NULL,
    report_hash    BLOB    NOT NULL,
    client         TEXT    NOT NULL,         -- the normalised name
    key_image      BLOB    NOT NULL,
    revision       INTEGER NOT NULL,
    relay_seq      INTEGER NOT NULL,
    paid_late_days INTEGER NOT NULL,
    scope_creep    INTEGER NOT NULL,
    again          INTEGER NOT NULL,
    comment        TEXT    NOT NULL,
    PRIMARY KEY (group_id, report_hash)
);
CREATE INDEX client_reports_by_scope ON client_reports (group_id, client, key_image);

-- The k threshold an organizer set (content type 49); the latest in relay order.
CREATE TABLE union_thresholds (
    group_id   BLOB    PRIMARY KEY,
    k          INTEGER NOT NULL,
    relay_seq  INTEGER NOT NULL
);

-- This member's own reports until the relay took them. The fields are kept unsigned:
-- a report is signed afresh for the live epoch's ring at every attempt.
CREATE TABLE union_outbox (
    id            INTEGER PRIMARY KEY,
    group_id      BLOB    NOT NULL,
    content_type  INTEGER NOT NULL,
    scope         TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    fields        BLOB    NOT NULL,
    not_before    INTEGER NOT NULL,          -- posted after this time (random delay)
    status        TEXT    NOT NULL,          -- pending | sent | failed
    relay_seq     INTEGER,
    created_at    INTEGER NOT NULL
);
