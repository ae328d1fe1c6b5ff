-- Caucus relay schema 2 on PostgreSQL: the port of ../0002_generation.sql, the relay's
-- generation id (one row, inserted by relay/generation.py).
CREATE TABLE generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value TEXT NOT NULL CHECK (length(value) = 32)
);
