"""Settings of one relay process: where the database lives and every limit it enforces.

A frozen value built once (by the CLI, ``EmbeddedRelay`` or a test) and passed down, so
no module reads the environment or a global.  Defaults are protocol section 6.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["GIB", "KIB", "MIB", "RelayConfig"]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


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
    # inboxes carry only join requests and welcomes
    max_inbox_bytes: int = 8 * MIB
    max_inbox_items: int = 256
    # the whole database, and the free disk space every write must leave
    max_db_bytes: int = 16 * GIB
    min_free_disk_bytes: int = 512 * MIB
    # token buckets: requests per capability hash / inbox id / blob id
    rate_per_s: float = 50.0
    rate_burst: float = 200.0
    # reads have their own buckets: a commit wakes every member of a group at once
    read_rate_per_s: float = 200.0
    read_burst: float = 2000.0
    # the rates above are per connection and key; a key as a whole gets this many times
    # more, so one member flooding a group's capability cannot starve another
    group_factor: float = 10.0
    # free creations (mailbox, inbox, blob): one bucket per process; once it is empty a
    # creation needs proof of work (relay/pow.py), whose bits adapt per time bucket
    create_per_s: float = 10.0 / 60.0
    create_burst: float = 100.0
    work_bucket_s: float = 30.0
    work_allowance: int = 100
    work_min_bits: int = 12
    work_max_bits: int = 24
    # hex, 32 to 128 digits; "" picks a random key per process. Relay processes behind one
    # address must share one, or a proof solved for one is refused by another.
    work_key: str = ""
    # operator option, off by default: free creations per client address as well
    create_per_address_per_s: float = 0.0
    create_per_address_burst: float = 10.0
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
    # connections (protocol 6.2): idle keep-alive, time to send a request head, time to
    # send a body (between two reads, and in all), open connections before 503 busy
    keep_alive_s: int = 5
    head_timeout_s: float = 10.0
    body_idle_timeout_s: float = 20.0
    body_timeout_s: float = 120.0
    max_connections: int = 4096

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
        if (
            min(self.keep_alive_s, self.head_timeout_s, self.body_idle_timeout_s) <= 0
            or self.body_timeout_s <= 0
            or self.max_connections < 1
        ):
            raise ValueError("timeouts and the connection cap must be positive")
        if self.group_factor < 1:
            raise ValueError("group factor must be at least 1")
        if min(self.max_inbox_bytes, self.max_inbox_items, self.max_db_bytes) <= 0:
            raise ValueError("storage limits must be positive")
        if self.max_inbox_item_bytes > self.max_inbox_bytes:
            raise ValueError("an inbox item may not exceed the inbox quota")
        if self.create_per_address_per_s < 0 or self.create_per_address_burst < 1:
            raise ValueError("per-address creation limit must be 0 (off) or positive")
        if not 1 <= self.work_min_bits <= self.work_max_bits <= 40:
            raise ValueError("work bits must satisfy 1 <= min <= max <= 40")
        if self.work_bucket_s <= 0 or self.work_allowance < 1:
            raise ValueError("work bucket and allowance must be positive")
        if self.work_key and (
            not 32 <= len(self.work_key) <= 128
            or len(self.work_key) % 2
            or any(c not in "0123456789abcdef" for c in self.work_key)
        ):
            raise ValueError("work key must be 32 to 128 lowercase hex digits")
        if not 0 <= self.port <= 65535 or not 0 <= self.metrics_port <= 65535:
            raise ValueError("port out of range")

    @property
    def retention_s(self) -> float:
        return self.retention_days * 86400.0
