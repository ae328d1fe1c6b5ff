"""PostgreSQL ports of the numbered migrations in ``relay/migrations`` (same numbers)."""
