"""The outbox relay's Prometheus metrics, served by the worker on `GERBANG_WORKER_METRICS_PORT`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.published = Counter(
            "gerbang_outbox_published", "Outbox events the broker acknowledged and the relay marked published.",
            registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "gerbang_outbox_relay_errors",
            "Relay failures by stage: delivery (a message not acknowledged), topics (could not create them), "
            "broker (librdkafka reported the cluster unreachable or failing), database, relay (anything else).",
            ["stage"], registry=self.registry,
        )  # fmt: skip
        self.lag = Gauge(
            "gerbang_outbox_lag_seconds",
            "Age of the oldest unpublished outbox event (0 when every event is published).",
            registry=self.registry,
        )
