"""Prometheus metrics. One registry per app, so several apps (tests) can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram

# Buckets for an API whose targets are in the tens of milliseconds.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # The garbage collector's passes per generation: a full one pauses the event loop (gerbang.kit.collector).
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "gerbang_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gerbang_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
