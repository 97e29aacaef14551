"""The alert sender's Prometheus metrics, served by the worker on `GERBANG_WORKER_METRICS_PORT`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.deliveries = Counter(
            "gerbang_alert_deliveries",
            "Alerts' delivery attempts by outcome (delivered, retry, failed, skipped).",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.undelivered = Gauge(
            "gerbang_alerts_undelivered",
            "Alerts waiting to be sent to Telegram (pending; while Telegram is not configured, all of them).",
            registry=self.registry,
        )
