"""Prometheus metrics, in a registry of the application's own (never the global one).

Counters and the histogram move as things happen in this process; the gauges (operators'
queue and how much of it is late, worker backlog, deliveries by state) are read from the
database at scrape time, so they hold for every process sharing the database. Work done by
a separate `atende worker` process is counted there, not here.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DELIVERY_STATES = ("pending", "sending", "sent", "delivered", "read", "failed")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "atende_http_requests",
            "HTTP requests answered, by route pattern, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "atende_webhooks",
            "Webhook calls, by channel and outcome (accepted, unauthenticated, rejected, failed).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.receipt_to_suggestion = Histogram(
            "atende_receipt_to_suggestion_seconds",
            "Time from a message's receipt to the end of its routing and suggestion step.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, float("inf")),
            registry=self.registry,
        )
        self.suggestions = Counter(
            "atende_suggestions",
            "Suggested answers, by event (made, approved, rejected).",
            ["event"],
            registry=self.registry,
        )
        self.deliveries = Gauge(
            "atende_deliveries",
            "Outbound message parts by delivery state (from the database).",
            ["state"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "atende_operator_queue_depth",
            "Messages not yet validated by a human (from the database).",
            registry=self.registry,
        )
        self.queue_late = Gauge(
            "atende_operator_queue_late",
            "Messages of the operators' queue with no answer yet, waiting longer than the "
            "response target (ATENDE_RESPONSE_TARGET_MINUTES; from the database).",
            registry=self.registry,
        )
        self.worker_backlog = Gauge(
            "atende_worker_backlog",
            "Messages waiting for embedding, routing or suggestion (from the database).",
            registry=self.registry,
        )
        for event in ("made", "approved", "rejected"):
            self.suggestions.labels(event)

    def triaged(self, elapsed_ms: float, *, suggested: bool) -> None:
        self.receipt_to_suggestion.observe(elapsed_ms / 1000.0)
        if suggested:
            self.suggestions.labels("made").inc()

    def suggestion(self, event: str) -> None:
        self.suggestions.labels(event).inc()

    def webhook(self, channel: str, status: int) -> None:
        if status < 400:
            outcome = "accepted"
        elif status in (401, 403):
            outcome = "unauthenticated"
        elif status < 500:
            outcome = "rejected"
        else:
            outcome = "failed"
        self.webhooks.labels(channel, outcome).inc()

    def observe_database(
        self,
        *,
        queue_depth: int,
        queue_late: int,
        worker_backlog: int,
        deliveries: dict[str, int],
    ) -> None:
        self.queue_depth.set(queue_depth)
        self.queue_late.set(queue_late)
        self.worker_backlog.set(worker_backlog)
        for state in DELIVERY_STATES:
            self.deliveries.labels(state).set(deliveries.get(state, 0))
