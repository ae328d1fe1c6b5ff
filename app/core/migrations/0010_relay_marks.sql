-- What each group last saw of its relay (docs/protocol.md section 7.2, "Rewind"): the
-- relay's generation id (X-Caucus-Generation; NULL until the first fetch that carries one)
-- and the highest X-Caucus-Last it reported. A new generation, or a last below what it
-- reported before, means the relay was restored from an older copy and reuses sequence
-- numbers: the client warns and re-reads the live epoch from its start.
ALTER TABLE groups ADD COLUMN relay_generation TEXT;
ALTER TABLE groups ADD COLUMN relay_last INTEGER NOT NULL DEFAULT 0;
