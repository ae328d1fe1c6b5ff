"""Prometheus metrics of one relay: counts and latencies, never an identifier.

Labels are the route *template* (``/v1/mailboxes/{id}/items``), the method and the
status code; no mailbox, inbox or blob id, capability or address is ever a label or a
value.  The metrics have their own registry (several relays can share a process, as in
tests) and are served on a separate listener, loopback by default (``serve``), so the
public port never answers them: traffic volume over time is itself metadata.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["APPEND_ROUTES", "LATENCY_BUCKETS", "MetricsServer", "RelayMetrics", "stored_bytes"]

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
APPEND_ROUTES = frozenset(
    {
        ("/v1/mailboxes/{id}/items", "POST"),
        ("/v1/mailboxes/{id}/commits", "POST"),
        ("/v1/inboxes/{id}/items", "POST"),
    }
)
"""Routes whose successful answer means one item was stored."""

_UNROUTED = ("unmatched", "other")


def stored_bytes(db_path: Path) -> float:
    """Bytes of items and blob chunks stored now (a short read-only connection)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5.0)
    try:
        items = conn.execute("SELECT coalesce(sum(bytes_used), 0) FROM queues").fetchone()[0]
        blobs = conn.execute("SELECT coalesce(sum(bytes_used), 0) FROM blobs").fetchone()[0]
    except sqlite3.Error:
        return float("nan")
    finally:
        conn.close()
    return float(items + blobs)


class RelayMetrics:
    """The relay's metrics; ``observe`` is called once per answered request."""

    def __init__(
        self,
        routes: Mapping[Any, tuple[str, str]],
        waiting: Callable[[], float],
        stored: Callable[[], float],
    ) -> None:
        """``routes`` maps each handler to its (route template, method) labels."""
        self.registry = CollectorRegistry()
        self._routes = dict(routes)
        self._requests = Counter(
            "caucus_relay_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "caucus_relay_request_duration_seconds",
            "Time from routing to the answer (long-polls include their wait)",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._appended = Counter(
            "caucus_relay_items_appended",
            "Items stored durably (mailbox items, commits, inbox items)",
            registry=self.registry,
        )
        waiting_gauge = Gauge(
            "caucus_relay_long_polls_waiting", "Fetches waiting for an item", registry=self.registry
        )
        waiting_gauge.set_function(waiting)
        stored_gauge = Gauge(
            "caucus_relay_stored_bytes",
            "Bytes of items and blob chunks stored (read at scrape time)",
            registry=self.registry,
        )
        stored_gauge.set_function(stored)
        # one bound child per (handler, status): a dict lookup on the hot path
        self._children: dict[tuple[Hashable, int], Callable[[float], None]] = {}
        self._lock = threading.Lock()

    def observe(self, handler: Hashable | None, status: int, seconds: float) -> None:
        """Count one answer of ``handler`` (None: no route matched) taking ``seconds``."""
        record = self._children.get((handler, status))
        if record is None:
            record = self._bind(handler, status)
        record(seconds)

    def _bind(self, handler: Hashable | None, status: int) -> Callable[[float], None]:
        route, method = self._routes.get(handler, _UNROUTED)
        count = self._requests.labels(route, method, str(status)).inc
        latency = self._latency.labels(route, method).observe
        appended = self._appended.inc if (route, method) in APPEND_ROUTES and status < 300 else None

        def record(seconds: float) -> None:
            count()
            latency(seconds)
            if appended is not None:
                appended()

        with self._lock:
            self._children[(handler, status)] = record
        return record


class MetricsServer:
    """The metrics listener: prometheus_client's small HTTP server in a daemon thread."""

    def __init__(self, metrics: RelayMetrics, host: str, port: int) -> None:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
        self._server: WSGIServer = server
        self._thread = thread

    @property
    def url(self) -> str:
        address = self._server.server_address
        host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{address[1]}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
