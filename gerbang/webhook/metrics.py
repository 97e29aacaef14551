"""The delivery worker's Prometheus metrics, served by the worker on `GERBANG_WORKER_METRICS_PORT`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_ATTEMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.attempts = Counter(
            "gerbang_webhook_attempts", "Webhook delivery attempts by outcome (delivered, retry, dead, gone).",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "gerbang_webhook_attempt_duration_seconds", "Time from sending a webhook to its answer (or giving up).",
            buckets=_ATTEMPT_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "gerbang_webhook_queue_depth", "Webhook events waiting to be delivered (due or not).",
            registry=self.registry,
        )  # fmt: skip
        self.oldest_pending_age = Gauge(
            "gerbang_webhook_oldest_pending_age_seconds",
            "How long the most overdue pending webhook event has been due (0 when none is).",
            registry=self.registry,
        )

    def record_attempt(self, outcome: str, seconds: float) -> None:
        self.attempts.labels(outcome).inc()
        self.latency.observe(seconds)
