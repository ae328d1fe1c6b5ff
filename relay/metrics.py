"""Prometheus metrics of one relay: counts and latencies, never an identifier.

Labels are the route *template* (``/v1/mailboxes/{id}/items``), the method and the
status code; no mailbox, inbox or blob id, capability or address is ever a label or a
value.  The metrics have their own registry (several relays can share a process, as in
tests) and are served on a separate listener, loopback by default (``serve``), so the
public port never answers them: traffic volume over time is itself metadata.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterator, Mapping
from itertools import accumulate
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from relay.backend import Backend

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


def stored_bytes(backend: Backend) -> float:
    """Bytes of items and blob chunks stored now (a short read-only connection)."""
    try:
        conn = backend.open_reader()
    except backend.failures:
        return float("nan")
    try:
        items = conn.execute("SELECT coalesce(sum(bytes_used), 0) FROM queues").fetchone()[0]
        blobs = conn.execute("SELECT coalesce(sum(bytes_used), 0) FROM blobs").fetchone()[0]
    except backend.failures:
        return float("nan")
    finally:
        conn.close()
    return float(items + blobs)


class _Latency:
    """One route's histogram: counts per bucket (not cumulative) and the sum."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last is +Inf
        self.total = 0.0


class _Series:
    """What one (handler, status) pair updates: its count, its route's histogram."""

    __slots__ = ("appends", "count", "latency")

    def __init__(self, latency: _Latency, appends: bool) -> None:
        self.count = 0
        self.latency = latency
        self.appends = appends


class RelayMetrics:
    """The relay's metrics; ``observe`` is called once per answered request.

    The hot path only bumps plain integers (one event-loop thread writes them); the
    Prometheus families are built from them when scraped (``collect``), so a request
    pays about a microsecond, not the locks of prometheus_client's own metric objects.
    A scrape may see one request counted but not yet timed: harmless for monitoring.
    """

    def __init__(
        self,
        routes: Mapping[Any, tuple[str, str]],
        waiting: Callable[[], float],
        stored: Callable[[], float],
    ) -> None:
        """``routes`` maps each handler to its (route template, method) labels."""
        self._routes = dict(routes)
        self._waiting = waiting
        self._stored = stored
        self._series: dict[tuple[Hashable, int], _Series] = {}
        self._labels: dict[tuple[Hashable, int], tuple[str, str, str]] = {}
        self._latencies: dict[tuple[str, str], _Latency] = {}
        self._appended = 0
        self._lock = threading.Lock()
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def observe(self, handler: Hashable | None, status: int, seconds: float) -> None:
        """Count one answer of ``handler`` (None: no route matched) taking ``seconds``."""
        series = self._series.get((handler, status))
        if series is None:
            series = self._bind(handler, status)
        series.count += 1
        latency = series.latency
        latency.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds
        if series.appends:
            self._appended += 1

    def _bind(self, handler: Hashable | None, status: int) -> _Series:
        route, method = self._routes.get(handler, _UNROUTED)
        with self._lock:
            latency = self._latencies.setdefault((route, method), _Latency())
            series = _Series(latency, (route, method) in APPEND_ROUTES and status < 300)
            self._labels[(handler, status)] = (route, method, str(status))
            self._series[(handler, status)] = series
        return series

    def collect(self) -> Iterator[Metric]:
        """The Prometheus families, built now (prometheus_client's collector protocol)."""
        with self._lock:
            series = [(self._labels[key], s.count) for key, s in self._series.items()]
            latencies = list(self._latencies.items())
        requests = CounterMetricFamily(
            "caucus_relay_requests",
            "HTTP requests answered, by route template, method and status",
            labels=["route", "method", "status"],
        )
        totals: dict[tuple[str, str, str], int] = {}
        for labels, count in series:
            totals[labels] = totals.get(labels, 0) + count
        for labels, count in sorted(totals.items()):
            requests.add_metric(list(labels), count)
        yield requests
        durations = HistogramMetricFamily(
            "caucus_relay_request_duration_seconds",
            "Time from routing to the answer (long-polls include their wait)",
            labels=["route", "method"],
        )
        for (route, method), latency in sorted(latencies, key=lambda item: item[0]):
            counts = list(latency.buckets)
            cumulative = list(accumulate(counts))
            bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
            durations.add_metric(
                [route, method], list(zip(bounds, cumulative, strict=True)), latency.total
            )
        yield durations
        appended = CounterMetricFamily(
            "caucus_relay_items_appended",
            "Items stored durably (mailbox items, commits, inbox items)",
        )
        appended.add_metric([], self._appended)
        yield appended
        yield GaugeMetricFamily(
            "caucus_relay_long_polls_waiting", "Fetches waiting for an item", self._waiting()
        )
        yield GaugeMetricFamily(
            "caucus_relay_stored_bytes",
            "Bytes of items and blob chunks stored (read at scrape time)",
            self._stored(),
        )


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
