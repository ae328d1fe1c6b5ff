-- Caucus profile database, schema 16: the full-text index of messages is written by the
-- store (app/core/store/messages.py), once per sync batch, instead of by a trigger per
-- row. Each statement on a table with a trigger into FTS5 made FTS5 write its pending
-- terms as a new segment and merge segments again, one row at a time: most of the cost
-- of storing a message during a catch-up (bench/client_bench.py). Rows are still
-- indexed in the transaction that stores them; deleting a row still unindexes it.
DROP TRIGGER messages_ai;
