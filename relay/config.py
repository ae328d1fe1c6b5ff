"""Settings of one relay process: where the database lives and every limit it enforces.

A frozen value built once (by the CLI, ``EmbeddedRelay`` or a test) and passed down, so
no module reads the environment or a global.  Defaults are protocol section 6.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["KIB", "MIB", "RelayConfig"]

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class RelayConfig:
    """Everything the relay needs to know; all sizes in bytes, all rates per second."""

    db_path: Path
    # a postgresql:// URL: use that server instead of the SQLite file (db_path is unused)
    db_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8470
    retention_days: float = 90.0
    purge_interval_s: float = 3600.0
    max_mailbox_bytes: int = 256 * MIB
    # token buckets: requests per capability hash / inbox id / blob id
    rate_per_s: float = 50.0
    rate_burst: float = 200.0
    # reads have their own buckets: a commit wakes every member of a group at once
    read_rate_per_s: float = 200.0
    read_burst: float = 2000.0
    # one bucket per process for mailbox, inbox and blob creations
    create_per_s: float = 10.0 / 60.0
    create_burst: float = 100.0
    max_tracked_buckets: int = 100_000
    # body limits (protocol 6.1)
    max_item_bytes: int = 256 * KIB
    max_commit_item_bytes: int = 4 * MIB
    max_inbox_item_bytes: int = 4 * MIB
    max_chunk_bytes: int = MIB + 64
    max_json_bytes: int = 4 * KIB
    max_blob_bytes: int = 128 * MIB
    max_blob_chunks: int = 1024
    # fetches
    max_fetch_items: int = 1000
    max_fetch_bytes: int = 8 * MIB
    max_wait_s: float = 30.0
    # inbox signatures
    auth_window_ms: int = 300_000
    # group commit: at most this many writes share one transaction
    max_batch: int = 512
    # Prometheus metrics on their own listener (never on the public one); off by default
    metrics: bool = False
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9471

    def __post_init__(self) -> None:
        if self.retention_days <= 0 or self.purge_interval_s <= 0:
            raise ValueError("retention and purge interval must be positive")
        if self.max_mailbox_bytes <= 0 or self.rate_per_s <= 0 or self.create_per_s <= 0:
            raise ValueError("quota and rates must be positive")
        if (
            min(self.rate_burst, self.read_burst, self.create_burst) < 1
            or self.read_rate_per_s <= 0
        ):
            raise ValueError("bursts must allow at least one request")
        if not 0 <= self.port <= 65535 or not 0 <= self.metrics_port <= 65535:
            raise ValueError("port out of range")

    @property
    def retention_s(self) -> float:
        return self.retention_days * 86400.0
