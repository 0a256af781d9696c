"""Prometheus metrics: submit latency and MMSC answers per process, queue state from the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from alerts.dispatch.connectors.base import SubmitResult


class _Metrics:
    """Process-wide dispatch metrics (one registry per process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.submit_seconds = Histogram(
            "alertcast_submit_seconds",
            "MM7 SubmitReq round trip",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.mmsc_answers = Counter(
            "alertcast_mmsc_answers_total",
            "MMSC answers by MM7 status code and class",
            ["code", "classification"],
            registry=self.registry,
        )
        self.delivery_reports = Counter(
            "alertcast_delivery_reports_total",
            "Delivery reports processed by resulting state",
            ["state"],
            registry=self.registry,
        )
        self.breaker_state: Callable[[], str] = lambda: "closed"

    def observe_submit(self, seconds: float, result: SubmitResult) -> None:
        """Record one submit's latency and answer."""
        self.submit_seconds.observe(seconds)
        parts = result.parts or (result,)
        for part in parts:
            self.mmsc_answers.labels(str(part.status_code), part.classification.value).inc()


METRICS = _Metrics()


class QueueCollector(Collector):
    """Deliveries by state and queue depth, read from the database at scrape time."""

    def __init__(self, engine: Engine, breaker_state: Callable[[], str] | None = None) -> None:
        self.engine = engine
        self.breaker_state = breaker_state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the gauges."""
        by_state = GaugeMetricFamily(
            "alertcast_deliveries", "Deliveries by state", labels=["state"]
        )
        depth = GaugeMetricFamily("alertcast_queue_depth", "Deliveries waiting to be submitted")
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT state, count(*) FROM delivery GROUP BY state")
            ).all()
        counts = {str(s): int(n) for s, n in rows}
        for state, n in sorted(counts.items()):
            by_state.add_metric([state], n)
        depth.add_metric([], counts.get("queued", 0) + counts.get("claimed", 0))
        yield by_state
        yield depth
        if self.breaker_state is not None:
            breaker = GaugeMetricFamily(
                "alertcast_breaker_open", "1 when the MMSC link's breaker is open", labels=["state"]
            )
            breaker.add_metric([self.breaker_state()], 1.0)
            yield breaker


def exposition(extra: CollectorRegistry | None) -> bytes:
    """The text exposition of process metrics plus an app's registry."""
    body = generate_latest(METRICS.registry)
    return body + (generate_latest(extra) if extra is not None else b"")
