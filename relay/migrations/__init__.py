"""Numbered SQL migrations of the relay database, applied in order by ``relay.migrate``."""
