"""Prometheus metrics of the API: requests by route and status, events, Kafka send time.

One registry per application (not the process-global one), so two apps in one test
process do not share counters. Labels are bounded: the route template, never the URL.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ledger_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "ledger_http_request_seconds",
            "Time to answer a request, by route template.",
            ("route",),
            registry=self.registry,
        )
        self.events_received = Counter(
            "ledger_events_received",
            "Usage events received over HTTP, by how they came (events, xapi).",
            ("source",),
            registry=self.registry,
        )
        self.events_refused = Counter(
            "ledger_events_refused",
            "Usage events refused at once, by reason code.",
            ("reason",),
            registry=self.registry,
        )
        self.kafka_send_seconds = Histogram(
            "ledger_kafka_send_seconds",
            "Time until the broker acknowledged a request's batch (acks=all).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, metrics: ApiMetrics) -> None:
    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.monotonic()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        metrics.request_seconds.labels(route).observe(time.monotonic() - started)
        return response
