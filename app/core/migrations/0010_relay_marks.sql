-- What each group last saw of its relay (docs/protocol.md section 7.2, "Rewind"): the
-- relay's generation id (X-Caucus-Generation; NULL until the first fetch that carries one)
-- and the highest X-Caucus-Last it reported. A new generation, or a last below what it
-- reported before, means the relay was restored from an older copy and reuses sequence
-- numbers: the client warns and re-reads the live epoch from its start; relay_reread is 1
-- while such a re-read has not reached the end (the next sync starts it again).
ALTER TABLE groups ADD COLUMN relay_generation TEXT;
ALTER TABLE groups ADD COLUMN relay_last INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN relay_reread INTEGER NOT NULL DEFAULT 0;
